from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.factories import ctx_of, make_org
from threadline.auth.keys import authenticate
from threadline.kit.ids import is_uuid

KEY_NOT_FOUND = {
    "error": {"message": "No such event key.", "type": "not_found_error", "param": "id", "code": "not_found"}
}


def _valid(app: FastAPI, plain: str) -> bool:
    ctx = ctx_of(app)
    return authenticate(ctx.db, ctx.keys, ctx.clock, plain, "event") is not None


def test_create_event_key(app: FastAPI, client: TestClient, admin_headers: dict[str, str]) -> None:
    org = make_org(app)
    r = client.post(f"/admin/v1/orgs/{org.id}/event_keys", json={"label": "checkout"}, headers=admin_headers)
    assert r.status_code == 201
    body = r.json()
    assert body == {"id": body["id"], "label": "checkout", "api_key": body["api_key"]}
    assert is_uuid(body["id"])
    assert body["api_key"].startswith("ek_")
    ctx = ctx_of(app)
    principal = authenticate(ctx.db, ctx.keys, ctx.clock, body["api_key"], "event")
    assert principal is not None
    assert (principal.org_id, principal.key_id, principal.label) == (org.id, body["id"], "checkout")
    # An event key is not an advertiser key.
    r = client.get("/v1/ad_account", headers={"Authorization": f"Bearer {body['api_key']}"})
    assert r.status_code == 401


INVALID_BODIES: list[Any] = [
    ({}, "missing_param", "label", "Missing required parameter: label."),
    ({"label": " "}, "invalid_value", "label", "label: must not be blank"),
    ({"label": "x" * 201}, "invalid_value", "label", "label: String should have at most 200 characters"),
    ({"label": "a", "scope": "all"}, "unknown_param", "scope", "Unknown parameter: scope."),
]


def test_create_event_key_validation(app: FastAPI, client: TestClient, admin_headers: dict[str, str]) -> None:
    for body, code, param, message in INVALID_BODIES:
        org = make_org(app)
        r = client.post(f"/admin/v1/orgs/{org.id}/event_keys", json=body, headers=admin_headers)
        assert r.status_code == 400
        assert r.json() == {
            "error": {"message": message, "type": "invalid_request_error", "param": param, "code": code}
        }


def test_create_for_unknown_org_is_not_found(client: TestClient, admin_headers: dict[str, str]) -> None:
    r = client.post(
        "/admin/v1/orgs/00000000-0000-4000-8000-000000000000/event_keys",
        json={"label": "x"},
        headers=admin_headers,
    )
    assert r.status_code == 404
    assert r.json()["error"] == {
        "message": "No such organization.",
        "type": "not_found_error",
        "param": "org_id",
        "code": "not_found",
    }


def test_delete_revokes_at_once(app: FastAPI, client: TestClient, admin_headers: dict[str, str]) -> None:
    org = make_org(app)
    keep = client.post(
        f"/admin/v1/orgs/{org.id}/event_keys", json={"label": "a"}, headers=admin_headers
    ).json()
    drop = client.post(
        f"/admin/v1/orgs/{org.id}/event_keys", json={"label": "b"}, headers=admin_headers
    ).json()
    assert _valid(app, drop["api_key"])  # now cached as valid

    r = client.delete(f"/admin/v1/orgs/{org.id}/event_keys/{drop['id']}", headers=admin_headers)
    assert r.status_code == 204
    assert r.content == b""
    assert not _valid(app, drop["api_key"])
    assert _valid(app, keep["api_key"])

    r = client.delete(f"/admin/v1/orgs/{org.id}/event_keys/{drop['id']}", headers=admin_headers)
    assert r.status_code == 404
    assert r.json() == KEY_NOT_FOUND


def test_delete_unknown_or_foreign_keys_is_not_found(
    app: FastAPI, client: TestClient, admin_headers: dict[str, str]
) -> None:
    org = make_org(app)
    other = make_org(app, name="Other")
    theirs = client.post(
        f"/admin/v1/orgs/{other.id}/event_keys", json={"label": "x"}, headers=admin_headers
    ).json()
    for key_id in [theirs["id"], "00000000-0000-4000-8000-000000000000", "nope"]:
        r = client.delete(f"/admin/v1/orgs/{org.id}/event_keys/{key_id}", headers=admin_headers)
        assert r.status_code == 404, key_id
        assert r.json() == KEY_NOT_FOUND
    assert _valid(app, theirs["api_key"])


def test_an_advertiser_key_id_cannot_be_deleted_as_an_event_key(
    app: FastAPI, client: TestClient, admin_headers: dict[str, str]
) -> None:
    from sqlalchemy import select

    from threadline.store.models import ApiKey

    org = make_org(app)
    with ctx_of(app).db.read() as s:
        ak_id = s.execute(select(ApiKey.id).where(ApiKey.org_id == org.id)).scalar_one()
    r = client.delete(f"/admin/v1/orgs/{org.id}/event_keys/{ak_id}", headers=admin_headers)
    assert r.status_code == 404
    assert client.get("/v1/ad_account", headers=org.headers).status_code == 200
