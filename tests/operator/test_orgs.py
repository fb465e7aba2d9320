from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.factories import ctx_of, make_org
from threadline.kit.clock import MovableClock
from threadline.kit.ids import is_uuid
from threadline.store.models import ApiKey

INVALID_KEY = {
    "error": {
        "message": "Invalid API key.",
        "type": "authentication_error",
        "param": None,
        "code": "invalid_api_key",
    }
}
ORG_NOT_FOUND = {
    "error": {
        "message": "No such organization.",
        "type": "not_found_error",
        "param": "org_id",
        "code": "not_found",
    }
}


def _create(client: TestClient, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    r = client.post("/admin/v1/orgs", json=body, headers=headers)
    assert r.status_code == 201, r.text
    data: dict[str, Any] = r.json()
    return data


def test_create_org_returns_org_account_and_working_key(
    client: TestClient, admin_headers: dict[str, str], clock: MovableClock
) -> None:
    before = clock.now_s()
    org = _create(client, admin_headers, name="  Acme Inc. ", url="https://acme.example.com")
    assert before <= org["created_at"] <= clock.now_s()
    account = org["ad_account"]
    assert org == {
        "id": org["id"],
        "name": "Acme Inc.",
        "url": "https://acme.example.com",
        "created_at": org["created_at"],
        "ad_account": {
            "id": account["id"],
            "name": "Acme Inc.",
            "url": "https://acme.example.com",
            "timezone": "UTC",
            "currency_code": "USD",
        },
        "api_key": org["api_key"],
    }
    assert is_uuid(org["id"])
    assert is_uuid(account["id"])
    assert org["api_key"].startswith("ak_")
    r = client.get("/v1/ad_account", headers={"Authorization": f"Bearer {org['api_key']}"})
    assert r.status_code == 200
    assert r.json()["id"] == account["id"]


def test_create_org_without_url(client: TestClient, admin_headers: dict[str, str]) -> None:
    org = _create(client, admin_headers, name="No Site")
    assert org["url"] == ""
    assert org["ad_account"]["url"] == ""


INVALID_BODIES: list[Any] = [
    ({}, "missing_param", "name", "Missing required parameter: name."),
    ({"name": "A", "plan": "gold"}, "unknown_param", "plan", "Unknown parameter: plan."),
    ({"name": "   "}, "invalid_value", "name", "name: must not be blank"),
    ({"name": ""}, "invalid_value", "name", "name: String should have at least 1 character"),
    ({"name": "x" * 201}, "invalid_value", "name", "name: String should have at most 200 characters"),
    ({"name": 5}, "invalid_value", "name", "name: Input should be a valid string"),
    (
        {"name": "A", "url": "ftp://acme.example.com"},
        "invalid_value",
        "url",
        "url: must be an absolute http(s) URL",
    ),
    (
        {"name": "A", "url": "acme.example.com"},
        "invalid_value",
        "url",
        "url: must be an absolute http(s) URL",
    ),
    (
        {"name": "A", "url": "https://a.example/" + "x" * 2048},
        "invalid_value",
        "url",
        "url: String should have at most 2048 characters",
    ),
]


def test_create_org_validation(client: TestClient, admin_headers: dict[str, str]) -> None:
    for body, code, param, message in INVALID_BODIES:
        r = client.post("/admin/v1/orgs", json=body, headers=admin_headers)
        assert r.status_code == 400
        assert r.json() == {
            "error": {"message": message, "type": "invalid_request_error", "param": param, "code": code}
        }


def test_create_org_rejects_invalid_json(client: TestClient, admin_headers: dict[str, str]) -> None:
    headers = {**admin_headers, "Content-Type": "application/json"}
    r = client.post("/admin/v1/orgs", content=b"{not json", headers=headers)
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "invalid_json"


def test_list_orgs_pages_newest_first(client: TestClient, admin_headers: dict[str, str]) -> None:
    ids = [_create(client, admin_headers, name=f"Org {i}")["id"] for i in range(5)]
    newest_first = ids[::-1]

    r = client.get("/admin/v1/orgs", params={"limit": 2}, headers=admin_headers)
    assert r.status_code == 200
    page = r.json()
    assert page["object"] == "list"
    assert [o["id"] for o in page["data"]] == newest_first[:2]
    assert (page["count"], page["first_id"], page["last_id"], page["has_more"]) == (
        2,
        newest_first[0],
        newest_first[1],
        True,
    )
    assert "api_key" not in page["data"][0]
    assert page["data"][0]["ad_account"]["name"] == "Org 4"

    r = client.get("/admin/v1/orgs", params={"limit": 2, "after": page["last_id"]}, headers=admin_headers)
    assert [o["id"] for o in r.json()["data"]] == newest_first[2:4]
    assert r.json()["has_more"] is True

    r = client.get("/admin/v1/orgs", params={"limit": 5, "after": newest_first[3]}, headers=admin_headers)
    assert [o["id"] for o in r.json()["data"]] == newest_first[4:]
    assert r.json()["has_more"] is False

    r = client.get("/admin/v1/orgs", params={"limit": 2, "before": newest_first[3]}, headers=admin_headers)
    assert [o["id"] for o in r.json()["data"]] == newest_first[1:3]
    assert r.json()["has_more"] is True

    r = client.get("/admin/v1/orgs", params={"order": "asc"}, headers=admin_headers)
    assert [o["id"] for o in r.json()["data"]] == ids
    assert r.json()["count"] == 5


def test_list_orgs_empty(client: TestClient, admin_headers: dict[str, str]) -> None:
    r = client.get("/admin/v1/orgs", headers=admin_headers)
    assert r.status_code == 200
    assert r.json() == {
        "object": "list",
        "data": [],
        "count": 0,
        "first_id": None,
        "last_id": None,
        "has_more": False,
    }


BAD_LIST_PARAMS: list[Any] = [
    ({"limit": 0}, "limit", "limit: Input should be greater than or equal to 1"),
    ({"limit": 501}, "limit", "limit: Input should be less than or equal to 500"),
    (
        {"limit": "many"},
        "limit",
        "limit: Input should be a valid integer, unable to parse string as an integer",
    ),
    ({"order": "sideways"}, "order", "order: Input should be 'asc' or 'desc'"),
    ({"after": "00000000-0000-4000-8000-000000000000"}, "after", "No such object for cursor after."),
    ({"after": "a", "before": "b"}, "before", "Pass either after or before, not both."),
]


def test_list_orgs_bad_params(client: TestClient, admin_headers: dict[str, str]) -> None:
    for params, param, message in BAD_LIST_PARAMS:
        r = client.get("/admin/v1/orgs", params=params, headers=admin_headers)
        assert r.status_code == 400
        assert r.json() == {
            "error": {
                "message": message,
                "type": "invalid_request_error",
                "param": param,
                "code": "invalid_value",
            }
        }


def test_get_org(client: TestClient, admin_headers: dict[str, str]) -> None:
    created = _create(client, admin_headers, name="Acme Inc.")
    r = client.get(f"/admin/v1/orgs/{created['id']}", headers=admin_headers)
    assert r.status_code == 200
    expected = dict(created)
    del expected["api_key"]
    assert r.json() == expected


def test_unknown_org_is_not_found(client: TestClient, admin_headers: dict[str, str]) -> None:
    for org_id in ["00000000-0000-4000-8000-000000000000", "not-a-uuid"]:
        for method, suffix in [("GET", ""), ("POST", "/api_key/rotate"), ("POST", "/api_key/revoke")]:
            r = client.request(method, f"/admin/v1/orgs/{org_id}{suffix}", headers=admin_headers)
            assert r.status_code == 404, (method, suffix, org_id)
            assert r.json() == ORG_NOT_FOUND


def test_rotation_keeps_old_key_for_the_grace_window_then_refuses_it(
    app: FastAPI, client: TestClient, admin_headers: dict[str, str], clock: MovableClock
) -> None:
    org = make_org(app)
    assert client.get("/v1/ad_account", headers=org.headers).status_code == 200  # warms the key cache

    before = clock.now_s()
    r = client.post(f"/admin/v1/orgs/{org.id}/api_key/rotate", headers=admin_headers)
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"api_key", "previous_key_expires_at"}
    grace = ctx_of(app).settings.key_rotation_grace_seconds
    assert grace == 1800
    assert before + grace <= body["previous_key_expires_at"] <= clock.now_s() + grace
    new_headers = {"Authorization": f"Bearer {body['api_key']}"}
    assert body["api_key"].startswith("ak_")

    assert client.get("/v1/ad_account", headers=new_headers).status_code == 200
    clock.advance(grace - 5)
    assert client.get("/v1/ad_account", headers=org.headers).status_code == 200
    clock.advance(10)
    r = client.get("/v1/ad_account", headers=org.headers)
    assert r.status_code == 401
    assert r.json() == INVALID_KEY
    assert client.get("/v1/ad_account", headers=new_headers).status_code == 200


