"""Conversation figures (issue 12), against the real server process.

1. GET /v1.0/{root}/conversation over a 1,000-reply tree: the default page (25), a full page (100) and
   a deep keyset page; and the subtree conversation of a reply near the top (one query for the tree's
   (id, parent) pairs, then one for the page). Target p99 <= 30 ms.
2. The permalink page of a post with 100 threaded replies (and a poll), p50 / p99; every request counts
   its view (INSERT ... ON CONFLICT DO NOTHING: one visitor cookie here, so one view per hour).
Baseline: a bare JSON endpoint in the same run, so the figures read as ratios on a busy machine.

Usage: python -m bench.social_bench [--store sqlite|postgres] [--reads 500]
"""

from __future__ import annotations

import argparse
import random
import tempfile
from pathlib import Path

import httpx
from tests.factories import seed_org

from bench.common import fresh_store, machine, percentiles, report, start_server
from bench.publishing_bench import timed
from threadline.config import Settings
from threadline.context import build_context
from threadline.kit.clock import Clock
from threadline.kit.ids import new_graph_id
from threadline.publishing import accounts
from threadline.publishing.fields import shortcode
from threadline.publishing.schemas import ProfileCreate, TokenCreate
from threadline.store.models import ThreadsPost

SCOPES = ["threads_basic", "threads_content_publish", "threads_read_replies", "threads_manage_replies"]
FIELDS = "id,text,timestamp,username,replied_to,root_post,has_replies,hide_status"


def _post(
    profile_id: int, i: int, at: int, attrs: dict[str, object] | None = None, **extra: object
) -> ThreadsPost:
    clock = Clock()
    mid = new_graph_id(clock.now())
    return ThreadsPost(
        id=mid,
        profile_id=profile_id,
        container_id=mid,
        media_type="TEXT_POST",
        text=f"message {i}",
        shortcode=shortcode(mid),
        attrs=attrs or {},
        created_at=at,
        **extra,
    )


def seed(url: str, data_dir: Path, replies: int, page_replies: int) -> tuple[str, int, int, int]:
    """A 1,000-reply tree (random parents, so it is deep and wide) and a 100-reply poll post.

    Rows are written directly: the publish path has its own figures; this one measures reads.
    """
    ctx = build_context(Settings(data_dir=data_dir, database_url=url))
    org = seed_org(ctx, "Social Bench", "", card=None)
    owner = accounts.create_profile(ctx, org.org.id, ProfileCreate(username="owner"))
    fan = accounts.create_profile(ctx, org.org.id, ProfileCreate(username="fan"))
    tok = accounts.create_token(ctx, owner.id, TokenCreate.model_validate({"scopes": SCOPES}))
    rng = random.Random(12)
    start = Clock().now_s() - 100_000
    people = [int(owner.id), int(fan.id)]
    with ctx.db.write() as s:
        root = _post(people[0], 0, start)
        s.add(root)
        tree = [root.id]
        for i in range(replies):
            parent = tree[rng.randrange(len(tree))] if i > 10 else root.id
            reply = _post(people[i % 2], i, start + i, reply_to_id=parent, root_id=root.id)
            s.add(reply)
            tree.append(reply.id)
        near_top = tree[3]
        poll = {"option_a": "Yes", "option_b": "No"}
        page = _post(people[0], 0, start, attrs={"poll_attachment": poll})
        s.add(page)
        threads = [page.id]
        for i in range(page_replies):
            parent = threads[rng.randrange(len(threads))]
            reply = _post(people[i % 2], i, start + i, reply_to_id=parent, root_id=page.id)
            s.add(reply)
            threads.append(reply.id)
    ctx.db.dispose()
    return tok.access_token, root.id, near_top, page.id


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--reads", type=int, default=500)
    parser.add_argument("--replies", type=int, default=1000)
    parser.add_argument("--page-replies", type=int, default=100)
    args = parser.parse_args()
    print(f"# machine: {machine()}")
    with fresh_store(args.store) as url:
        data_dir = Path(tempfile.mkdtemp(prefix="threadline-bench-social-"))
        token, root, near_top, page_post = seed(url, data_dir, args.replies, args.page_replies)
        server = start_server(url, data_dir, THREADLINE_THREADS_CALLS_PER_HOUR="1000000000")
        try:
            with httpx.Client(base_url=server.base_url, timeout=30) as api:
                timed(lambda: api.post("/bench/bare-json"), 20)
                stats = percentiles(timed(lambda: api.post("/bench/bare-json"), args.reads))
                report(
                    "baseline_bare_post", p50_ms=round(stats["p50_ms"], 2), p99_ms=round(stats["p99_ms"], 2)
                )

                def figure(
                    name: str, path: str, params: dict[str, str], **extra: object
                ) -> dict[str, object]:
                    r = api.get(path, params=params)
                    assert r.status_code == 200, r.text
                    timed(lambda: api.get(path, params=params), 20)
                    stats = percentiles(timed(lambda: api.get(path, params=params), args.reads))
                    report(
                        name,
                        store=args.store,
                        p50_ms=round(stats["p50_ms"], 2),
                        p99_ms=round(stats["p99_ms"], 2),
                        **extra,
                    )
                    body: dict[str, object] = r.json() if "json" in r.headers["content-type"] else {}
                    return body

                base = {"access_token": token, "fields": FIELDS}
                convo = f"/v1.0/{root}/conversation"
                figure("conversation_1000_default_page", convo, base, replies=args.replies, target_p99_ms=30)
                full = figure(
                    "conversation_1000_page_100",
                    convo,
                    {**base, "limit": "100"},
                    replies=args.replies,
                    target_p99_ms=30,
                )
                cursor = full["paging"]["cursors"]["after"]  # type: ignore[index]
                for _ in range(4):
                    cursor = api.get(convo, params={**base, "limit": "100", "after": cursor}).json()[
                        "paging"
                    ]["cursors"]["after"]
                figure(
                    "conversation_1000_page_100_deep",
                    convo,
                    {**base, "limit": "100", "after": cursor},
                    replies=args.replies,
                    target_p99_ms=30,
                )
                figure(
                    "conversation_subtree_of_reply",
                    f"/v1.0/{near_top}/conversation",
                    {**base, "limit": "100"},
                    replies=args.replies,
                    target_p99_ms=30,
                )
                code = shortcode(page_post)
                html = api.get(f"/@owner/post/{code}").text
                assert html.count('class="reply"') == args.page_replies, "every reply is on the page"
                figure("permalink_page_100_replies", f"/@owner/post/{code}", {}, replies=args.page_replies)
        finally:
            server.stop()


if __name__ == "__main__":
    main()
