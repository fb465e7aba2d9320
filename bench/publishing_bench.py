"""Publishing figures (issue 10), against the real server process.

1. Create a TEXT container + publish it, one sequential client: p50 / p99 of the pair.
2. GET /v1.0/me/threads?limit=25 on a profile with 10,000 posts (first page and a deep keyset page).
3. An IMAGE container from a local origin (1 MB JPEG) to FINISHED with the in-server worker.

Usage: python -m bench.publishing_bench [--store sqlite|postgres] [--pairs 300] [--reads 500]
"""

from __future__ import annotations

import argparse
import http.server
import tempfile
import threading
import time
from pathlib import Path

import httpx
from tests.factories import seed_org

from bench.common import fresh_store, machine, percentiles, report, start_server
from bench.upload_bench import noise_image
from threadline.config import Settings
from threadline.context import build_context
from threadline.kit.clock import Clock
from threadline.kit.ids import new_graph_id
from threadline.publishing import accounts
from threadline.publishing.fields import shortcode
from threadline.publishing.schemas import ProfileCreate, TokenCreate
from threadline.store.models import ThreadsContainer, ThreadsPost

SCOPES = ["threads_basic", "threads_content_publish", "threads_delete"]


def seed(url: str, data_dir: Path, posts: int) -> tuple[str, str]:
    """Two profiles: one empty (publish bench), one with ``posts`` posts (list bench). Their tokens."""
    ctx = build_context(Settings(data_dir=data_dir, database_url=url))
    org = seed_org(ctx, "Publishing Bench", "", card=None)
    tokens = []
    for name in ("writer", "reader"):
        profile = accounts.create_profile(ctx, org.org.id, ProfileCreate(username=name))
        tok = accounts.create_token(ctx, profile.id, TokenCreate.model_validate({"scopes": SCOPES}))
        tokens.append((profile.id, tok.access_token))
    reader = int(tokens[1][0])
    clock = Clock()
    start = clock.now_s() - posts * 10
    with ctx.db.write() as s:  # bulk rows for the read figure: the publish path is measured by figure 1
        for i in range(posts):
            cid, mid = new_graph_id(clock.now()), new_graph_id(clock.now())
            s.add(
                ThreadsContainer(
                    id=cid,
                    profile_id=reader,
                    media_type="TEXT",
                    status="PUBLISHED",
                    options={"text": f"post {i}"},
                    children=[],
                    media_info={},
                    created_at=start + i * 10,
                    published_media_id=mid,
                )
            )
            s.add(
                ThreadsPost(
                    id=mid,
                    profile_id=reader,
                    container_id=cid,
                    media_type="TEXT_POST",
                    text=f"post {i} #bench",
                    shortcode=shortcode(mid),
                    attrs={"topic_tag": "bench"},
                    created_at=start + i * 10,
                )
            )
    ctx.db.dispose()
    return tokens[0][1], tokens[1][1]


def timed(fn: object, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()  # type: ignore[operator]
        out.append((time.perf_counter() - t0) * 1000)
    return out


class _Origin(http.server.BaseHTTPRequestHandler):
    body = b""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "image/jpeg")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: object) -> None:
        pass


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--pairs", type=int, default=300)
    parser.add_argument("--reads", type=int, default=500)
    parser.add_argument("--posts", type=int, default=10_000)
    parser.add_argument("--images", type=int, default=20)
    args = parser.parse_args()
    print(f"# machine: {machine()}")
    _Origin.body = noise_image("JPEG", 1_000_000)
    origin = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Origin)
    threading.Thread(target=origin.serve_forever, daemon=True).start()
    with fresh_store(args.store) as url:
        data_dir = Path(tempfile.mkdtemp(prefix="threadline-bench-publishing-"))
        writer, reader = seed(url, data_dir, args.posts)
        server = start_server(
            url,
            data_dir,
            THREADLINE_THREADS_CALLS_PER_HOUR="1000000000",
            THREADLINE_THREADS_POST_QUOTA="1000000000",
            THREADLINE_ALLOW_PRIVATE_FETCH_HOSTS="127.0.0.1",
            THREADLINE_JOBS_POLL_SECONDS="0.01",
        )
        try:
            with httpx.Client(base_url=server.base_url + "/v1.0", timeout=30) as api:

                def pair() -> None:
                    r = api.post(
                        "/me/threads",
                        data={"media_type": "TEXT", "text": "Hello #bench", "access_token": writer},
                    )
                    p = api.post(
                        "/me/threads_publish", data={"creation_id": r.json()["id"], "access_token": writer}
                    )
                    assert p.status_code == 200, p.text

                def bare_pair() -> None:
                    api.post(server.base_url + "/bench/bare-json")
                    api.post(server.base_url + "/bench/bare-json")

                timed(bare_pair, 20)
                stats = percentiles(timed(bare_pair, args.pairs))
                report(
                    "baseline_two_bare_posts",
                    p50_ms=round(stats["p50_ms"], 2),
                    p99_ms=round(stats["p99_ms"], 2),
                )
                timed(pair, 20)  # warm up
                stats = percentiles(timed(pair, args.pairs))
                report(
                    "text_create_publish",
                    store=args.store,
                    pairs=args.pairs,
                    p50_ms=round(stats["p50_ms"], 2),
                    p99_ms=round(stats["p99_ms"], 2),
                    target_p50_ms=10,
                )

                params = {
                    "limit": "25",
                    "access_token": reader,
                    "fields": "id,text,timestamp,media_type,permalink",
                }
                first = api.get("/me/threads", params=params).json()
                assert len(first["data"]) == 25
                timed(lambda: api.get("/me/threads", params=params), 20)
                stats = percentiles(timed(lambda: api.get("/me/threads", params=params), args.reads))
                report(
                    "list_first_page",
                    store=args.store,
                    posts=args.posts,
                    p50_ms=round(stats["p50_ms"], 2),
                    p99_ms=round(stats["p99_ms"], 2),
                    target_p99_ms=15,
                )
                cursor = first["paging"]["cursors"]["after"]
                for _ in range(200):  # walk to the middle of the list: keyset pages cost the same
                    cursor = api.get("/me/threads", params={**params, "after": cursor}).json()["paging"][
                        "cursors"
                    ]["after"]
                deep = {**params, "after": cursor}
                stats = percentiles(timed(lambda: api.get("/me/threads", params=deep), args.reads))
                report(
                    "list_page_5000_deep",
                    store=args.store,
                    p50_ms=round(stats["p50_ms"], 2),
                    p99_ms=round(stats["p99_ms"], 2),
                    target_p99_ms=15,
                )

                image_url = f"http://127.0.0.1:{origin.server_address[1]}/photo.jpg"
                samples = []
                for _ in range(args.images):
                    t0 = time.perf_counter()
                    cid = api.post(
                        "/me/threads",
                        data={"media_type": "IMAGE", "image_url": image_url, "access_token": writer},
                    ).json()["id"]
                    while True:
                        got = api.get(f"/{cid}", params={"fields": "status", "access_token": writer}).json()
                        if got["status"] != "IN_PROGRESS":
                            assert got["status"] == "FINISHED", got
                            break
                        time.sleep(0.005)
                    samples.append((time.perf_counter() - t0) * 1000)
                stats = percentiles(samples)
                report(
                    "image_1mb_to_finished",
                    store=args.store,
                    images=args.images,
                    p50_ms=round(stats["p50_ms"], 1),
                    p99_ms=round(stats["p99_ms"], 1),
                    target_p50_ms=500,
                )
        finally:
            server.stop()
            origin.shutdown()


if __name__ == "__main__":
    main()
