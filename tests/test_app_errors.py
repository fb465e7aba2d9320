"""The app's own error paths: an unreachable store on /healthz, an unexpected failure (a bug) as a 500, and
a client that hangs up mid-body."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.exc import OperationalError

from tests.factories import ctx_of, make_org
from tests.serving.helpers import make_publisher
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


def test_a_client_gone_before_its_body_is_logged_without_a_traceback(
    app: FastAPI, client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    """wrk closes its connections mid-request when a run ends: once logged as an unhandled error each."""
    key = make_publisher(app).api_key
    sent: list[dict[str, Any]] = []
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": "/api/v1/ssp/bid-request", "raw_path": b"/api/v1/ssp/bid-request",
        "query_string": b"", "root_path": "", "server": ("testserver", 80), "client": ("127.0.0.1", 5),
        "headers": [(b"host", b"testserver"), (b"thrad-api-key", key.encode()),
                    (b"content-type", b"application/json"), (b"content-length", b"40")],
    }  # fmt: skip

    async def receive() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def call() -> None:
        await app(scope, receive, send)

    with caplog.at_level(logging.INFO, logger="threadline"):
        assert client.portal is not None
        client.portal.call(call)
    assert sent[0]["type"] == "http.response.start"
    assert sent[0]["status"] == 499
    gone = [r for r in caplog.records if "disconnected" in r.getMessage()]
    assert [(r.levelno, r.exc_info) for r in gone] == [(logging.INFO, None)]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