def test_revoked_key_is_refused_at_once(
    app: FastAPI, client: TestClient, admin_headers: dict[str, str]
) -> None:
    org = make_org(app)
    other = make_org(app, name="Other")
    assert client.get("/v1/ad_account", headers=org.headers).status_code == 200  # cached as valid

    r = client.post(f"/admin/v1/orgs/{org.id}/api_key/revoke", headers=admin_headers)
    assert r.status_code == 204
    assert r.content == b""
    r = client.get("/v1/ad_account", headers=org.headers)
    assert r.status_code == 401
    assert r.json() == INVALID_KEY
    assert client.get("/v1/ad_account", headers=other.headers).status_code == 200

    # A revoked org gets going again with a rotation, which has no old key left to keep alive.
    r = client.post(f"/admin/v1/orgs/{org.id}/api_key/rotate", headers=admin_headers)
    new_headers = {"Authorization": f"Bearer {r.json()['api_key']}"}
    assert client.get("/v1/ad_account", headers=new_headers).status_code == 200
    assert client.get("/v1/ad_account", headers=org.headers).status_code == 401


def test_keys_are_stored_only_as_hashes(
    app: FastAPI, client: TestClient, admin_headers: dict[str, str]
) -> None:
    created = _create(client, admin_headers, name="Acme Inc.")
    rotated = client.post(f"/admin/v1/orgs/{created['id']}/api_key/rotate", headers=admin_headers).json()
    event = client.post(
        f"/admin/v1/orgs/{created['id']}/event_keys", json={"label": "backend"}, headers=admin_headers
    ).json()
    publisher = client.post("/admin/v1/publishers", json={"name": "Chat"}, headers=admin_headers).json()
    secrets = [
        k.split("_", 1)[1]
        for k in (created["api_key"], rotated["api_key"], event["api_key"], publisher["api_key"])
    ]

    ctx = ctx_of(app)
    with ctx.db.read() as s:
        rows = s.execute(select(ApiKey)).scalars().all()
        stored = " ".join(
            " ".join(str(getattr(row, c.key)) for c in ApiKey.__table__.columns) for row in rows
        )
    assert len(rows) == 4
    for secret in secrets:
        assert secret[:16] not in stored
