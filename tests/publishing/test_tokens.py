"""Profiles, apps and tokens: operator API and CLI, `me`, token endpoints, and every way a token fails."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.factories import ctx_of
from tests.publishing.helpers import cli_json, create_text, error, get, make_profile, mint, post, text_post
from threadline.kit.clock import MovableClock
from threadline.kit.secrets import hash_key
from threadline.store.models import ThreadsToken

INVALID = "Invalid OAuth access token - Cannot parse access token"


def test_operator_creates_profile_token_and_app(
    client: TestClient, admin_headers: dict[str, str], app: FastAPI
) -> None:
    org = client.post("/admin/v1/orgs", json={"name": "Acme"}, headers=admin_headers).json()
    r = client.post(
        f"/admin/v1/orgs/{org['id']}/profiles",
        json={"username": "acme.news", "name": "Acme"},
        headers=admin_headers,
    )
    assert r.status_code == 201, r.text
    profile = r.json()
    assert profile["id"].isdigit()
    assert 17 <= len(profile["id"]) <= 19
    assert profile["username"] == "acme.news"
    assert profile["is_verified"] is False
    dup = client.post(
        f"/admin/v1/orgs/{org['id']}/profiles", json={"username": "acme.news"}, headers=admin_headers
    )
    assert dup.status_code == 409
    bad = client.post(
        f"/admin/v1/orgs/{org['id']}/profiles", json={"username": "Bad Name"}, headers=admin_headers
    )
    assert bad.status_code == 400
    listed = client.get(f"/admin/v1/orgs/{org['id']}/profiles", headers=admin_headers).json()
    assert [p["id"] for p in listed["data"]] == [profile["id"]]

    r = client.post(
        f"/admin/v1/profiles/{profile['id']}/tokens",
        json={"scopes": ["threads_basic", "threads_content_publish"], "lifetime": "long"},
        headers=admin_headers,
    )
    assert r.status_code == 201, r.text
    tok = r.json()
    assert tok["access_token"].startswith("TH")
    assert tok["token_type"] == "bearer"
    assert tok["expires_in"] == 60 * 86400
    with ctx_of(app).db.read() as s:
        row = s.get(ThreadsToken, int(tok["id"]))
        assert row is not None
        assert row.token_hash == hash_key(tok["access_token"])

    r = client.post(
        "/admin/v1/apps",
        json={"name": "Scheduler", "redirect_uris": ["https://x.example/cb"]},
        headers=admin_headers,
    )
    assert r.status_code == 201
    assert set(r.json()) >= {"client_id", "client_secret", "name", "redirect_uris"}
    assert "client_secret" not in client.get("/admin/v1/apps", headers=admin_headers).json()["data"][0]
    assert client.post("/admin/v1/apps", json={"name": "x"}).status_code == 401

    me = get(
        client,
        "me",
        tok["access_token"],
        fields="id,username,name,threads_biography,is_verified,is_eligible_for_geo_gating,threads_profile_picture_url",
    )
    assert me.json() == {
        "id": profile["id"],
        "username": "acme.news",
        "name": "Acme",
        "threads_biography": "",
        "threads_profile_picture_url": "",
        "is_verified": False,
        "is_eligible_for_geo_gating": False,
    }
    assert get(client, "me", tok["access_token"]).json() == {"id": profile["id"]}
    assert get(client, profile["id"], tok["access_token"], fields="username").json() == {
        "username": "acme.news",
        "id": profile["id"],
    }


def test_bearer_header_works_like_the_parameter(app: FastAPI, client: TestClient) -> None:
    p = make_profile(app)
    r = client.get("/v1.0/me", headers={"Authorization": f"Bearer {p.token}"})
    assert r.json() == {"id": p.id}


@pytest.mark.parametrize("token", [None, "", "nope", "TH_unknown", "TH" + "x" * 600])
def test_missing_malformed_unknown_token(app: FastAPI, client: TestClient, token: str | None) -> None:
    params = {} if token is None else {"access_token": token}
    e = error(client.get("/v1.0/me", params=params))
    assert e["code"] == 190
    assert e["type"] == "OAuthException"
    assert e["message"] == INVALID
    assert "error_subcode" not in e


def test_expired_token_after_the_clock_moves(app: FastAPI, client: TestClient, clock: MovableClock) -> None:
    p = make_profile(app)
    short = mint(app, p.id, ["threads_basic"], lifetime="short")
    assert get(client, "me", short).status_code == 200
    clock.advance(3601)
    e = error(get(client, "me", short))
    assert (e["code"], e["error_subcode"], e["type"]) == (190, 463, "OAuthException")
    assert e["message"].startswith("Error validating access token: Session has expired")
    clock.advance(60 * 86400)
    assert error(get(client, "me", p.token))["error_subcode"] == 463


def test_revoked_token(app: FastAPI, client: TestClient, admin_headers: dict[str, str]) -> None:
    p = make_profile(app)
    r = client.post(
        f"/admin/v1/profiles/{p.id}/tokens", json={"scopes": ["threads_basic"]}, headers=admin_headers
    )
    tok = r.json()
    assert get(client, "me", tok["access_token"]).status_code == 200
    r = client.post(f"/admin/v1/profiles/{p.id}/tokens/{tok['id']}/revoke", headers=admin_headers)
    assert r.status_code == 204
    e = error(get(client, "me", tok["access_token"]))
    assert e["code"] == 190
    assert e["message"] == INVALID


CALLS: list[tuple[str, str, str, dict[str, Any]]] = [
    ("create", "POST", "me/threads", {"media_type": "TEXT", "text": "hi"}),
    ("publish", "POST", "me/threads_publish", {"creation_id": "{cid}"}),
    ("limit", "GET", "me/threads_publishing_limit", {}),
    ("delete", "DELETE", "{mid}", {}),
    ("me", "GET", "me", {}),
    ("media", "GET", "{mid}", {"fields": "id,text"}),
    ("container", "GET", "{cid}", {"fields": "status"}),
    ("list", "GET", "me/threads", {}),
]


@pytest.mark.parametrize(("name", "method", "path", "data"), CALLS, ids=[c[0] for c in CALLS])
def test_wrong_scope_per_endpoint(
    app: FastAPI, client: TestClient, name: str, method: str, path: str, data: dict[str, Any]
) -> None:
    p = make_profile(app)
    cid = create_text(client, p)
    mid = text_post(client, p)
    needed = {
        "create": "threads_content_publish",
        "publish": "threads_content_publish",
        "limit": "threads_content_publish",
        "delete": "threads_delete",
    }.get(name, "threads_basic")
    others = [
        s
        for s in ("threads_basic", "threads_content_publish", "threads_delete", "threads_manage_replies")
        if s != needed
    ]
    attempts = [others] if needed == "threads_basic" else [others, [needed]]
    for scopes in attempts:  # without the endpoint's scope, then without threads_basic
        token = mint(app, p.id, scopes)
        url = "/v1.0/" + path.format(cid=cid, mid=mid)
        values = {k: v.format(cid=cid) for k, v in data.items()}
        if method == "POST":
            r = client.post(url, data={**values, "access_token": token})
        else:
            r = client.request(method, url, params={**values, "access_token": token})
        e = error(r)
        assert (e["code"], e["type"]) == (10, "OAuthException")
        assert e["message"] == "(#10) Application does not have permission for this action"


def test_reply_needs_manage_replies(app: FastAPI, client: TestClient) -> None:
    p = make_profile(app)
    target = text_post(client, p)
    token = mint(app, p.id, ["threads_basic", "threads_content_publish"])
    e = error(
        client.post(
            "/v1.0/me/threads",
            data={"media_type": "TEXT", "text": "re", "reply_to_id": target, "access_token": token},
        )
    )
    assert e["code"] == 10


def test_another_profiles_id_in_path_and_objects(app: FastAPI, client: TestClient) -> None:
    alice = make_profile(app, "alice")
    bob = make_profile(app, "bob", org_id=alice.org_id)  # same org, still another profile
    carol = make_profile(app, "carol")  # another org
    cid = create_text(client, bob)
    mid = text_post(client, bob)
    for other in (bob, carol):
        for r in (
            get(client, other.id, alice.token),
            get(client, f"{other.id}/threads", alice.token),
            post(client, f"{other.id}/threads", alice.token, media_type="TEXT", text="x"),
            post(client, f"{other.id}/threads_publish", alice.token, creation_id=cid),
            get(client, f"{other.id}/threads_publishing_limit", alice.token),
        ):
            e = error(r)
            assert (e["code"], e["error_subcode"]) == (100, 33), e
    for r in (
        get(client, cid, alice.token, fields="id,status"),
        get(client, mid, alice.token),
        post(client, "me/threads_publish", alice.token, creation_id=cid),
        client.delete(f"/v1.0/{mid}", params={"access_token": alice.token}),
        get(client, mid, carol.token),
    ):
        e = error(r)
        assert (e["code"], e["error_subcode"], e["type"]) == (100, 33, "THApiException")


def test_per_token_call_rate_is_code_4(app: FastAPI, client: TestClient) -> None:
    ctx_of(app).settings.threads_calls_per_hour = 3
    p = make_profile(app)
    for _ in range(3):
        assert get(client, "me", p.token).status_code == 200
    e = error(get(client, "me", p.token))
    assert (e["code"], e["is_transient"], e["message"]) == (4, True, "Application request limit reached")
    other = mint(app, p.id, ["threads_basic"])  # the rate is per token
    assert get(client, "me", other).status_code == 200


# ------------------------------------------------------------------------------------ token endpoints


def _app_and_short(
    app: FastAPI, client: TestClient, admin_headers: dict[str, str]
) -> tuple[dict[str, Any], str, Any]:
    p = make_profile(app)
    threads_app = client.post(
        "/admin/v1/apps", json={"name": "A", "redirect_uris": ["https://a.example/cb"]}, headers=admin_headers
    ).json()
    short = mint(
        app,
        p.id,
        ["threads_basic", "threads_content_publish"],
        lifetime="short",
        app_id=threads_app["client_id"],
    )
    return threads_app, short, p


@pytest.mark.parametrize("prefix", ["", "/v1.0"])
def test_exchange_and_refresh(
    app: FastAPI, client: TestClient, admin_headers: dict[str, str], clock: MovableClock, prefix: str
) -> None:
    threads_app, short, p = _app_and_short(app, client, admin_headers)
    r = client.get(
        f"{prefix}/access_token",
        params={
            "grant_type": "th_exchange_token",
            "client_secret": threads_app["client_secret"],
            "access_token": short,
        },
    )
    assert r.status_code == 200, r.text
    long = r.json()
    assert set(long) == {"access_token", "token_type", "expires_in"}
    assert long["token_type"] == "bearer"
    assert long["expires_in"] == 60 * 86400
    assert get(client, "me", long["access_token"]).json() == {"id": p.id}

    refresh = {"grant_type": "th_refresh_token", "access_token": long["access_token"]}
    r = client.get(f"{prefix}/refresh_access_token", params=refresh)
    assert r.json() == {
        "error_type": "OAuthException",
        "code": 400,
        "error_message": r.json()["error_message"],
    }
    assert "24 hours" in r.json()["error_message"]
    assert r.status_code == 400
    clock.advance(86400)
    r = client.get(f"{prefix}/refresh_access_token", params=refresh)
    assert r.status_code == 200, r.text
    assert r.json()["expires_in"] == 60 * 86400
    assert r.json()["access_token"] != long["access_token"]


def test_exchange_errors_use_the_oauth_shape(
    app: FastAPI, client: TestClient, admin_headers: dict[str, str]
) -> None:
    threads_app, short, p = _app_and_short(app, client, admin_headers)
    cases = [
        (
            {"grant_type": "th_exchange_token", "client_secret": "wrong", "access_token": short},
            "Error validating client secret",
        ),
        (
            {"grant_type": "nope", "client_secret": threads_app["client_secret"], "access_token": short},
            "Unsupported grant_type",
        ),
        ({"grant_type": "th_exchange_token", "access_token": short}, "Missing parameter: client_secret"),
        ({"grant_type": "th_exchange_token", "client_secret": "x", "access_token": "TH_bogus"}, INVALID),
        (
            {
                "grant_type": "th_exchange_token",
                "client_secret": threads_app["client_secret"],
                "access_token": p.token,
            },
            "Only a short-lived",
        ),
    ]
    for params, message in cases:
        r = client.get("/access_token", params=params)
        assert r.status_code == 400
        body = r.json()
        assert set(body) == {"error_type", "code", "error_message"}
        assert body["error_type"] == "OAuthException"
        assert body["code"] == 400
        assert body["error_message"].startswith(message), body


@pytest.mark.parametrize("prefix", ["", "/v1.0"])
def test_authorization_code_is_single_use(
    app: FastAPI, client: TestClient, admin_headers: dict[str, str], clock: MovableClock, prefix: str
) -> None:
    threads_app, _, p = _app_and_short(app, client, admin_headers)
    cid = threads_app["client_id"]

    def code() -> str:
        r = client.post(
            f"/admin/v1/apps/{cid}/codes",
            json={"profile_id": p.id, "scopes": ["threads_basic"], "redirect_uri": "https://a.example/cb"},
            headers=admin_headers,
        )
        assert r.status_code == 201, r.text
        return str(r.json()["code"])

    form = {
        "client_id": cid,
        "client_secret": threads_app["client_secret"],
        "grant_type": "authorization_code",
        "redirect_uri": "https://a.example/cb",
    }
    first = code()
    r = client.post(f"{prefix}/oauth/access_token", data={**form, "code": first + "#_"})
    assert r.status_code == 200, r.text
    assert r.json()["user_id"] == p.id
    assert get(client, "me", r.json()["access_token"]).json() == {"id": p.id}
    again = client.post(f"{prefix}/oauth/access_token", data={**form, "code": first})
    assert again.json() == {
        "error_type": "OAuthException",
        "code": 400,
        "error_message": "Matching code was not found or was already used",
    }
    stale = code()
    clock.advance(601)
    assert (
        client.post(f"{prefix}/oauth/access_token", data={**form, "code": stale})
        .json()["error_message"]
        .startswith("Matching code")
    )
    fresh = code()
    wrong_uri = client.post(
        f"{prefix}/oauth/access_token", data={**form, "code": fresh, "redirect_uri": "https://evil.example/"}
    )
    assert wrong_uri.status_code == 400
    assert "redirect_uri" in wrong_uri.json()["error_message"]


def test_cli_profiles_tokens_apps(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:

    from typer.testing import CliRunner

    from threadline import cli

    run = cli_json(tmp_path, monkeypatch)
    runner = CliRunner()

    org = run("orgs", "create", "Acme")
    profile = run("profiles", "create", org["id"], "acme")
    assert profile["username"] == "acme"
    tok = run("profiles", "token", "acme", "--scopes", "threads_basic,threads_content_publish", "--long")
    assert tok["expires_in"] == 60 * 86400
    assert tok["scopes"] == ["threads_basic", "threads_content_publish"]
    short = run("profiles", "token", profile["id"], "--short")
    assert short["expires_in"] == 3600
    created = run("apps", "create", "Scheduler", "--redirect-uri", "https://a.example/cb")
    assert created["client_secret"].startswith("ths_")
    code = run(
        "apps", "code", created["client_id"], "--profile", "acme", "--redirect-uri", "https://a.example/cb"
    )
    assert code["expires_in"] == 600
    bad = runner.invoke(cli.app, ["profiles", "create", org["id"], "acme"])
    assert bad.exit_code == 1
    assert "taken" in bad.stderr
