"""The app's own error paths: an unreachable store on /healthz, and an unexpected failure (a bug) as a 500."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.exc import OperationalError

from tests.factories import ctx_of, make_org
from threadline.advertiser import account


def test_healthz_reports_an_unreachable_store(
    app: FastAPI, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert client.get("/healthz").json() == {"status": "ok", "store": "ok"}

    @contextmanager
    def broken() -> Iterator[None]:
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))
        yield

    monkeypatch.setattr(ctx_of(app).db, "read", broken)
    r = client.get("/healthz")
    assert r.status_code == 503
    assert r.json() == {"status": "error", "store": "unreachable"}


def test_unexpected_failure_is_a_500_in_the_surface_shape(
    app: FastAPI, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    org = make_org(app)

    def bug(*_args: object) -> bytes:
        raise RuntimeError("a bug")

    monkeypatch.setattr(account, "_load", bug)
    r = client.get("/v1/ad_account", headers=org.headers)
    assert r.status_code == 500
    assert r.json() == {
        "error": {
            "message": "The server had an error while processing your request.",
            "type": "api_error",
            "param": None,
            "code": "server_error",
        }
    }
    assert "a bug" not in r.text
