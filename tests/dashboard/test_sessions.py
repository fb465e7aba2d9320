"""Sign-in, sessions (idle and absolute expiry, sign-out, sign-out everywhere), CSRF and throttling."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.dashboard.support import PASSWORD, csrf_of, make_person, sign_in
from tests.factories import ctx_of, make_org
from threadline.dashboard import passwords
from threadline.kit.clock import MovableClock
from threadline.store.models import DashboardSession, Person


def test_unsigned_pages_redirect_to_sign_in(client: TestClient) -> None:
    r = client.get("/app/campaigns?after=x", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/app/signin?next=%2Fapp%2Fcampaigns%3Fafter%3Dx"
    assert client.get("/app", follow_redirects=False).headers["location"] == "/app/"


def test_sign_in_sets_a_server_side_session(app: FastAPI, client: TestClient) -> None:
    org = make_org(app)
    person = make_person(app, "Ann@Example.com", org.id)
    assert person.email == "ann@example.com"
    token = csrf_of(client.get("/app/signin").text)
    r = client.post(
        "/app/signin",
        data={"email": "ann@example.com", "password": PASSWORD, "csrf_token": token, "next": "/app/settings"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert r.headers["location"] == "/app/settings"
    cookie = r.headers["set-cookie"]
    assert "tl_session=tls_" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Secure" not in cookie  # the public base is http
    with ctx_of(app).db.read() as s:
        stored = s.query(DashboardSession).one()
        hashed = s.query(Person).one().password_hash
    plain = client.cookies["tl_session"]
    assert stored.token_hash != plain  # only the SHA-256 is stored
    assert hashed.startswith("$argon2id$")
    assert client.get("/app/settings").status_code == 200


def test_wrong_password_and_unknown_email_get_the_same_answer(app: FastAPI, client: TestClient) -> None:
    make_person(app, "ann@example.com", make_org(app).id)
    answers = []
    for email, password in (("ann@example.com", "wrong password!"), ("nobody@example.com", PASSWORD)):
        token = csrf_of(client.get("/app/signin").text)
        r = client.post("/app/signin", data={"email": email, "password": password, "csrf_token": token})
        answers.append((r.status_code, "That email and password do not match an account." in r.text))
    assert answers == [(400, True), (400, True)]
    assert "tl_session" not in client.cookies


def test_open_redirects_are_refused(app: FastAPI, client: TestClient) -> None:
    make_person(app, "ann@example.com", make_org(app).id)
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        token = csrf_of(client.get("/app/signin").text)
        r = client.post(
            "/app/signin",
            data={"email": "ann@example.com", "password": PASSWORD, "csrf_token": token, "next": target},
            follow_redirects=False,
        )
        assert r.headers["location"] == "/app/"


def test_sign_in_form_needs_its_presession_token(app: FastAPI, client: TestClient) -> None:
    make_person(app, "ann@example.com", make_org(app).id)
    r = client.post(
        "/app/signin", data={"email": "ann@example.com", "password": PASSWORD, "csrf_token": "forged"}
    )
    assert r.status_code == 403
    assert "This form has expired" in r.text


def test_idle_timeout_ends_the_session(app: FastAPI, client: TestClient, clock: MovableClock) -> None:
    make_person(app, "ann@example.com", make_org(app).id)
    sign_in(client, "ann@example.com")
    idle = ctx_of(app).settings.dashboard_session_idle_seconds
    clock.advance(idle - 120)
    assert client.get("/app/settings").status_code == 200  # activity slides the idle window
    clock.advance(idle - 120)
    assert client.get("/app/settings").status_code == 200
    clock.advance(idle + 1)
    r = client.get("/app/settings", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"].startswith("/app/signin")
    with ctx_of(app).db.read() as s:
        assert s.query(DashboardSession).count() == 0  # the expired row is gone


def test_absolute_lifetime_ends_an_active_session(
    app: FastAPI, client: TestClient, clock: MovableClock
) -> None:
    make_person(app, "ann@example.com", make_org(app).id)
    sign_in(client, "ann@example.com")
    settings = ctx_of(app).settings
    step = settings.dashboard_session_idle_seconds // 2
    elapsed = 0
    while elapsed + step < settings.dashboard_session_max_seconds:
        clock.advance(step)
        elapsed += step
        assert client.get("/app/account").status_code == 200
    clock.advance(settings.dashboard_session_max_seconds - elapsed)
    assert client.get("/app/account", follow_redirects=False).status_code == 303


def test_sign_out_ends_the_session(app: FastAPI, client: TestClient) -> None:
    make_person(app, "ann@example.com", make_org(app).id)
    csrf = sign_in(client, "ann@example.com")
    plain = client.cookies["tl_session"]
    r = client.post("/app/signout", data={"csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303
    client.cookies.set("tl_session", plain)  # a copied cookie no longer works either
    assert client.get("/app/account", follow_redirects=False).status_code == 303


def test_password_change_signs_out_everywhere(app: FastAPI) -> None:
    make_person(app, "ann@example.com", make_org(app).id)
    with TestClient(app) as laptop, TestClient(app) as phone:
        csrf = sign_in(laptop, "ann@example.com")
        sign_in(phone, "ann@example.com")
        r = laptop.post(
            "/app/account/password",
            data={"csrf_token": csrf, "current_password": PASSWORD, "new_password": "a new long password"},
            follow_redirects=False,
        )
        assert r.status_code == 303
        for client in (laptop, phone):
            assert client.get("/app/account", follow_redirects=False).status_code == 303
        sign_in(phone, "ann@example.com", "a new long password")


def test_password_change_errors_are_shown_by_their_field(app: FastAPI, client: TestClient) -> None:
    make_person(app, "ann@example.com", make_org(app).id)
    csrf = sign_in(client, "ann@example.com")
    r = client.post(
        "/app/account/password",
        data={"csrf_token": csrf, "current_password": "nope", "new_password": "x" * 12},
    )
    assert r.status_code == 400
    assert "The current password is not right." in r.text
    r = client.post(
        "/app/account/password",
        data={"csrf_token": csrf, "current_password": PASSWORD, "new_password": "short"},
    )
    assert r.status_code == 400
    assert "Use at least 10 characters." in r.text


def test_every_state_change_needs_the_csrf_token(app: FastAPI, client: TestClient) -> None:
    org = make_org(app)
    make_person(app, "ann@example.com", org.id)
    csrf = sign_in(client, "ann@example.com")
    posts = [
        "/app/signout",
        "/app/account/password",
        "/app/settings/api-key/rotate",
        "/app/settings/api-key/revoke",
        "/app/settings/event-keys",
        "/app/settings/tool-keys",
        "/app/settings/cards",
        "/app/creatives",
        "/app/publishing",
        "/app/campaigns/new",
    ]
    for path in posts:
        for data in ({}, {"csrf_token": "x" + csrf}):
            r = client.post(path, data=data)
            assert r.status_code == 403, path
            assert "This form has expired" in r.text
    # The header htmx sends is accepted instead of the field.
    r = client.post("/app/settings/api-key/rotate", headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200
    assert 'id="new-secret"' in r.text


def test_sign_in_attempts_are_throttled_per_email(app: FastAPI, client: TestClient) -> None:
    make_person(app, "ann@example.com", make_org(app).id)
    limit = ctx_of(app).settings.dashboard_signin_per_hour_per_email
    statuses = []
    for _ in range(limit + 1):
        token = csrf_of(client.get("/app/signin").text)
        r = client.post(
            "/app/signin", data={"email": "ANN@example.com", "password": "wrong one!", "csrf_token": token}
        )
        statuses.append(r.status_code)
    assert statuses == [400] * limit + [429]
    # The right password does not get through the spent budget either.
    token = csrf_of(client.get("/app/signin").text)
    r = client.post(
        "/app/signin", data={"email": "ann@example.com", "password": PASSWORD, "csrf_token": token}
    )
    assert r.status_code == 429
    assert "Too many sign-in attempts" in r.text


def test_sign_in_attempts_are_throttled_per_address(app: FastAPI, client: TestClient) -> None:
    ctx = ctx_of(app)
    ctx.settings.dashboard_signin_per_hour_per_ip = 3
    statuses = []
    for i in range(4):
        token = csrf_of(client.get("/app/signin").text)
        r = client.post(
            "/app/signin", data={"email": f"p{i}@example.com", "password": "wrong one!", "csrf_token": token}
        )
        statuses.append(r.status_code)
    assert statuses == [400, 400, 400, 429]


def test_passwords_are_argon2id() -> None:
    stored = passwords.hash_password("a long password")
    assert stored.startswith("$argon2id$")
    assert passwords.verify_password(stored, "a long password")
    assert not passwords.verify_password(stored, "another password")
    assert not passwords.verify_password(None, "a long password")
    assert not passwords.verify_password("not a hash", "a long password")
