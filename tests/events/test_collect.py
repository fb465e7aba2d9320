from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.events.helpers import EventOrg, add_event_key, make_event_org
from threadline.kit.clock import MovableClock

SEED_EXAMPLE: dict[str, Any] = {
    "tag_id": "adv_001",
    "event_name": "page_view",
    "event_id": "pv-order-123-step-1",
    "timestamp": 1771879200,
    "page_url": "https://shop.example.com/checkout",
    "params": {"step": "shipping"},
}


def stored(
    client: TestClient, admin_headers: dict[str, str], org_id: str, kind: str = "collect"
) -> list[dict[str, Any]]:
    r = client.get(
        f"/admin/v1/orgs/{org_id}/events", params={"kind": kind, "limit": 1000}, headers=admin_headers
    )
    assert r.status_code == 200
    rows: list[dict[str, Any]] = r.json()["data"]
    return rows


@pytest.mark.parametrize("path", ["/v1/api/collect", "/api/collect"])
def test_seed_example_is_stored_with_server_channel_and_stamped_params(
    client: TestClient, admin_headers: dict[str, str], eorg: EventOrg, path: str
) -> None:
    r = client.post(path, headers=eorg.headers, json={**SEED_EXAMPLE, "channel": "web"})
    assert r.status_code == 204
    assert r.content == b""
    [row] = stored(client, admin_headers, eorg.id)
    assert row["event_name"] == "page_view"
    assert row["tag_id"] == "adv_001"
    assert row["event_id"] == "pv-order-123-step-1"
    assert row["timestamp"] == 1771879200
    assert row["page_url"] == "https://shop.example.com/checkout"
    assert row["channel"] == "server"
    assert row["params"] == {
        "step": "shipping",
        "integration": "partner_s2s",
        "partner_id": eorg.id,
        "api_key_label": "backend",
    }
    assert row["dedupe_key"] == 'event:["adv_001","pv-order-123-step-1"]'
    assert isinstance(row["received_at"], float)


def test_all_optional_fields_round_trip(
    client: TestClient, admin_headers: dict[str, str], eorg: EventOrg
) -> None:
    body = {
        "event_name": "impression",
        "tag_id": "t",
        "referrer": "https://ref.example/",
        "user_agent": "UA/1.0",
        "session_id": "s1",
        "client_id": "c1",
        "attribution_type": "view",
        "impression_id": "imp1",
        "click_id": "clk1",
        "bid_id": "bid1",
        "impression_state": "viewable",
        "view_time_ms": 1500,
        "consent": {"gdpr": True, "tcf": "CP..."},
    }
    assert client.post("/v1/api/collect", headers=eorg.headers, json=body).status_code == 204
    [row] = stored(client, admin_headers, eorg.id)
    for name, value in body.items():
        assert row[name] == value, name
    assert row["event_id"] is None
    assert row["dedupe_key"] is None


def test_client_values_for_stamped_params_are_overwritten(
    client: TestClient, admin_headers: dict[str, str], eorg: EventOrg
) -> None:
    params = {"integration": "mine", "partner_id": "p", "api_key_label": "x", "k": 1}
    body = {"event_name": "signup_started", "params": params}
    assert client.post("/v1/api/collect", headers=eorg.headers, json=body).status_code == 204
    [row] = stored(client, admin_headers, eorg.id)
    assert row["params"] == {
        "integration": "partner_s2s",
        "partner_id": eorg.id,
        "api_key_label": "backend",
        "k": 1,
    }


def test_timestamp_defaults_to_receive_time(
    client: TestClient, admin_headers: dict[str, str], eorg: EventOrg, clock: MovableClock
) -> None:
    clock.set(1_800_000_000)
    assert client.post("/v1/api/collect", headers=eorg.headers, json={"event_name": "x"}).status_code == 204
    [row] = stored(client, admin_headers, eorg.id)
    assert row["timestamp"] in (1_800_000_000, 1_800_000_001)


@pytest.mark.parametrize(
    ("body", "headers", "expected"),
    [
        ({"page_url": "https://Shop.Example.com:8443/a?b=c"}, {}, "site:shop.example.com"),
        (
            {"tag_id": "  ", "page_url": "https://a.example/"},
            {"Origin": "https://b.example"},
            "site:a.example",
        ),
        ({"page_url": "not a url"}, {"Origin": "https://b.example"}, "site:b.example"),
        ({}, {"Origin": "null", "Referer": "https://c.example/page"}, "site:c.example"),
        ({}, {"Referer": "https://c.example/page"}, "site:c.example"),
        ({"tag_id": ""}, {}, "site:unknown"),
        ({"tag_id": None, "page_url": "http://[::1"}, {}, "site:unknown"),
    ],
)
def test_blank_tag_id_is_derived(
    client: TestClient,
    admin_headers: dict[str, str],
    eorg: EventOrg,
    body: dict[str, Any],
    headers: dict[str, str],
    expected: str,
) -> None:
    r = client.post("/v1/api/collect", headers={**eorg.headers, **headers}, json={"event_name": "x", **body})
    assert r.status_code == 204
    [row] = stored(client, admin_headers, eorg.id)
    assert row["tag_id"] == expected


