"""The extra 60/hour limit on the charging POST /v1/campaigns (enforced by the gate)."""

from __future__ import annotations

import os

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.advertiser.helpers import err
from tests.factories import make_org
from threadline.app import create_app
from threadline.config import Settings
from threadline.kit.clock import MovableClock


def test_61st_create_in_an_hour_is_429(app: FastAPI, client: TestClient) -> None:
    org = make_org(app)
    # Invalid bodies are cheap and still count: the limit guards the endpoint, not successes.
    for i in range(60):
        r = client.post("/v1/campaigns", json={}, headers=org.headers)
        assert r.status_code == 400, i
        assert r.headers["X-RateLimit-Limit"] == "60"
        assert r.headers["X-RateLimit-Remaining"] == str(59 - i)
    r = client.post("/v1/campaigns", json={}, headers=org.headers)
    assert r.status_code == 429
    assert r.json() == err(
        "Rate limit exceeded. Retry later.", "rate_limit_exceeded", type_="rate_limit_error"
    )
    assert int(r.headers["Retry-After"]) >= 1
    # Other advertiser calls still have their own (1000/h) budget.
    assert client.get("/v1/campaigns", headers=org.headers).status_code == 200
    # Another key is counted separately.
    other = make_org(app, name="Other")
    assert client.post("/v1/campaigns", json={}, headers=other.headers).status_code == 400


def test_general_hourly_limit_applies_to_every_v1_request(settings: Settings, clock: MovableClock) -> None:
    app = create_app(settings.model_copy(update={"rate_limit_per_hour": 3}), clock=clock)
    org = make_org(app)
    with TestClient(app) as client:
        statuses = [client.get("/v1/ad_account", headers=org.headers).status_code for _ in range(3)]
        assert statuses == [200, 200, 200]
        r = client.get("/v1/campaigns", headers=org.headers)
        assert r.status_code == 429
        assert r.json()["error"]["code"] == "rate_limit_exceeded"
        assert r.headers["X-RateLimit-Remaining"] == "0"
    app.state.ctx.db.dispose()


@pytest.mark.redis
def test_limits_are_shared_across_processes_through_redis(settings: Settings, clock: MovableClock) -> None:
    """Two server instances (as two processes would be) with one Redis: one budget per key."""
    redis_url = os.environ["THREADLINE_TEST_REDIS_URL"]
    shared = settings.model_copy(update={"rate_limit_per_hour": 4, "redis_url": redis_url})
    first, second = create_app(shared, clock=clock), create_app(shared, clock=clock)
    org = make_org(first)
    try:
        with TestClient(first) as a, TestClient(second) as b:
            got = [
                (a if i % 2 else b).get("/v1/ad_account", headers=org.headers).status_code for i in range(4)
            ]
            assert got == [200, 200, 200, 200]
            assert a.get("/v1/ad_account", headers=org.headers).status_code == 429
            assert b.get("/v1/ad_account", headers=org.headers).status_code == 429
    finally:
        first.state.ctx.limiter.reset()
        first.state.ctx.db.dispose()
        second.state.ctx.db.dispose()
