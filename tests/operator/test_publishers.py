from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.factories import ctx_of
from threadline.auth.keys import authenticate
from threadline.kit.clock import MovableClock
from threadline.kit.ids import is_uuid


def _create(client: TestClient, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    r = client.post("/admin/v1/publishers", json=body, headers=headers)
    assert r.status_code == 201, r.text
    data: dict[str, Any] = r.json()
    return data


def test_create_publisher_with_defaults(
    app: FastAPI, client: TestClient, admin_headers: dict[str, str], clock: MovableClock
) -> None:
    before = clock.now_s()
    pub = _create(client, admin_headers, name="Demo Chat")
    assert before <= pub["created_at"] <= clock.now_s()
    assert pub == {
        "id": pub["id"],
        "name": "Demo Chat",
        "supply": "direct",
        "floor_cpm_micros": 1_000_000,
        "allowed_origins": [],
        "created_at": pub["created_at"],
        "api_key": pub["api_key"],
    }
    assert is_uuid(pub["id"])
    assert pub["api_key"].startswith("pk_")
    ctx = ctx_of(app)
    principal = authenticate(ctx.db, ctx.keys, ctx.clock, pub["api_key"], "publisher")
    assert principal is not None
    assert (principal.publisher_id, principal.org_id) == (pub["id"], None)


def test_create_publisher_with_everything(client: TestClient, admin_headers: dict[str, str]) -> None:
    pub = _create(
        client,
        admin_headers,
        name="Partner",
        supply="partner-network.eu",
        floor_cpm_micros=0,
        allowed_origins=[
            "https://Chat.Example.com",
            "https://chat.example.com:443/",
            "http://localhost:3000",
            "http://[::1]:8080",
        ],
    )
    assert pub["supply"] == "partner-network.eu"
    assert pub["floor_cpm_micros"] == 0
    assert pub["allowed_origins"] == [
        "https://chat.example.com",
        "http://localhost:3000",
        "http://[::1]:8080",
    ]


INVALID_BODIES: list[Any] = [
    ({}, "missing_param", "name", "Missing required parameter: name."),
    ({"name": "P", "kind": "x"}, "unknown_param", "kind", "Unknown parameter: kind."),
    ({"name": "P", "supply": ""}, "invalid_value", "supply", None),
    ({"name": "P", "supply": "has space"}, "invalid_value", "supply", None),
    ({"name": "P", "supply": "x" * 65}, "invalid_value", "supply", None),
    ({"name": "P", "floor_cpm_micros": -1}, "invalid_value", "floor_cpm_micros", None),
    ({"name": "P", "floor_cpm_micros": 100_000_001}, "invalid_value", "floor_cpm_micros", None),
    ({"name": "P", "floor_cpm_micros": 2**70}, "invalid_value", "floor_cpm_micros", None),
    ({"name": "P", "floor_cpm_micros": "1000"}, "invalid_value", "floor_cpm_micros", None),
    ({"name": "P", "floor_cpm_micros": 1.5}, "invalid_value", "floor_cpm_micros", None),
    ({"name": "P", "allowed_origins": "https://a.example"}, "invalid_value", "allowed_origins", None),
    (
        {"name": "P", "allowed_origins": ["https://a.example/path"]},
        "invalid_value",
        "allowed_origins[0]",
        None,
    ),
    ({"name": "P", "allowed_origins": ["ftp://a.example"]}, "invalid_value", "allowed_origins[0]", None),
    (
        {"name": "P", "allowed_origins": ["https://u:p@a.example"]},
        "invalid_value",
        "allowed_origins[0]",
        None,
    ),
    (
        {"name": "P", "allowed_origins": ["https://a.example:99999"]},
        "invalid_value",
        "allowed_origins[0]",
        None,
    ),
    ({"name": "P", "allowed_origins": ["ok.example", 5]}, "invalid_value", "allowed_origins[0]", None),
    (
        {"name": "P", "allowed_origins": [f"https://a{i}.example" for i in range(51)]},
        "invalid_value",
        "allowed_origins",
        None,
    ),
]


def test_create_publisher_validation(client: TestClient, admin_headers: dict[str, str]) -> None:
    for body, code, param, message in INVALID_BODIES:
        r = client.post("/admin/v1/publishers", json=body, headers=admin_headers)
        assert r.status_code == 400
        err = r.json()["error"]
        assert (err["type"], err["param"], err["code"]) == ("invalid_request_error", param, code)
        if message is not None:
            assert err["message"] == message
        else:
            assert err["message"].startswith(f"{param}: ")


def test_list_publishers(client: TestClient, admin_headers: dict[str, str]) -> None:
    a = _create(client, admin_headers, name="A")
    b = _create(client, admin_headers, name="B", supply="partner")
    r = client.get("/admin/v1/publishers", headers=admin_headers)
    assert r.status_code == 200
    del a["api_key"], b["api_key"]
    assert r.json() == {
        "object": "list",
        "data": [b, a],
        "count": 2,
        "first_id": b["id"],
        "last_id": a["id"],
        "has_more": False,
    }
    r = client.get("/admin/v1/publishers", params={"limit": 1, "after": b["id"]}, headers=admin_headers)
    assert r.json()["data"] == [a]
    r = client.get("/admin/v1/publishers", params={"after": "nope"}, headers=admin_headers)
    assert r.status_code == 400
    assert r.json()["error"]["param"] == "after"


def test_update_keeps_what_is_absent_and_serving_sees_the_new_values(
    app: FastAPI, client: TestClient, admin_headers: dict[str, str], clock: MovableClock
) -> None:
    from threadline.kit.errors import ApiError
    from threadline.operator import publishers
    from threadline.operator.schemas import PublisherUpdate

    ctx = ctx_of(app)
    pub = _create(client, admin_headers, name="Demo Chat", allowed_origins=["https://a.example"])
    got = publishers.update_publisher(ctx, pub["id"], PublisherUpdate(floor_cpm_micros=2_000_000))
    assert (got.floor_cpm_micros, got.allowed_origins) == (2_000_000, ["https://a.example"])
    body = PublisherUpdate(allowed_origins=["https://B.example", "https://b.example:443"])
    got = publishers.update_publisher(ctx, pub["id"], body)
    assert (got.floor_cpm_micros, got.allowed_origins) == (2_000_000, ["https://b.example"])
    clock.advance(2)  # past serving's publisher cache
    info = ctx.serving.index.publisher(pub["id"])
    assert info is not None
    assert (info.floor_cpm_micros, info.allowed_origins) == (2_000_000, ("https://b.example",))
    for missing in ("nope", "00000000-0000-4000-8000-000000000000"):
        with pytest.raises(ApiError) as caught:
            publishers.update_publisher(ctx, missing, body)
        assert caught.value.status == 404
