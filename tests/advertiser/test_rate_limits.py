"""The extra 60/hour limit on the charging POST /v1/campaigns (enforced by the gate)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.advertiser.helpers import err
from tests.factories import make_org


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
