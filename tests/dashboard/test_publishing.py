"""Publishing from the dashboard: publish now, schedule (the durable job publishes at its time), and the
API's rules and messages on the composer."""

from __future__ import annotations

import time

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.dashboard.support import make_person, sign_in
from tests.factories import ctx_of, make_org, run_jobs
from threadline.dashboard import threads
from threadline.kit.clock import MovableClock
from threadline.publishing import accounts
from threadline.publishing.schemas import ProfileCreate


def _setup(app: FastAPI, client: TestClient) -> tuple[str, str, str]:
    org = make_org(app)
    profile = accounts.create_profile(ctx_of(app), org.id, ProfileCreate(username="dash_pub"))
    make_person(app, "ann@example.com", org.id)
    return org.id, profile.id, sign_in(client, "ann@example.com")


def test_publish_now_shows_the_post_with_its_permalink(app: FastAPI, client: TestClient) -> None:
    _, profile_id, csrf = _setup(app, client)
    r = client.post(
        "/app/publishing", data={"csrf_token": csrf, "profile_id": profile_id, "text": "Hello now"}
    )
    assert r.status_code == 200
    assert "Post published." in r.text
    assert "Hello now" in r.text
    assert "/@dash_pub/post/" in r.text


def test_scheduled_post_is_published_by_the_job_at_its_time(
    app: FastAPI, client: TestClient, clock: MovableClock
) -> None:
    org_id, profile_id, csrf = _setup(app, client)
    when = time.strftime("%Y-%m-%dT%H:%M", time.gmtime(clock.now() + 3600))
    r = client.post(
        "/app/publishing",
        data={"csrf_token": csrf, "profile_id": profile_id, "text": "Later", "publish_at": when},
    )
    assert "Post scheduled." in r.text
    assert run_jobs(app) == 0  # not due yet
    (row,) = threads.recent(ctx_of(app), org_id)
    assert row["status"] == "scheduled"
    clock.advance(3700)
    assert run_jobs(app) == 1
    (row,) = threads.recent(ctx_of(app), org_id)
    assert row["status"] == "published"
    assert row["post_id"]
    assert "Later" in client.get("/app/publishing").text
    assert run_jobs(app) == 0  # done once


def test_the_api_rules_and_messages_apply(app: FastAPI, client: TestClient) -> None:
    _, profile_id, csrf = _setup(app, client)
    r = client.post("/app/publishing", data={"csrf_token": csrf, "profile_id": profile_id, "text": "x" * 501})
    assert r.status_code == 400
    assert 'id="compose-error"' in r.text
    assert "500" in r.text
    links = " ".join(f"https://example.com/{i}" for i in range(6))
    r = client.post("/app/publishing", data={"csrf_token": csrf, "profile_id": profile_id, "text": links})
    assert r.status_code == 400
    assert "at most 5 unique links" in r.text
    # Another org's profile (or none) is not found.
    r = client.post("/app/publishing", data={"csrf_token": csrf, "profile_id": "123", "text": "hi"})
    assert r.status_code == 404
