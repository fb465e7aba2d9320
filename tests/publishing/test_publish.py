"""Publishing: idempotent and race-free, rolling quotas, reading back, listing, deleting, permalinks."""

from __future__ import annotations

import contextlib
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.factories import ctx_of
from tests.publishing.helpers import Profile, create_text, error, get, make_profile, post, publish, text_post
from threadline.kit.clock import MovableClock
from threadline.publishing import service
from threadline.publishing.auth import resolve_token
from threadline.publishing.errors import GraphError
from threadline.store.models import ThreadsPost


@pytest.fixture
def alice(app: FastAPI) -> Profile:
    return make_profile(app, "alice")


def _race(app: FastAPI, p: Profile, creation_ids: list[str], workers: int) -> list[str]:
    """Publish every id from ``workers`` threads released at once; the ids or the Graph codes."""
    ctx = ctx_of(app)
    principal = resolve_token(ctx, p.token)
    parties = min(workers, len(creation_ids))
    barrier = threading.Barrier(parties)

    def one(index: int, cid: str) -> str:
        # Only the first round waits: every worker thread holds one of them, so all start at once. (Had
        # every call waited, a last round short of ``parties`` would sit out the whole timeout.)
        if index < parties:
            with contextlib.suppress(threading.BrokenBarrierError):
                barrier.wait(timeout=30)
        try:
            return service.publish(ctx, principal, "me", {"creation_id": cid})
        except GraphError as e:
            return f"code:{e.graph_code}"

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(one, range(len(creation_ids)), creation_ids))


def test_publish_is_idempotent(app: FastAPI, client: TestClient, alice: Profile) -> None:
    cid = create_text(client, alice)
    first = publish(client, alice, cid).json()["id"]
    again = publish(client, alice, cid).json()["id"]
    assert first == again
    assert get(client, "me/threads_publishing_limit", alice.token).json() == {"data": [{"quota_usage": 1}]}


def test_twenty_concurrent_publishes_make_one_post(app: FastAPI, alice: Profile, client: TestClient) -> None:
    cid = create_text(client, alice, "once")
    answers = _race(app, alice, [cid] * 20, workers=20)
    assert len(set(answers)) == 1
    assert answers[0].isdigit()
    with ctx_of(app).db.read() as s:
        assert s.query(ThreadsPost).filter(ThreadsPost.container_id == int(cid)).count() == 1
    assert get(client, "me/threads_publishing_limit", alice.token).json()["data"][0]["quota_usage"] == 1


def test_three_hundred_publishes_race_for_250_quota(app: FastAPI, alice: Profile, client: TestClient) -> None:
    ctx, principal = ctx_of(app), resolve_token(ctx_of(app), alice.token)
    ids = [
        service.create_container(ctx, principal, "me", {"media_type": "TEXT", "text": f"post {i}"})
        for i in range(300)
    ]
    answers = _race(app, alice, ids, workers=8)
    counts = Counter("ok" if a.isdigit() else a for a in answers)
    assert counts == {"ok": 250, "code:17": 50}
    with ctx_of(app).db.read() as s:
        assert s.query(ThreadsPost).filter(ThreadsPost.profile_id == int(alice.id)).count() == 250


def test_post_quota_rolls_over_24_hours(
    app: FastAPI, client: TestClient, alice: Profile, clock: MovableClock
) -> None:
    ctx_of(app).settings.threads_post_quota = 2
    text_post(client, alice, "1")
    clock.advance(3600)
    text_post(client, alice, "2")
    e = error(publish(client, alice, create_text(client, alice, "3")))
    assert e == {
        "message": "User request limit reached",
        "type": "THApiException",
        "code": 17,
        "is_transient": True,
        "fbtrace_id": e["fbtrace_id"],
    }
    clock.advance(86400 - 3600 + 1)  # the first post leaves the window
    fresh = create_text(client, alice, "4")
    assert publish(client, alice, fresh).status_code == 200