def test_dedupe_by_tag_and_event_id(
    client: TestClient, admin_headers: dict[str, str], eorg: EventOrg
) -> None:
    for tag in ("a", "a", "b"):
        r = client.post(
            "/v1/api/collect", headers=eorg.headers, json={"event_name": "x", "tag_id": tag, "event_id": "e1"}
        )
        assert r.status_code == 204
    for _ in range(2):  # no event_id: no dedupe
        assert (
            client.post(
                "/v1/api/collect", headers=eorg.headers, json={"event_name": "x", "tag_id": "a"}
            ).status_code
            == 204
        )
    rows = stored(client, admin_headers, eorg.id)
    assert sorted((r["tag_id"], r["event_id"] or "") for r in rows) == [
        ("a", ""),
        ("a", ""),
        ("a", "e1"),
        ("b", "e1"),
    ]


def test_dedupe_is_per_org(
    app: FastAPI, client: TestClient, admin_headers: dict[str, str], eorg: EventOrg
) -> None:
    other = make_event_org(app, name="Other")
    body = {"event_name": "x", "tag_id": "a", "event_id": "e1"}
    assert client.post("/v1/api/collect", headers=eorg.headers, json=body).status_code == 204
    assert client.post("/v1/api/collect", headers=other.headers, json=body).status_code == 204
    assert len(stored(client, admin_headers, eorg.id)) == 1
    assert len(stored(client, admin_headers, other.id)) == 1


def test_every_key_of_the_org_works_and_stamps_its_label(
    app: FastAPI, client: TestClient, admin_headers: dict[str, str], eorg: EventOrg
) -> None:
    second = add_event_key(app, eorg.id, label="warehouse")
    r = client.post(
        "/v1/api/collect", headers={"Authorization": f"Bearer {second}"}, json={"event_name": "x"}
    )
    assert r.status_code == 204
    [row] = stored(client, admin_headers, eorg.id)
    assert row["params"]["api_key_label"] == "warehouse"


def test_unknown_top_level_fields_are_kept_under_params_extra(
    client: TestClient, admin_headers: dict[str, str], eorg: EventOrg
) -> None:
    body = {"event_name": "x", "plan": "pro", "bad key!": 1, "deep": {"a": {"b": 1}}}
    assert client.post("/v1/api/collect", headers=eorg.headers, json=body).status_code == 204
    [row] = stored(client, admin_headers, eorg.id)
    assert row["params"]["extra"] == {"plan": "pro"}


def test_nul_and_escapes_inside_params_are_stored(
    client: TestClient, admin_headers: dict[str, str], eorg: EventOrg
) -> None:
    body = '{"event_name": "x", "params": {"a": "nul\\u0000here"}, "note": "\\u0000", "bad": "\\ud800"}'
    assert client.post("/v1/api/collect", headers=eorg.headers, content=body).status_code == 204
    [row] = stored(client, admin_headers, eorg.id)
    assert row["params"]["a"] == "nul\x00here"
    assert row["params"]["extra"] == {"note": "\x00"}  # the lone surrogate is dropped, not stored


@pytest.mark.parametrize("params", ['{"a": "\\udc00"}', '{"\\ud800": 1}', '{"a": [{"b": "\\ud800"}]}'])
def test_lone_surrogates_in_params_are_422(client: TestClient, eorg: EventOrg, params: str) -> None:
    body = '{"event_name": "x", "params": ' + params + "}"
    r = client.post("/v1/api/collect", headers=eorg.headers, content=body)
    assert r.status_code == 422
    assert r.json() == {
        "error": {
            "message": "params: must contain only valid Unicode text",
            "type": "invalid_request_error",
            "param": "params",
            "code": "invalid_value",
        }
    }


def test_admin_listing_newest_first_with_paging_and_auth(
    client: TestClient, admin_headers: dict[str, str], eorg: EventOrg
) -> None:
    for i in range(3):
        assert (
            client.post("/v1/api/collect", headers=eorg.headers, json={"event_name": f"e{i}"}).status_code
            == 204
        )
    r = client.get(f"/admin/v1/orgs/{eorg.id}/events", params={"limit": 2}, headers=admin_headers)
    assert r.status_code == 200
    page = r.json()
    assert [row["event_name"] for row in page["data"]] == ["e2", "e1"]
    assert (page["object"], page["count"], page["has_more"]) == ("list", 2, True)
    assert (page["first_id"], page["last_id"]) == (page["data"][0]["id"], page["data"][1]["id"])
    assert all(row["object"] == "collect_event" for row in page["data"])
    empty = client.get(f"/admin/v1/orgs/{eorg.id}/events?kind=conversion", headers=admin_headers).json()
    assert empty == {
        "object": "list",
        "data": [],
        "count": 0,
        "first_id": None,
        "last_id": None,
        "has_more": False,
    }

    r = client.get(f"/admin/v1/orgs/{eorg.id}/events")
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "auth_required"
    r = client.get(f"/admin/v1/orgs/{eorg.id}/events", headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "invalid_api_key"
    r = client.get("/admin/v1/orgs/11111111-1111-4111-8111-111111111111/events", headers=admin_headers)
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found"
    r = client.get(f"/admin/v1/orgs/{eorg.id}/events?kind=other", headers=admin_headers)
    assert r.status_code == 400
    assert r.json()["error"]["param"] == "kind"
