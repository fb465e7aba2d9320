"""Quote posts, reposts (REPOST_FACADE) and their originals' deletion; ghost posts expiring by a job."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.factories import ctx_of, run_jobs
from tests.publishing.helpers import Profile, error, get, make_profile, post, text_post
from threadline.kit.clock import MovableClock
from threadline.kit.jobs import QUEUED
from threadline.publishing.jobs import EXPIRE_GHOST
from threadline.store.models import JobRecord, ThreadsPost


@pytest.fixture
def alice(app: FastAPI) -> Profile:
    return make_profile(app, "alice")


@pytest.fixture
def bob(app: FastAPI) -> Profile:
    return make_profile(app, "bob")


def test_quote_post(client: TestClient, alice: Profile, bob: Profile) -> None:
    original = text_post(client, alice, "original")
    quote = text_post(client, bob, "so true", quote_post_id=original)
    fields = "is_quote_post,quoted_post,text"
    assert get(client, quote, bob.token, fields=fields).json() == {
        "id": quote,
        "is_quote_post": True,
        "quoted_post": {"id": original},
        "text": "so true",
    }
    assert get(client, original, alice.token, fields="is_quote_post").json()["is_quote_post"] is False
    # Deleting the original keeps the quote (its own text) and drops the dangling pointer.
    client.delete(f"/v1.0/{original}", params={"access_token": alice.token})
    assert get(client, quote, bob.token, fields=fields).json() == {
        "id": quote,
        "is_quote_post": True,
        "text": "so true",
    }
    body = error(post(client, "me/threads", bob.token, media_type="TEXT", text="x", quote_post_id=original))
    assert body["message"] == "(#100) The parameter quote_post_id does not name an existing post"
    ghost = text_post(client, alice, "boo", is_ghost_post="true")
    body = error(post(client, "me/threads", bob.token, media_type="TEXT", text="x", quote_post_id=ghost))
    assert body["message"] == "(#100) The parameter quote_post_id names a ghost post, which cannot be quoted"


def test_repost(client: TestClient, alice: Profile, bob: Profile) -> None:
    original = text_post(client, alice, "worth sharing")
    r = post(client, f"{original}/repost", bob.token)
    assert r.status_code == 200, r.text
    repost_id = r.json()["id"]
    assert set(r.json()) == {"id"}
    assert post(client, f"{original}/repost", bob.token).json() == {"id": repost_id}  # one per original
    # A repost of the repost reposts the original.
    assert post(client, f"{repost_id}/repost", bob.token).json() == {"id": repost_id}
    got = get(client, repost_id, bob.token, fields="media_type,reposted_post,text").json()
    assert got == {"id": repost_id, "media_type": "REPOST_FACADE", "reposted_post": {"id": original}}
    listed = get(client, "me/threads", bob.token, fields="media_type").json()["data"]
    assert listed == [{"id": repost_id, "media_type": "REPOST_FACADE"}]
    assert get(client, "me/threads_publishing_limit", bob.token).json() == {"data": [{"quota_usage": 1}]}
    # Replies go to the original, not the facade.
    body = error(post(client, "me/threads", alice.token, media_type="TEXT", text="x", reply_to_id=repost_id))
    assert body["message"] == "(#100) The parameter reply_to_id names a repost; reply to the original post"
    # Deleting the original takes its reposts with it.
    client.delete(f"/v1.0/{original}", params={"access_token": alice.token})
    assert error(get(client, repost_id, bob.token))["error_subcode"] == 33
    assert get(client, "me/threads", bob.token).json()["data"] == []
    assert error(post(client, f"{original}/repost", bob.token))["error_subcode"] == 33
    assert error(post(client, "12/repost", bob.token))["error_subcode"] == 33


def test_repost_scope(app: FastAPI, client: TestClient, alice: Profile, bob: Profile) -> None:
    from tests.publishing.helpers import mint

    original = text_post(client, alice, "x")
    basic = mint(app, bob.id, ["threads_basic"])
    assert error(post(client, f"{original}/repost", basic))["code"] == 10


def test_ghost_post_expires_by_job(
    app: FastAPI, client: TestClient, clock: MovableClock, alice: Profile
) -> None:
    ghost = text_post(client, alice, "boo", is_ghost_post="true")
    normal = text_post(client, alice, "stays")
    fields = "ghost_post_status,ghost_post_expiration_timestamp"
    got = get(client, ghost, alice.token, fields=fields).json()
    assert got["ghost_post_status"] == "ACTIVE"
    created = get(client, ghost, alice.token, fields="timestamp").json()["timestamp"]
    assert got["ghost_post_expiration_timestamp"] > created
    ctx = ctx_of(app)
    with ctx.db.read() as s:
        job = s.query(JobRecord).filter(JobRecord.kind == EXPIRE_GHOST).one()
        assert job.state == QUEUED
        # From the post's own creation time: the clock ticks, so now_s() here may be a second later.
        row = s.get(ThreadsPost, int(ghost))
        assert row is not None
        assert job.run_at == row.ghost_expires_at == row.created_at + 86400
    assert run_jobs(app) == 0  # not due yet
    assert [d["id"] for d in get(client, "me/threads", alice.token).json()["data"]] == [normal, ghost]
    clock.advance(86400)
    ran_at = clock.now_s()
    assert run_jobs(app) == 1
    with ctx.db.read() as s:
        archived = s.get(ThreadsPost, int(ghost))
        assert archived is not None
        assert ran_at <= archived.ghost_archived_at <= clock.now_s()
    assert [d["id"] for d in get(client, "me/threads", alice.token).json()["data"]] == [normal]
    assert (
        get(client, ghost, alice.token, fields="ghost_post_status").json()["ghost_post_status"] == "ARCHIVED"
    )
    code = get(client, ghost, alice.token, fields="shortcode").json()["shortcode"]
    assert client.get(f"/@alice/post/{code}").status_code == 404
    assert "ghost_post_status" not in get(client, normal, alice.token, fields="ghost_post_status").json()