def test_replies_have_their_own_quota(app: FastAPI, client: TestClient, alice: Profile) -> None:
    settings = ctx_of(app).settings
    settings.threads_post_quota = 1
    settings.threads_reply_quota = 2
    root = text_post(client, alice, "root")
    for i in range(2):
        reply = text_post(client, alice, f"reply {i}", reply_to_id=root)
        got = get(client, reply, alice.token, fields="is_reply,replied_to,root_post").json()
        assert got == {"is_reply": True, "replied_to": {"id": root}, "root_post": {"id": root}, "id": reply}
    e = error(publish(client, alice, create_text(client, alice, "third", reply_to_id=root)))
    assert e["code"] == 17
    limit = get(
        client,
        "me/threads_publishing_limit",
        alice.token,
        fields="quota_usage,config,reply_quota_usage,reply_config,delete_quota_usage,delete_config",
    )
    assert limit.json() == {
        "data": [
            {
                "quota_usage": 1,
                "config": {"quota_total": 1, "quota_duration": 86400},
                "reply_quota_usage": 2,
                "reply_config": {"quota_total": 2, "quota_duration": 86400},
                "delete_quota_usage": 0,
                "delete_config": {"quota_total": 100, "quota_duration": 86400},
            }
        ]
    }
    assert get(client, root, alice.token, fields="has_replies").json()["has_replies"] is True
    # replies are not listed with the profile's threads
    assert [p["id"] for p in get(client, "me/threads", alice.token).json()["data"]] == [root]
    e = error(
        get(client, "me/threads_publishing_limit", alice.token, fields="quota_usage,search_quota_usage")
    )
    assert (
        e["message"]
        == "Tried accessing nonexisting field (search_quota_usage) on node type (ThreadsPublishingLimit)"
    )


def test_delete(app: FastAPI, client: TestClient, alice: Profile) -> None:
    ctx_of(app).settings.threads_delete_quota = 2
    a, b, c = (text_post(client, alice, t) for t in "abc")
    r = client.delete(f"/v1.0/{a}", params={"access_token": alice.token})
    assert r.status_code == 200
    assert r.json() == {"success": True, "deleted_id": a}
    for again in (
        client.delete(f"/v1.0/{a}", params={"access_token": alice.token}),
        get(client, a, alice.token),
    ):
        assert (error(again)["code"], error(again)["error_subcode"]) == (100, 33)
    assert [p["id"] for p in get(client, "me/threads", alice.token).json()["data"]] == [c, b]
    page = client.get(f"/@alice/post/{get(client, b, alice.token, fields='shortcode').json()['shortcode']}")
    assert page.status_code == 200
    cid = create_text(client, alice)
    e = error(client.delete(f"/v1.0/{cid}", params={"access_token": alice.token}))  # containers are not posts
    assert e["error_subcode"] == 33
    assert client.delete(f"/v1.0/{b}", headers={"Authorization": f"Bearer {alice.token}"}).status_code == 200
    e = error(client.delete(f"/v1.0/{c}", params={"access_token": alice.token}))
    assert e["code"] == 17
    assert get(client, "me/threads_publishing_limit", alice.token, fields="delete_quota_usage").json() == {
        "data": [{"delete_quota_usage": 2}]
    }


