"""The Threads OAuth consent screen: code + state back to the exact redirect_uri, single-use codes that
expire after 10 minutes, denial parameters, and POST /oauth/access_token working on the code."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.dashboard.support import csrf_of, make_person, sign_in
from tests.factories import ctx_of, make_org
from threadline.kit.clock import MovableClock
from threadline.publishing import accounts
from threadline.publishing.schemas import AppCreate, ProfileCreate

REDIRECT = "https://client.example/cb"


@pytest.fixture
def setup(app: FastAPI, client: TestClient) -> dict[str, Any]:
    ctx = ctx_of(app)
    org, other = make_org(app, "Mine"), make_org(app, "Other")
    profile = accounts.create_profile(ctx, org.id, ProfileCreate(username="acme_dash"))
    foreign = accounts.create_profile(ctx, other.id, ProfileCreate(username="other_dash"))
    threads_app = accounts.create_app(ctx, AppCreate(name="Scheduler Pro", redirect_uris=[REDIRECT]))
    make_person(app, "ann@example.com", org.id)
    return {"profile": profile.id, "foreign": foreign.id, "app": threads_app}


def _query(setup: dict[str, Any], **extra: str) -> dict[str, str]:
    return {
        "client_id": setup["app"].client_id,
        "redirect_uri": REDIRECT,
        "scope": "threads_basic,threads_content_publish",
        "response_type": "code",
        "state": "s-1",
        **extra,
    }


def _consent(
    client: TestClient, setup: dict[str, Any], path: str = "/oauth/authorize", **extra: str
) -> tuple[str, dict[str, str]]:
    page = client.get(path, params=_query(setup, **extra))
    assert page.status_code == 200, page.text
    return csrf_of(page.text), _query(setup, **extra)


def _exchange(client: TestClient, setup: dict[str, Any], code: str, redirect_uri: str = REDIRECT) -> Any:
    return client.post(
        "/oauth/access_token",
        data={
            "client_id": setup["app"].client_id,
            "client_secret": setup["app"].client_secret,
            "grant_type": "authorization_code",
            "redirect_uri": redirect_uri,
            "code": code,
        },
    )


def _allowed_code(client: TestClient, setup: dict[str, Any]) -> str:
    csrf, query = _consent(client, setup)
    r = client.post(
        "/oauth/authorize",
        data={**query, "csrf_token": csrf, "decision": "allow", "profile_id": setup["profile"]},
        follow_redirects=False,
    )
    return _code(r.headers["location"])


def _code(location: str) -> str:
    from urllib.parse import parse_qs, urlsplit

    parts = urlsplit(location)
    assert parts.fragment == "_"
    return parse_qs(parts.query)["code"][0]


def test_signed_out_person_is_sent_to_sign_in_first(client: TestClient, setup: dict[str, Any]) -> None:
    r = client.get("/oauth/authorize", params=_query(setup), follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"].startswith("/app/signin?next=%2Foauth%2Fauthorize%3Fclient_id%3D")


@pytest.mark.parametrize("path", ["/oauth/authorize", "/v1.0/oauth/authorize"])
def test_allow_redirects_with_code_and_state_and_the_code_works(
    client: TestClient, setup: dict[str, Any], path: str
) -> None:
    sign_in(client, "ann@example.com")
    csrf, query = _consent(client, setup, path)
    page = client.get(path, params=query)
    assert "Scheduler Pro" in page.text
    assert "threads_content_publish" in page.text
    assert "@acme_dash" in page.text
    assert "@other_dash" not in page.text  # only the person's org's profiles
    r = client.post(
        path,
        data={**query, "csrf_token": csrf, "decision": "allow", "profile_id": setup["profile"]},
        follow_redirects=False,
    )
    assert r.status_code == 303
    location = r.headers["location"]
    assert location.startswith(REDIRECT + "?code=thc_")
    assert "state=s-1" in location
    token = _exchange(client, setup, _code(location))
    assert token.status_code == 200, token.text
    body = token.json()
    assert body["user_id"] == setup["profile"]
    me = client.get("/v1.0/me", params={"fields": "id,username", "access_token": body["access_token"]})
    assert me.json() == {"id": setup["profile"], "username": "acme_dash"}


def test_a_replayed_code_is_refused(client: TestClient, setup: dict[str, Any]) -> None:
    sign_in(client, "ann@example.com")
    code = _allowed_code(client, setup)
    assert _exchange(client, setup, code).status_code == 200
    again = _exchange(client, setup, code)
    assert again.status_code == 400
    assert again.json()["error_message"] == "Matching code was not found or was already used"


def test_an_expired_code_is_refused(client: TestClient, setup: dict[str, Any], clock: MovableClock) -> None:
    sign_in(client, "ann@example.com")
    code = _allowed_code(client, setup)
    clock.advance(600)
    expired = _exchange(client, setup, code)
    assert expired.status_code == 400
    assert expired.json()["error_message"] == "Matching code was not found or was already used"


def test_a_different_redirect_uri_at_exchange_is_refused(client: TestClient, setup: dict[str, Any]) -> None:
    sign_in(client, "ann@example.com")
    wrong = _exchange(client, setup, _allowed_code(client, setup), REDIRECT + "/other")
    assert wrong.status_code == 400
    assert "redirect_uri is identical" in wrong.json()["error_message"]


@pytest.mark.parametrize(
    "redirect_uri", [REDIRECT + "/", "https://client.example/cb?x=1", "https://evil.example/cb"]
)
def test_a_redirect_uri_not_registered_exactly_never_redirects(
    client: TestClient, setup: dict[str, Any], redirect_uri: str
) -> None:
    sign_in(client, "ann@example.com")
    r = client.get(
        "/oauth/authorize", params=_query(setup, redirect_uri=redirect_uri), follow_redirects=False
    )
    assert r.status_code == 400
    assert "does not exactly match" in r.text
    r = client.get("/oauth/authorize", params=_query(setup, client_id="12345"), follow_redirects=False)
    assert r.status_code == 400
    assert "not registered" in r.text


def test_denied_consent_redirects_with_the_denial_parameters(
    client: TestClient, setup: dict[str, Any]
) -> None:
    sign_in(client, "ann@example.com")
    csrf, query = _consent(client, setup)
    r = client.post(
        "/oauth/authorize", data={**query, "csrf_token": csrf, "decision": "deny"}, follow_redirects=False
    )
    assert r.status_code == 303
    assert r.headers["location"] == (
        REDIRECT
        + "?error=access_denied&error_reason=user_denied&error_description=Permissions+error&state=s-1#_"
    )


def test_bad_response_type_and_scope_go_back_to_the_app(client: TestClient, setup: dict[str, Any]) -> None:
    sign_in(client, "ann@example.com")
    r = client.get("/oauth/authorize", params=_query(setup, response_type="token"), follow_redirects=False)
    assert r.headers["location"].startswith(REDIRECT + "?error=unsupported_response_type")
    r = client.get(
        "/oauth/authorize", params=_query(setup, scope="threads_basic,admin"), follow_redirects=False
    )
    assert r.headers["location"].startswith(REDIRECT + "?error=invalid_scope")


def test_consent_needs_csrf_and_the_orgs_own_profile(client: TestClient, setup: dict[str, Any]) -> None:
    sign_in(client, "ann@example.com")
    csrf, query = _consent(client, setup)
    r = client.post("/oauth/authorize", data={**query, "decision": "allow", "profile_id": setup["profile"]})
    assert r.status_code == 403
    r = client.post(
        "/oauth/authorize",
        data={**query, "csrf_token": csrf, "decision": "allow", "profile_id": setup["foreign"]},
        follow_redirects=False,
    )
    assert r.status_code == 404
