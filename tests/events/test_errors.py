"""Every bad input gets a 4xx in the documented error shape, never a 5xx."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.events.helpers import EventOrg, make_event_org
from tests.events.test_conversion import conv
from tests.factories import ctx_of, make_org
from threadline.app import create_app
from threadline.auth.keys import revoke_keys
from threadline.config import Settings
from threadline.kit.clock import MovableClock

PATHS = ["/v1/api/collect", "/api/collect", "/v1/api/conversion", "/api/conversion"]


def error(status_type: str, code: str, message: str, param: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": status_type, "param": param, "code": code}}


def invalid_json(message: str = "The request body is not valid JSON.") -> dict[str, Any]:
    return error("invalid_request_error", "invalid_json", message)


def unprocessable(code: str, message: str, param: str) -> dict[str, Any]:
    return error("invalid_request_error", code, message, param)


# ---- 401 ----


@pytest.mark.parametrize("path", PATHS)
def test_missing_key_is_auth_required(client: TestClient, path: str) -> None:
    r = client.post(path, json={"event_name": "x"})
    assert r.status_code == 401
    assert r.json() == error(
        "authentication_error", "auth_required", "Authentication credentials were not provided."
    )


def test_bad_keys_are_invalid_api_key(app: FastAPI, client: TestClient, eorg: EventOrg) -> None:
    advertiser = make_org(app, name="Adv", card=None)
    values = [
        "Bearer ek_nope",
        "Basic abc",
        "Bearer",
        eorg.event_key,
        f"Bearer {advertiser.api_key}",
        "Bearer ek_" + "a" * 300,
    ]
    for value in values:
        r = client.post("/v1/api/collect", headers={"Authorization": value}, json={"event_name": "x"})
        assert r.status_code == 401, value
        assert r.json() == error("authentication_error", "invalid_api_key", "Invalid API key.")


def test_revoked_event_key_is_invalid(app: FastAPI, client: TestClient, eorg: EventOrg) -> None:
    assert client.post("/v1/api/collect", headers=eorg.headers, json={"event_name": "x"}).status_code == 204
    ctx = ctx_of(app)
    with ctx.db.write() as s:
        revoke_keys(s, kind="event", org_id=eorg.id, at=ctx.clock.now_s())
    ctx.keys.clear()  # revocation in this process clears the cache (the operator service does this)
    r = client.post("/v1/api/collect", headers=eorg.headers, json={"event_name": "x"})
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "invalid_api_key"


# ---- 400: not a JSON object ----


@pytest.mark.parametrize("path", ["/v1/api/collect", "/api/conversion"])
@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "A JSON object request body is required."),
        (b"  \n", "A JSON object request body is required."),
        (b"{", "The request body is not valid JSON."),
        (b'{"event_name": "x",}', "The request body is not valid JSON."),
        (b"[]", "The request body must be a JSON object."),
        (b'[{"event_name": "x"}]', "The request body must be a JSON object."),
        (b'"a string"', "The request body must be a JSON object."),
        (b"null", "The request body must be a JSON object."),
        (b"42", "The request body must be a JSON object."),
        (b'{"event_name": "\xff\xfe"}', "The request body is not valid JSON."),
        (b'{"a": NaN}', "The request body is not valid JSON."),
        (b'{"a": Infinity}', "The request body is not valid JSON."),
        (b'{"a": -Infinity}', "The request body is not valid JSON."),
        (b'{"a": 1e999}', "The request body is not valid JSON."),
        (b'{"a": ' + b"9" * 5000 + b"}", "The request body is not valid JSON."),
        (b"[" * 10_000 + b"]" * 10_000, "The request body is nested too deeply."),
        (b'{"a":' * 10_000 + b"1" + b"}" * 10_000, "The request body is nested too deeply."),
    ],
)
def test_malformed_bodies_are_400(
    client: TestClient, eorg: EventOrg, path: str, body: bytes, message: str
) -> None:
    r = client.post(path, headers={**eorg.headers, "Content-Type": "application/json"}, content=body)
    assert r.status_code == 400
    assert r.json() == invalid_json(message)


# ---- 413 ----


@pytest.mark.parametrize("path", PATHS)
def test_body_over_64kb_is_413(client: TestClient, eorg: EventOrg, path: str) -> None:
    r = client.post(path, headers=eorg.headers, json={"event_name": "x", "page_url": "a" * 1_048_576})
    assert r.status_code == 413
    assert r.json() == error("invalid_request_error", "request_too_large", "The request body is too large.")


def test_chunked_body_over_64kb_is_413(client: TestClient, eorg: EventOrg) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"event_name": "x", "page_url": "'
        for _ in range(80):
            yield b"a" * 1024
        yield b'"}'

    r = client.post("/v1/api/conversion", headers=eorg.headers, content=chunks())
    assert r.status_code == 413
    assert r.json() == error("invalid_request_error", "request_too_large", "The request body is too large.")


# ---- 422 ----


@pytest.mark.parametrize(
    ("body", "code", "message", "param"),
    [
        ({}, "missing_param", "Missing required parameter: event_name.", "event_name"),
        (
            {"event_name": ""},
            "invalid_value",
            "event_name: String should have at least 1 character",
            "event_name",
        ),
        (
            {"event_name": "x" * 129},
            "invalid_value",
            "event_name: String should have at most 128 characters",
            "event_name",
        ),
        ({"event_name": 5}, "invalid_value", "event_name: Input should be a valid string", "event_name"),
        ({"event_name": None}, "invalid_value", "event_name: Input should be a valid string", "event_name"),
        (
            {"event_name": "x", "tag_id": 1},
            "invalid_value",
            "tag_id: Input should be a valid string",
            "tag_id",
        ),
        (
            {"event_name": "x", "page_url": "a" * 2049},
            "invalid_value",
            "page_url: String should have at most 2048 characters",
            "page_url",
        ),
        (
            {"event_name": "x", "timestamp": "1771879200"},
            "invalid_value",
            "timestamp: Input should be a valid integer",
            "timestamp",
        ),
        (
            {"event_name": "x", "timestamp": 1771879200.5},
            "invalid_value",
            "timestamp: Input should be a valid integer",
            "timestamp",
        ),
        (
            {"event_name": "x", "timestamp": True},
            "invalid_value",
            "timestamp: Input should be a valid integer",
            "timestamp",
        ),
        (
            {"event_name": "x", "timestamp": 946684799},
            "invalid_value",
            "timestamp: Input should be greater than or equal to 946684800",
            "timestamp",
        ),
        (
            {"event_name": "x", "timestamp": -1},
            "invalid_value",
            "timestamp: Input should be greater than or equal to 946684800",
            "timestamp",
        ),
        (
            {"event_name": "x", "timestamp": 2**70},
            "invalid_value",
            "timestamp: Input should be less than or equal to 9223372036854775807",
            "timestamp",
        ),
        (
            {"event_name": "x", "view_time_ms": -1},
            "invalid_value",
            "view_time_ms: Input should be greater than or equal to 0",
            "view_time_ms",
        ),
        (
            {"event_name": "x", "attribution_type": "paid"},
            "invalid_value",
            "attribution_type: Input should be 'click', 'view' or 'organic'",
            "attribution_type",
        ),
        (
            {"event_name": "x", "impression_state": "seen"},
            "invalid_value",
            "impression_state: Input should be 'rendered', 'in_view', 'viewable' or 'view_end'",
            "impression_state",
        ),
        (
            {"event_name": "x", "params": []},
            "invalid_value",
            "params: Input should be a valid dictionary",
            "params",
        ),
        (
            {"event_name": "x", "consent": "yes"},
            "invalid_value",
            "consent: Input should be a valid dictionary",
            "consent",
        ),
        (
            {"event_name": "x\u0000y"},
            "invalid_value",
            "event_name: must not contain NUL characters",
            "event_name",
        ),
        (
            {"event_name": "x", "event_id": "\ud800"},
            "invalid_value",
            "event_id: Input should be a valid string, unable to parse raw data as a unicode string",
            "event_id",
        ),
    ],
)
def test_collect_validation_is_422(
    client: TestClient, eorg: EventOrg, body: dict[str, Any], code: str, message: str, param: str
) -> None:
    # json.dumps escapes lone surrogates (\ud800), which is how such strings arrive on the wire
    r = client.post("/v1/api/collect", headers=eorg.headers, content=json.dumps(body))
    assert r.status_code == 422
    assert r.json() == unprocessable(code, message, param)


def test_collect_params_nested_too_deep_is_422(client: TestClient, eorg: EventOrg) -> None:
    params: dict[str, Any] = {}
    node = params
    for _ in range(40):
        node["a"] = {}
        node = node["a"]
    r = client.post("/v1/api/collect", headers=eorg.headers, json={"event_name": "x", "params": params})
    assert r.status_code == 422
    assert r.json() == unprocessable(
        "invalid_value", "params: must not be nested more than 32 levels deep", "params"
    )


def test_timestamp_more_than_an_hour_ahead_is_422(
    client: TestClient, eorg: EventOrg, clock: MovableClock
) -> None:
    clock.set(1_800_000_000)
    ok = client.post(
        "/v1/api/collect", headers=eorg.headers, json={"event_name": "x", "timestamp": 1_800_003_600}
    )
    assert ok.status_code == 204
    r = client.post(
        "/v1/api/collect", headers=eorg.headers, json={"event_name": "x", "timestamp": 1_800_003_700}
    )
    assert r.status_code == 422
    message = "timestamp: must be between 2000-01-01 and one hour ahead of the server clock"
    assert r.json() == unprocessable("invalid_value", message, "timestamp")


TZ_MESSAGE = "conversion_time: must include a timezone (Z or an offset such as +00:00)"
ISO_MESSAGE = "conversion_time: must be an ISO-8601 date-time with a timezone"
RANGE_MESSAGE = "conversion_time: must be between 2000-01-01 and one hour ahead of the server clock"


@pytest.mark.parametrize(
    ("overrides", "code", "message", "param"),
    [
        ({"click_id": None}, "invalid_value", "click_id: Input should be a valid string", "click_id"),
        ({"click_id": ""}, "invalid_value", "click_id: String should have at least 1 character", "click_id"),
        ({"click_id": 123}, "invalid_value", "click_id: Input should be a valid string", "click_id"),
        ({"conversion_time": "2026-02-19T18:00:00"}, "invalid_value", TZ_MESSAGE, "conversion_time"),
        ({"conversion_time": "2026-02-19"}, "invalid_value", TZ_MESSAGE, "conversion_time"),
        ({"conversion_time": "yesterday"}, "invalid_value", ISO_MESSAGE, "conversion_time"),
        (
            {"conversion_time": 1771524000},
            "invalid_value",
            "conversion_time: Input should be a valid string",
            "conversion_time",
        ),
        ({"conversion_time": "1999-12-31T23:59:59Z"}, "invalid_value", RANGE_MESSAGE, "conversion_time"),
        ({"conversion_time": "0001-01-01T00:00:00+14:00"}, "invalid_value", RANGE_MESSAGE, "conversion_time"),
        ({"conversion_time": "9999-12-31T23:59:59Z"}, "invalid_value", RANGE_MESSAGE, "conversion_time"),
        (
            {"conversion_value": -0.01},
            "invalid_value",
            "conversion_value: Input should be greater than or equal to 0",
            "conversion_value",
        ),
        (
            {"conversion_value": "49.99"},
            "invalid_value",
            "conversion_value: Input should be a valid number",
            "conversion_value",
        ),
        (
            {"conversion_value": True},
            "invalid_value",
            "conversion_value: Input should be a valid number",
            "conversion_value",
        ),
        (
            {"conversion_value": 1e13},
            "invalid_value",
            "conversion_value: Input should be less than or equal to 1000000000000",
            "conversion_value",
        ),
        (
            {"currency": "US"},
            "invalid_value",
            "currency: String should have at least 3 characters",
            "currency",
        ),
        (
            {"currency": "USDT"},
            "invalid_value",
            "currency: String should have at most 3 characters",
            "currency",
        ),
        (
            {"currency": "U$D"},
            "invalid_value",
            "currency: String should match pattern '^[A-Za-z]{3}$'",
            "currency",
        ),
        ({"currency": 840}, "invalid_value", "currency: Input should be a valid string", "currency"),
        (
            {"event_type": ""},
            "invalid_value",
            "event_type: String should have at least 1 character",
            "event_type",
        ),
        ({"order_id": 5}, "invalid_value", "order_id: Input should be a valid string", "order_id"),
    ],
)
def test_conversion_validation_is_422(
    client: TestClient, eorg: EventOrg, overrides: dict[str, Any], code: str, message: str, param: str
) -> None:
    r = client.post("/v1/api/conversion", headers=eorg.headers, json=conv(eorg, **overrides))
    assert r.status_code == 422
    assert r.json() == unprocessable(code, message, param)


@pytest.mark.parametrize("field", ["click_id", "conversion_time", "conversion_value", "currency"])
def test_conversion_missing_required_field_is_422(client: TestClient, eorg: EventOrg, field: str) -> None:
    body = conv(eorg)
    del body[field]
    r = client.post("/api/conversion", headers=eorg.headers, json=body)
    assert r.status_code == 422
    assert r.json() == unprocessable("missing_param", f"Missing required parameter: {field}.", field)


# ---- 429 ----


@pytest.fixture
def limited_client(settings: Settings, clock: MovableClock) -> Iterator[tuple[FastAPI, TestClient]]:
    application = create_app(settings.model_copy(update={"events_rate_limit_per_hour": 2}), clock=clock)
    with TestClient(application, raise_server_exceptions=False) as c:
        yield application, c
    application.state.ctx.db.dispose()


def test_rate_limit_per_key_is_429_with_retry_after(limited_client: tuple[FastAPI, TestClient]) -> None:
    application, client = limited_client
    first = make_event_org(application)
    second = make_event_org(application, name="Second")
    for _ in range(2):
        assert (
            client.post("/v1/api/collect", headers=first.headers, json={"event_name": "x"}).status_code == 204
        )
    r = client.post("/api/conversion", headers=first.headers, json=conv(first))
    assert r.status_code == 429
    assert r.json() == error("rate_limit_error", "rate_limit_exceeded", "Rate limit exceeded. Retry later.")
    assert int(r.headers["Retry-After"]) >= 1
    assert r.headers["X-RateLimit-Limit"] == "2"
    assert r.headers["X-RateLimit-Remaining"] == "0"
    # another key has its own budget
    assert client.post("/v1/api/collect", headers=second.headers, json={"event_name": "x"}).status_code == 204
