from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.factories import make_org
from threadline.app import create_app
from threadline.config import Settings
from threadline.kit.clock import MovableClock

AUTH_REQUIRED = {
    "error": {
        "message": "Authentication credentials were not provided.",
        "type": "authentication_error",
        "param": None,
        "code": "auth_required",
    }
}
INVALID = {
    "error": {
        "message": "Invalid API key.",
        "type": "authentication_error",
        "param": None,
        "code": "invalid_api_key",
    }
}


ANONYMOUS_REQUESTS: list[Any] = [
    ("GET", "/admin/v1/orgs", None),
    ("POST", "/admin/v1/orgs", {"nope": 1}),
    ("GET", "/admin/v1/orgs/not-an-id", None),
    ("POST", "/admin/v1/publishers", {"name": ""}),
    ("GET", "/admin/v1/review_queue", None),
]


def test_missing_token_is_auth_required_before_any_validation(client: TestClient) -> None:
    for method, path, body in ANONYMOUS_REQUESTS:
        r = client.request(method, path, json=body)
        assert r.status_code == 401
        assert r.json() == AUTH_REQUIRED


def test_wrong_tokens_are_invalid_api_key(app: FastAPI, client: TestClient) -> None:
    org = make_org(app)
    for value in [
        "Bearer adm_wrong",
        "Bearer",
        "Basic adm_test_token",
        "adm_test_token",
        f"Bearer {org.api_key}",
        "Bearer " + "x" * 500,
    ]:
        r = client.get("/admin/v1/orgs", headers={"Authorization": value})
        assert r.status_code == 401, value
        assert r.json() == INVALID, value


def test_admin_token_is_not_an_advertiser_key(client: TestClient, admin_headers: dict[str, str]) -> None:
    r = client.get("/v1/ad_account", headers=admin_headers)
    assert r.status_code == 401
    assert r.json() == INVALID


def test_generated_token_is_written_once_with_mode_0600(settings: Settings, clock: MovableClock) -> None:
    settings = settings.model_copy(update={"admin_token": None})
    first = create_app(settings, clock=clock)
    token_file = Path(settings.data_dir) / "admin-token"
    assert not token_file.exists()  # building the app writes nothing; starting it does
    with TestClient(first):
        pass
    token = token_file.read_text().strip()
    assert token.startswith("adm_")
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    # A second start (or a second worker) keeps the first token.
    second = create_app(settings, clock=clock)
    try:
        with TestClient(second) as c:
            assert token_file.read_text().strip() == token
            assert c.get("/admin/v1/orgs", headers={"Authorization": f"Bearer {token}"}).status_code == 200
            r = c.get("/admin/v1/orgs", headers={"Authorization": "Bearer adm_guess"})
            assert r.status_code == 401
            assert r.json() == INVALID
    finally:
        first.state.ctx.db.dispose()
        second.state.ctx.db.dispose()


def test_openapi_documents_admin_bearer_and_errors(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    op = doc["paths"]["/admin/v1/orgs"]["post"]
    assert {"HTTPBearer": []} in op["security"]
    assert set(op["responses"]) >= {"201", "400", "401"}
