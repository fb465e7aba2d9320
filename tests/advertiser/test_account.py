from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.factories import make_org


def test_ad_account_returns_default_account(app: FastAPI, client: TestClient) -> None:
    org = make_org(app)
    r = client.get("/v1/ad_account", headers=org.headers)
    assert r.status_code == 200
    assert r.json() == {
        "id": org.ad_account_id,
        "name": "Acme Inc.",
        "url": "https://acme.example.com",
        "timezone": "UTC",
        "currency_code": "USD",
    }
    assert r.headers["X-RateLimit-Limit"] == "1000"
    assert r.headers["X-RateLimit-Remaining"] == "999"
    assert "X-RateLimit-Reset" in r.headers


def test_missing_key_is_auth_required(client: TestClient) -> None:
    r = client.get("/v1/ad_account")
    assert r.status_code == 401
    assert r.json() == {
        "error": {
            "message": "Authentication credentials were not provided.",
            "type": "authentication_error",
            "param": None,
            "code": "auth_required",
        }
    }


def test_bad_keys_are_invalid_api_key(client: TestClient) -> None:
    for value in ["Bearer ak_nope", "Basic abc", "Bearer", "ak_x", "Bearer pk_something"]:
        r = client.get("/v1/ad_account", headers={"Authorization": value})
        assert r.status_code == 401, value
        assert r.json()["error"] == {
            "message": "Invalid API key.",
            "type": "authentication_error",
            "param": None,
            "code": "invalid_api_key",
        }
