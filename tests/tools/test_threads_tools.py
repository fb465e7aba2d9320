"""Threads tools and the `threads` connected accounts, through publishing's service functions."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.factories import ctx_of, run_jobs
from tests.publishing.helpers import Profile, get, make_profile
from tests.publishing.origin import Origin, image_bytes, origin_server
from tests.tools.conftest import ToolOrg, call, tool_org
from threadline.kit.clock import MovableClock
from threadline.publishing import scheduled
from threadline.store.models import JobRecord, ThreadsScheduledPost, ToolCall
from threadline.tools import repository as tools_repo

DAY = 86400


@pytest.fixture
def origin() -> Iterator[Origin]:
    with origin_server() as o:
        yield o


@pytest.fixture
def alice(app: FastAPI, org: ToolOrg) -> Profile:
    return make_profile(app, "alice", org_id=org.id)


def ok(r: Any) -> dict[str, Any]:
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    assert body["success"] is True
    return body["data"]


def err(r: Any, status: int = 400) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body: dict[str, Any] = r.json()
    assert body["success"] is False
    assert body["is_error"] is True
    return body


def iso(ts: float) -> str:
    import time

    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


# --------------------------------------------------------------------------------- connected accounts


def test_profiles_are_connected_threads_accounts(client: TestClient, org: ToolOrg, alice: Profile) -> None:
    data = ok(call(client, "list_connected_accounts", {"platform": "threads"}, org.headers))
    assert data["structured"]["accounts"] == [
        {
            "platform": "threads",
            "account_id": alice.id,
            "name": "@alice",
            "active": True,
            "selector": "profile_id",
        }
    ]
    status = ok(call(client, "get_connections_status", {}, org.headers))["structured"]["platforms"]
    assert {"platform": "threads", "status": "connected", "connected": 1, "active": 1} in status


def test_no_profile_says_how_to_connect(client: TestClient, org: ToolOrg) -> None:
    body = err(call(client, "list_threads_posts", {}, org.headers))
    assert body["error"] == (
        "No threads profile is connected. An operator creates one with POST /admin/v1/orgs/{org_id}/profiles "
        '{"username": "..."} (or `threadline profiles create`); it is connected at once.'
    )


def test_two_active_profiles_need_the_selector(
    app: FastAPI, client: TestClient, org: ToolOrg, alice: Profile
) -> None:
    bob = make_profile(app, "bob", org_id=org.id)
    body = err(call(client, "publish_threads_post", {"text": "hi"}, org.headers))
    assert body["error"] == (
        "You have 2 threads accounts connected. Please specify which account to use by passing the profile_id "
        f'parameter:\n  - @alice (profile_id="{alice.id}")\n  - @bob (profile_id="{bob.id}")'
    )
    assert [a["account_id"] for a in body["structured_content"]["accounts"]] == [alice.id, bob.id]
    # Nothing ran, nothing charged.
    assert ok(call(client, "get_usage_status", {}, org.headers))["structured"]["used"] == 0
    # The selector picks one; making one primary removes the need for it.
    assert ok(call(client, "publish_threads_post", {"text": "hi", "profile_id": bob.id}, org.headers))[
        "structured"
    ]["published"]
    ok(call(client, "switch_primary_account", {"platform": "threads", "account_id": alice.id}, org.headers))
    data = ok(call(client, "publish_threads_post", {"text": "from alice"}, org.headers))
    assert data["structured"]["profile_id"] == alice.id


def test_a_profile_of_another_org_is_not_selectable(
    app: FastAPI, client: TestClient, org: ToolOrg, alice: Profile
) -> None:
    other = tool_org(app, "Other Inc.")
    mallory = make_profile(app, "mallory", org_id=other.id)
    body = err(call(client, "list_threads_posts", {"profile_id": mallory.id}, org.headers))
    assert body["error"] == (
        f'No threads account with profile_id="{mallory.id}" is connected. Call list_connected_accounts to see '
        "the connected accounts."
    )


# ------------------------------------------------------------------------------------------- publish


def test_publish_a_text_post(client: TestClient, org: ToolOrg, alice: Profile) -> None:
    data = ok(
        call(
            client,
            "publish_threads_post",
            {"text": "Hello from an agent", "topic_tag": "Agents", "poll_options": ["yes", "no"]},
            org.headers,
        )
    )
    s = data["structured"]
    assert s["published"] is True
    assert s["status"] == "PUBLISHED"
    assert s["profile_id"] == alice.id
    assert s["post"]["text"] == "Hello from an agent"
    assert s["post"]["topic_tag"] == "Agents"
    assert s["post_id"] in data["text"]
    assert data["quota"]["used"] == 1
    # The post is the profile's own, as the Graph API sees it.
    got = get(client, s["post_id"], alice.token, fields="text,poll_attachment").json()
    assert got["text"] == "Hello from an agent"
    assert got["poll_attachment"]["option_a"] == "yes"


def test_publish_an_image_that_is_still_processing_then_by_container(
    app: FastAPI, client: TestClient, org: ToolOrg, alice: Profile, origin: Origin
) -> None:
    url = origin.add("/cat.jpg", image_bytes("JPEG", (100, 80)), "image/jpeg")
    data = ok(
        call(
            client,
            "publish_threads_post",
            {"image_url": url, "alt_text": "a cat", "wait_seconds": 0},
            org.headers,
        )
    )
    s = data["structured"]
    assert s == {
        "published": False,
        "status": "IN_PROGRESS",
        "container_id": s["container_id"],
        "profile_id": alice.id,
    }
    assert f'container_id="{s["container_id"]}"' in data["text"]
    assert run_jobs(app) == 1
    done = ok(call(client, "publish_threads_post", {"container_id": s["container_id"]}, org.headers))[
        "structured"
    ]
    assert done["published"] is True
    assert done["post"]["media_type"] == "IMAGE"
    # Publishing the same container again answers the same post (Graph publishes a container once).
    again = ok(call(client, "publish_threads_post", {"container_id": s["container_id"]}, org.headers))[
        "structured"
    ]
    assert again["post_id"] == done["post_id"]


def test_publish_a_carousel(
    app: FastAPI, client: TestClient, org: ToolOrg, alice: Profile, origin: Origin
) -> None:
    a = origin.add("/a.png", image_bytes("PNG", (60, 60)), "image/png")
    b = origin.add("/b.jpg", image_bytes("JPEG", (60, 60)), "image/jpeg")
    args = {
        "text": "two",
        "carousel": [{"image_url": a, "alt_text": "A"}, {"image_url": b}],
        "wait_seconds": 0,
    }
    s = ok(call(client, "publish_threads_post", args, org.headers))["structured"]
    assert s["status"] == "IN_PROGRESS"
    assert run_jobs(app) == 2
    done = ok(call(client, "publish_threads_post", {"container_id": s["container_id"]}, org.headers))[
        "structured"
    ]
    assert done["post"]["media_type"] == "CAROUSEL_ALBUM"


def test_media_that_fails_processing_is_a_tool_error(
    app: FastAPI, client: TestClient, org: ToolOrg, alice: Profile, origin: Origin
) -> None:
    url = origin.add("/not-an-image.jpg", b"plain text", "image/jpeg")
    s = ok(call(client, "publish_threads_post", {"image_url": url, "wait_seconds": 0}, org.headers))[
        "structured"
    ]
    run_jobs(app)
    body = err(call(client, "publish_threads_post", {"container_id": s["container_id"]}, org.headers))
    assert body["error"].startswith(f"The media of container {s['container_id']} could not be processed: ")
    assert body["structured_content"]["container"]["status"] == "ERROR"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({}, "pass the post's content (text, image_url, video_url or carousel) or container_id"),
        (
            {"text": "x", "container_id": "123"},
            "container_id publishes an existing container: pass no other content with it",
        ),
        (
            {"image_url": "https://x.example/a.jpg", "video_url": "https://x.example/a.mp4"},
            "pass at most one of image_url, video_url or carousel (got image_url, video_url)",
        ),
        ({"image_url": "ftp://x.example/a.jpg"}, "image_url: must be an absolute http(s) URL with a host"),
        (
            {"carousel": [{"image_url": "https://x.example/a.jpg"}]},
            "carousel: List should have at least 2 items after validation, not 1",
        ),
        (
            {"text": "x", "poll_options": ["only"]},
            "poll_options: List should have at least 2 items after validation, not 1",
        ),
        ({"text": "x", "wait_seconds": 61}, "wait_seconds: Input should be less than or equal to 60"),
        ({"text": 5}, "text: Input should be a valid string"),
        ({"text": "x", "colour": "red"}, "Unknown argument: colour"),
    ],
)
def test_bad_arguments(
    client: TestClient, org: ToolOrg, alice: Profile, arguments: dict[str, Any], message: str
) -> None:
    body = err(call(client, "publish_threads_post", arguments, org.headers))
    assert message in body["error"]


def test_publishing_rules_are_tool_errors_and_free(client: TestClient, org: ToolOrg, alice: Profile) -> None:
    body = err(call(client, "publish_threads_post", {"text": "x" * 501}, org.headers))
    assert (
        body["error"]
        == "text: (#100) The parameter text must be at most 500 characters (an emoji counts as its UTF-8 bytes)"
    )
    body = err(call(client, "publish_threads_post", {"text": "x", "reply_to_id": "123"}, org.headers))
    assert body["error"] == "reply_to_id: (#100) The parameter reply_to_id does not name an existing post"
    assert ok(call(client, "get_usage_status", {}, org.headers))["structured"]["used"] == 0


def test_reply_to_a_post(client: TestClient, org: ToolOrg, alice: Profile) -> None:
    first = ok(call(client, "publish_threads_post", {"text": "first"}, org.headers))["structured"]["post_id"]
    reply = ok(call(client, "publish_threads_post", {"text": "reply", "reply_to_id": first}, org.headers))[
        "structured"
    ]
    assert reply["post"]["is_reply"] is True


# ------------------------------------------------------------------------------ list, limit, delete


def test_list_posts_pages(client: TestClient, org: ToolOrg, alice: Profile) -> None:
    ids = [
        ok(call(client, "publish_threads_post", {"text": f"post {n}"}, org.headers))["structured"]["post_id"]
        for n in range(3)
    ]
    page = ok(call(client, "list_threads_posts", {"limit": 2}, org.headers))
    s = page["structured"]
    assert [p["id"] for p in s["posts"]] == ids[::-1][:2]
    assert s["next_after"]
    assert f'after="{s["next_after"]}"' in page["text"]
    assert s["scheduled"] == []
    rest = ok(call(client, "list_threads_posts", {"limit": 2, "after": s["next_after"]}, org.headers))[
        "structured"
    ]
    assert [p["id"] for p in rest["posts"]] == [ids[0]]
    assert rest["next_after"] is None


def test_publishing_limit(client: TestClient, org: ToolOrg, alice: Profile) -> None:
    ok(call(client, "publish_threads_post", {"text": "one"}, org.headers))
    data = ok(call(client, "get_threads_publishing_limit", {}, org.headers))
    s = data["structured"]
    assert s["profile_id"] == alice.id
    assert s["quota_usage"] == 1
    assert s["config"] == {"quota_total": 250, "quota_duration": 86400}
    assert s["reply_quota_usage"] == 0
    assert s["delete_quota_usage"] == 0
    assert data["text"] == "@alice in the last 24 h: 1/250 posts, 0/1000 replies, 0/100 deletions."


def test_delete_a_post(app: FastAPI, client: TestClient, org: ToolOrg, alice: Profile) -> None:
    post_id = ok(call(client, "publish_threads_post", {"text": "oops"}, org.headers))["structured"]["post_id"]
    data = ok(call(client, "delete_threads_post", {"post_id": post_id}, org.headers))
    assert data["structured"] == {"deleted": True, "post_id": post_id, "profile_id": alice.id}
    body = err(call(client, "delete_threads_post", {"post_id": post_id}, org.headers))
    assert body["error"] == (
        f"Unsupported request - Object with ID '{post_id}' does not exist, cannot be loaded due to missing "
        "permissions, or does not support this operation"
    )
    # Another org's post is unknown to this profile.
    other = tool_org(app, "Other Inc.")
    make_profile(app, "mallory", org_id=other.id)
    theirs = ok(call(client, "publish_threads_post", {"text": "mine"}, other.headers))["structured"][
        "post_id"
    ]
    err(call(client, "delete_threads_post", {"post_id": theirs}, org.headers))
    assert (
        ok(call(client, "get_threads_publishing_limit", {}, org.headers))["structured"]["delete_quota_usage"]
        == 1
    )


# ------------------------------------------------------------------------------------------ schedule


def _schedules(app: FastAPI) -> list[ThreadsScheduledPost]:
    with ctx_of(app).db.read() as s:
        return list(s.execute(select(ThreadsScheduledPost)).scalars())


def _jobs(app: FastAPI) -> list[JobRecord]:
    with ctx_of(app).db.read() as s:
        return [j for j in s.execute(select(JobRecord)).scalars() if j.kind == scheduled.PUBLISH_SCHEDULED]


def _schedule(client: TestClient, org: ToolOrg, publish_at: float, **post: Any) -> str:
    """Schedule a post through the tool and return its schedule_id."""
    data = ok(call(client, "schedule_threads_post", {**post, "publish_at": iso(publish_at)}, org.headers))
    sid: str = data["structured"]["schedule_id"]
    return sid


def test_schedule_publishes_at_the_time(
    app: FastAPI, client: TestClient, clock: MovableClock, org: ToolOrg, alice: Profile
) -> None:
    at = clock.now() + 3600
    data = ok(call(client, "schedule_threads_post", {"text": "later", "publish_at": iso(at)}, org.headers))
    s = data["structured"]
    assert s["status"] == "scheduled"
    assert s["publish_at"] == int(at)
    assert s["post"] == {"text": "later"}
    assert s["schedule_id"] in data["text"]
    [job] = _jobs(app)
    assert job.run_at == int(at)
    assert job.payload == {"schedule_id": s["schedule_id"]}
    listed = ok(call(client, "list_threads_posts", {}, org.headers))["structured"]
    assert [x["schedule_id"] for x in listed["scheduled"]] == [s["schedule_id"]]
    assert run_jobs(app) == 0  # not due yet
    clock.advance(3600)
    assert run_jobs(app) == 1
    [row] = _schedules(app)
    assert row.status == "published"
    assert row.post_id
    listed = ok(call(client, "list_threads_posts", {}, org.headers))["structured"]
    assert listed["scheduled"] == []
    assert [p["id"] for p in listed["posts"]] == [row.post_id]
    assert listed["posts"][0]["text"] == "later"


def test_schedule_cancel(
    app: FastAPI, client: TestClient, clock: MovableClock, org: ToolOrg, alice: Profile
) -> None:
    sid = _schedule(client, org, clock.now() + 60, text="never")
    data = ok(call(client, "cancel_threads_scheduled_post", {"schedule_id": sid}, org.headers))
    assert data["structured"]["scheduled_post"]["status"] == "cancelled"
    clock.advance(60)
    run_jobs(app)
    [row] = _schedules(app)
    assert row.status == "cancelled"
    assert row.post_id is None
    assert ok(call(client, "list_threads_posts", {}, org.headers))["structured"]["posts"] == []
    body = err(call(client, "cancel_threads_scheduled_post", {"schedule_id": sid}, org.headers))
    assert body["error"] == f"The scheduled post {sid} is cancelled and can no longer be cancelled."
    body = err(call(client, "cancel_threads_scheduled_post", {"schedule_id": "nope"}, org.headers))
    assert body["error"] == (
        'No scheduled post with schedule_id="nope" on this profile. Call list_threads_posts to see the scheduled posts.'
    )


def test_a_published_schedule_cannot_be_cancelled(
    app: FastAPI, client: TestClient, clock: MovableClock, org: ToolOrg, alice: Profile
) -> None:
    sid = _schedule(client, org, clock.now() + 60, text="soon")
    clock.advance(60)
    run_jobs(app)
    [row] = _schedules(app)
    body = err(call(client, "cancel_threads_scheduled_post", {"schedule_id": sid}, org.headers))
    assert body["error"] == (
        f"The scheduled post {sid} is published and can no longer be cancelled (its post is {row.post_id}; "
        "delete it with delete_threads_post)."
    )


@pytest.mark.parametrize(
    ("publish_at", "message"),
    [
        ("2020-01-01T00:00:00Z", "publish_at: must be in the future."),
        ("tomorrow", "publish_at: must be an ISO 8601 date-time, e.g. 2026-12-24T09:00:00Z"),
        ("2030-01-01T00:00:00", "publish_at: must carry a time zone (Z or +hh:mm)"),
    ],
)
def test_schedule_bad_times(
    client: TestClient, org: ToolOrg, alice: Profile, publish_at: str, message: str
) -> None:
    body = err(call(client, "schedule_threads_post", {"text": "x", "publish_at": publish_at}, org.headers))
    assert message in body["error"]


def test_schedule_too_far_and_bad_content_fail_now(
    app: FastAPI, client: TestClient, clock: MovableClock, org: ToolOrg, alice: Profile
) -> None:
    body = err(
        call(
            client,
            "schedule_threads_post",
            {"text": "x", "publish_at": iso(clock.now() + 91 * DAY)},
            org.headers,
        )
    )
    assert body["error"] == "publish_at: must be at most 90 days ahead."
    body = err(
        call(
            client,
            "schedule_threads_post",
            {"text": "x" * 501, "publish_at": iso(clock.now() + 60)},
            org.headers,
        )
    )
    assert body["error"].startswith("text: (#100)")
    body = err(call(client, "schedule_threads_post", {"publish_at": iso(clock.now() + 60)}, org.headers))
    assert "pass the post's content" in body["error"]
    assert _schedules(app) == []
    assert _jobs(app) == []
    assert ok(call(client, "get_usage_status", {}, org.headers))["structured"]["used"] == 0


def test_the_schedule_commits_with_the_call_record(
    app: FastAPI,
    client: TestClient,
    clock: MovableClock,
    org: ToolOrg,
    alice: Profile,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("the call record cannot be settled")

    monkeypatch.setattr(tools_repo, "finish_call", broken)
    r = call(client, "schedule_threads_post", {"text": "x", "publish_at": iso(clock.now() + 60)}, org.headers)
    assert r.status_code == 500
    monkeypatch.undo()
    assert _schedules(app) == []
    assert _jobs(app) == []
    ok(call(client, "schedule_threads_post", {"text": "x", "publish_at": iso(clock.now() + 60)}, org.headers))
    [row] = _schedules(app)
    [job] = _jobs(app)
    with ctx_of(app).db.read() as s:
        record = s.execute(
            select(ToolCall).where(ToolCall.tool == "schedule_threads_post", ToolCall.status == 200)
        ).scalar_one()
    assert record.quota_used is True
    assert job.payload["schedule_id"] == row.id


def test_a_scheduled_post_publishing_refuses_is_failed(
    app: FastAPI, client: TestClient, clock: MovableClock, org: ToolOrg, alice: Profile
) -> None:
    sid = _schedule(client, org, clock.now() + 60, text="x", reply_to_id="999")
    clock.advance(60)
    run_jobs(app)
    [row] = _schedules(app)
    assert row.id == sid
    assert row.status == "failed"
    assert row.error == "(#100) The parameter reply_to_id does not name an existing post"
    listed = ok(call(client, "list_threads_posts", {}, org.headers))["structured"]["scheduled"]
    assert listed[0]["status"] == "failed"