def test_list_paging_and_time_filters(
    app: FastAPI, client: TestClient, alice: Profile, clock: MovableClock
) -> None:
    start = int(clock.now())
    ids = []
    for i in range(7):
        ids.append(text_post(client, alice, f"p{i}"))
        clock.advance(10)
    newest_first = ids[::-1]
    r = get(client, "me/threads", alice.token, limit=3, fields="id,text,timestamp")
    body = r.json()
    assert [p["id"] for p in body["data"]] == newest_first[:3]
    assert set(body["paging"]) == {"cursors", "next"}
    seen = [p["id"] for p in body["data"]]
    while "next" in body["paging"]:
        nxt = body["paging"]["next"].replace("http://testserver", "")
        body = client.get(nxt).json()
        seen += [p["id"] for p in body["data"]]
    assert seen == newest_first
    # before walks back towards the newest
    second = get(
        client,
        "me/threads",
        alice.token,
        limit=3,
        after=get(client, "me/threads", alice.token, limit=3).json()["paging"]["cursors"]["after"],
    ).json()
    assert [p["id"] for p in second["data"]] == newest_first[3:6]
    back = get(
        client, "me/threads", alice.token, limit=3, before=second["paging"]["cursors"]["before"]
    ).json()
    assert [p["id"] for p in back["data"]] == newest_first[:3]
    # since / until (Unix seconds or ISO dates)
    window = get(client, "me/threads", alice.token, since=start + 15, until=start + 45).json()
    assert [p["id"] for p in window["data"]] == [ids[4], ids[3], ids[2]]
    assert get(client, "me/threads", alice.token, since="2000-01-01").status_code == 400
    assert len(get(client, "me/threads", alice.token, since="2023-07-06").json()["data"]) == 7
    for params, param in (
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"after": "x", "before": "y"}, "before"),
        ({"after": "!!!"}, "after"),
        ({"since": "yesterday"}, "since"),
    ):
        assert error(get(client, "me/threads", alice.token, **params))["message"].startswith(
            f"(#100) The parameter {param} "
        )
    assert len(get(client, "me/threads", alice.token, limit=100).json()["data"]) == 7
    empty = get(client, "me/threads", alice.token, since=start + 10_000).json()
    assert empty == {"data": [], "paging": {"cursors": {}}}


def test_media_object_fields(app: FastAPI, client: TestClient, alice: Profile) -> None:
    every = "id,media_product_type,media_type,media_url,permalink,owner,username,text,timestamp,shortcode,thumbnail_url,children,is_quote_post,quoted_post,alt_text,link_attachment_url,has_replies,is_reply,is_reply_owned_by_me,root_post,replied_to,hide_status,reply_audience,reposted_post,gif_url,poll_attachment,topic_tag,is_spoiler_media,text_entities,text_attachment,location_id"
    mid = text_post(client, alice, "Hello #Tour https://example.com", reply_control="mentioned_only")
    got = get(client, mid, alice.token, fields=every).json()
    assert got["reply_audience"] == "MENTIONED_ONLY"
    assert set(got) == {
        "id",
        "media_product_type",
        "media_type",
        "permalink",
        "owner",
        "username",
        "text",
        "timestamp",
        "shortcode",
        "is_quote_post",
        "link_attachment_url",
        "has_replies",
        "is_reply",
        "is_reply_owned_by_me",
        "root_post",
        "hide_status",
        "reply_audience",
        "topic_tag",
        "is_spoiler_media",
    }


def test_permalink_pages(client: TestClient, alice: Profile) -> None:
    poll = '{"option_a": "Tea", "option_b": "Coffee"}'
    mid = text_post(client, alice, "Morning <b>poll</b> #Breakfast", poll_attachment=poll)
    got = get(client, mid, alice.token, fields="permalink,shortcode").json()
    page = client.get(f"/@alice/post/{got['shortcode']}")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    html = page.text
    assert '<meta property="og:url" content="' + got["permalink"] + '">' in html
    assert "og:description" in html
    assert "Morning &lt;b&gt;poll&lt;/b&gt;" in html
    assert "Coffee" in html
    assert "#Breakfast" in html
    linked = text_post(client, alice, "read https://news.example/story")
    code = get(client, linked, alice.token, fields="shortcode").json()["shortcode"]
    assert 'href="https://news.example/story"' in client.get(f"/@alice/post/{code}").text
    for path in (f"/@bob/post/{got['shortcode']}", "/@alice/post/nothing", "/@" + "x" * 200 + "/post/a"):
        missing = client.get(path)
        assert missing.status_code == 404
        assert "isn't available" in missing.text


def test_five_hundred_is_graph_code_1(
    app: FastAPI, client: TestClient, alice: Profile, monkeypatch: pytest.MonkeyPatch
) -> None:
    def bug(*_a: Any) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(service, "read_node", bug)
    r = client.get("/v1.0/me", params={"access_token": alice.token})
    assert r.status_code == 500
    e = r.json()["error"]
    assert (e["code"], e["is_transient"], e["type"]) == (1, True, "THApiException")
    assert "a bug" not in r.text
    assert post(client, "me/threads", alice.token, media_type="TEXT", text="still fine").status_code == 200
