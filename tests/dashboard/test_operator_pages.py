"""The operator's org page (keys, cards, charges, tier) and publisher page (keys, floor, origins), through
the ASGI app: each action, each error path, CSRF, and the operator role."""

from __future__ import annotations

import html as html_lib
import re
import uuid

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.dashboard.support import make_person, sign_in
from tests.factories import QUICKSTART_CAMPAIGN, TestOrg, ctx_of, make_org
from threadline.auth import keys
from threadline.kit.clock import MovableClock
from threadline.operator import publishers
from threadline.operator.schemas import PublisherCreate

SECRET_RE = re.compile(r'id="new-secret">([^<]+)<')
UNKNOWN = str(uuid.uuid4())


def _operator(app: FastAPI, client: TestClient) -> str:
    make_person(app, "op@example.com", None)
    return sign_in(client, "op@example.com")


def _publisher(app: FastAPI, origins: list[str] | None = None) -> tuple[str, str]:
    body = PublisherCreate(name="Chat app", allowed_origins=origins or [])
    new = publishers.create_publisher(ctx_of(app), body)
    return new.id, new.api_key


def _secret(html: str) -> str:
    found = SECRET_RE.search(html)
    assert found is not None, "no secret shown"
    return found.group(1).strip()


def _error_for(html: str, field: str) -> str:
    found = re.search(rf'data-error-for="{field}">([^<]*)<', html)
    assert found is not None, f"no error next to {field}"
    return html_lib.unescape(found.group(1))


def _answers(app: FastAPI, plain: str, kind: str) -> bool:
    ctx = ctx_of(app)
    return keys.authenticate(ctx.db, ctx.keys, ctx.clock, plain, kind) is not None


def _org_routes(org_id: str) -> list[str]:
    base = f"/app/ops/orgs/{org_id}"
    return [
        f"{base}/api-key/rotate",
        f"{base}/api-key/revoke",
        f"{base}/tier",
        f"{base}/cards",
        f"{base}/cards/{UNKNOWN}/delete",
        f"{base}/event-keys",
        f"{base}/event-keys/{UNKNOWN}/revoke",
    ]


def _publisher_routes(publisher_id: str) -> list[str]:
    base = f"/app/ops/publishers/{publisher_id}"
    return [f"{base}/settings", f"{base}/keys", f"{base}/keys/rotate", f"{base}/keys/{UNKNOWN}/revoke"]


# ------------------------------------------------------------------------------------------- orgs


def test_the_org_list_links_each_org_and_create_errors_sit_next_to_the_field(
    app: FastAPI, client: TestClient
) -> None:
    org = make_org(app)
    csrf = _operator(app, client)
    assert f'href="/app/ops/orgs/{org.id}"' in client.get("/app/ops/orgs").text
    r = client.post("/app/ops/orgs", data={"csrf_token": csrf, "name": "Beta", "url": "ftp://beta"})
    assert r.status_code == 400
    assert _error_for(r.text, "url") == "url: must be an absolute http(s) URL"
    assert 'value="Beta"' in r.text  # what was typed stays in the form
    r = client.post("/app/ops/orgs", data={"csrf_token": csrf, "name": " "})
    assert r.status_code == 400
    assert _error_for(r.text, "name") == "name: String should have at least 1 character"
    for name, url in (("Be\x00ta", ""), ("Beta", "https://be\x00ta.example")):  # no store keeps a NUL
        r = client.post("/app/ops/orgs", data={"csrf_token": csrf, "name": name, "url": url})
        assert r.status_code == 400, (name, url)
    r = client.post("/app/ops/orgs", data={"csrf_token": csrf, "name": "Beta"})
    assert r.status_code == 200
    assert _secret(r.text).startswith("ak_")


def test_org_page_shows_keys_cards_charges_and_tier(app: FastAPI, client: TestClient) -> None:
    org = make_org(app)
    assert client.post("/v1/campaigns", json=QUICKSTART_CAMPAIGN, headers=org.headers).status_code == 201
    _operator(app, client)
    r = client.get(f"/app/ops/orgs/{org.id}")
    assert r.status_code == 200
    assert "Acme Inc." in r.text
    assert "visa •••• 4242" in r.text
    charges = r.text[r.text.index('id="charges-table"') :]
    assert "deposit" in charges
    assert "$10.00" in charges
    assert "<strong>Free</strong>: 0 of 15 tool calls" in r.text
    assert r.text.count('<label for="') == r.text.count("<select") + r.text.count("<input id=")


def test_rotate_shows_the_secret_once_and_the_old_key_answers_in_its_grace(
    app: FastAPI, client: TestClient, clock: MovableClock
) -> None:
    org = make_org(app)
    csrf = _operator(app, client)
    r = client.post(f"/app/ops/orgs/{org.id}/api-key/rotate", data={"csrf_token": csrf})
    assert r.status_code == 200
    new_key = _secret(r.text)
    assert new_key.startswith("ak_")
    assert 'id="grace"' in r.text
    assert _answers(app, org.api_key, "advertiser")
    assert _answers(app, new_key, "advertiser")
    assert new_key not in client.get(f"/app/ops/orgs/{org.id}").text  # shown once
    clock.advance(ctx_of(app).settings.key_rotation_grace_seconds + 1)
    ctx_of(app).keys.clear()
    assert not _answers(app, org.api_key, "advertiser")
    assert _answers(app, new_key, "advertiser")
    r = client.post(f"/app/ops/orgs/{org.id}/api-key/revoke", data={"csrf_token": csrf})
    assert "Every API key of this org is revoked." in r.text
    assert "No live API key." in r.text
    assert not _answers(app, new_key, "advertiser")


def test_event_and_tool_keys_are_created_and_revoked(app: FastAPI, client: TestClient) -> None:
    org = make_org(app)
    csrf = _operator(app, client)
    for kind, prefix, auth_kind in (("event-keys", "ek_", "event"), ("tool-keys", "sk_live_", "tool")):
        r = client.post(f"/app/ops/orgs/{org.id}/{kind}", data={"csrf_token": csrf, "label": "backend"})
        assert r.status_code == 200
        plain = _secret(r.text)
        assert plain.startswith(prefix)
        assert _answers(app, plain, auth_kind)
        found = re.search(rf'action="/app/ops/orgs/{org.id}/{kind}/([0-9a-f-]{{36}})/revoke"', r.text)
        assert found is not None
        r = client.post(found.group(0)[8:-1], data={"csrf_token": csrf})
        assert r.status_code == 200
        assert "revoked." in r.text
        assert not _answers(app, plain, auth_kind)
        # Revoked, unknown or not a key id at all: not found.
        for key_id in (found.group(1), UNKNOWN, "nope"):
            r = client.post(f"/app/ops/orgs/{org.id}/{kind}/{key_id}/revoke", data={"csrf_token": csrf})
            assert r.status_code == 404, key_id
    r = client.post(f"/app/ops/orgs/{org.id}/tool-keys", data={"csrf_token": csrf, "label": "a\x00b"})
    assert r.status_code == 400
    assert _error_for(r.text, "tool_label").startswith("label:")
    r = client.post(f"/app/ops/orgs/{org.id}/other-keys", data={"csrf_token": csrf, "label": "x"})
    assert r.status_code == 404


def test_cards_are_added_with_the_providers_message_and_removed(app: FastAPI, client: TestClient) -> None:
    org = make_org(app, card=None)
    csrf = _operator(app, client)
    r = client.post(f"/app/ops/orgs/{org.id}/cards", data={"csrf_token": csrf, "token": "tok_nope"})
    assert r.status_code == 400
    assert _error_for(r.text, "token")  # the payment service's message, next to the picker
    r = client.post(f"/app/ops/orgs/{org.id}/cards", data={"csrf_token": csrf, "token": ""})
    assert r.status_code == 400
    assert _error_for(r.text, "token")
    r = client.post(f"/app/ops/orgs/{org.id}/cards", data={"csrf_token": csrf, "token": "tok_mastercard"})
    assert r.status_code == 200
    assert "Card mastercard ending 4444 added." in r.text
    found = re.search(rf'action="/app/ops/orgs/{org.id}/cards/([0-9a-f-]{{36}})/delete"', r.text)
    assert found is not None
    r = client.post(f"/app/ops/orgs/{org.id}/cards/{found.group(1)}/delete", data={"csrf_token": csrf})
    assert "Card removed." in r.text
    assert "No card on file" in r.text
    r = client.post(f"/app/ops/orgs/{org.id}/cards/{found.group(1)}/delete", data={"csrf_token": csrf})
    assert r.status_code == 404


def test_tier_changes_with_a_partial_for_htmx(app: FastAPI, client: TestClient) -> None:
    org = make_org(app)
    csrf = _operator(app, client)
    r = client.post(f"/app/ops/orgs/{org.id}/tier", data={"csrf_token": csrf, "tier": "plus"})
    assert r.status_code == 200
    assert "Tier set to plus (150 tool calls a month)." in r.text
    assert "<h1>Acme Inc.</h1>" in r.text  # without htmx: the whole page
    r = client.post(
        f"/app/ops/orgs/{org.id}/tier",
        data={"csrf_token": csrf, "tier": "pro"},
        headers={"HX-Request": "true"},
    )
    assert r.status_code == 200
    assert r.text.lstrip().startswith('<section class="card" id="tier-section"')
    assert "<strong>Pro</strong>: 0 of 600" in r.text
    for bad in ("gold", ""):
        r = client.post(
            f"/app/ops/orgs/{org.id}/tier",
            data={"csrf_token": csrf, "tier": bad},
            headers={"HX-Request": "1"},
        )
        assert r.status_code == 400
        assert _error_for(r.text, "tier").startswith("tier: Input should be 'free', 'plus', 'pro' or 'max'")
    assert "<strong>Pro</strong>" in client.get(f"/app/ops/orgs/{org.id}").text


def test_unknown_org_is_not_found(app: FastAPI, client: TestClient) -> None:
    csrf = _operator(app, client)
    for org_id in (UNKNOWN, "nope", "x" * 300):
        assert client.get(f"/app/ops/orgs/{org_id}").status_code == 404, org_id
        for path in [*_org_routes(org_id), f"/app/ops/orgs/{org_id}/tool-keys"]:
            r = client.post(
                path, data={"csrf_token": csrf, "tier": "plus", "token": "tok_visa", "label": "x"}
            )
            assert r.status_code == 404, path
            assert "No such" in r.text


# ------------------------------------------------------------------------------------- publishers


def test_the_publisher_list_links_each_publisher_and_create_errors_sit_next_to_the_field(
    app: FastAPI, client: TestClient
) -> None:
    publisher_id, _ = _publisher(app)
    csrf = _operator(app, client)
    assert f'href="/app/ops/publishers/{publisher_id}"' in client.get("/app/ops/publishers").text
    for form, field, message in (
        ({"floor_cpm_micros": "-1"}, "floor_cpm_micros", "floor_cpm_micros: Input should be greater than"),
        ({"allowed_origins": "https://a.example, ftp://b"}, "allowed_origins", "allowed_origins[1]: must be"),
        ({"supply": "-bad"}, "supply", "supply: must be 1-64 letters"),
        ({"allowed_origins": "https://a\x00.example"}, "allowed_origins", "allowed_origins[0]: must be"),
        ({"name": "N\x00"}, "name", "name: must not contain NUL characters"),
    ):
        r = client.post("/app/ops/publishers", data={"csrf_token": csrf, "name": "New", **form})
        assert r.status_code == 400, form
        assert _error_for(r.text, field).startswith(message), r.text
    r = client.post("/app/ops/publishers", data={"csrf_token": csrf, "name": "New", "floor_cpm_micros": "5"})
    assert r.status_code == 200
    assert _secret(r.text).startswith("pk_")


def test_floor_and_origins_are_edited_with_the_apis_messages(app: FastAPI, client: TestClient) -> None:
    publisher_id, _ = _publisher(app, ["https://old.example"])
    csrf = _operator(app, client)
    page = client.get(f"/app/ops/publishers/{publisher_id}")
    assert page.status_code == 200
    assert 'value="1000000"' in page.text
    assert "https://old.example</textarea>" in page.text
    url = f"/app/ops/publishers/{publisher_id}/settings"
    for floor, message in (
        ("-1", "floor_cpm_micros: Input should be greater than or equal to 0"),
        ("100000001", "floor_cpm_micros: Input should be less than or equal to 100000000"),
        ("1.5x", "floor_cpm_micros: Input should be a valid integer"),
    ):
        r = client.post(url, data={"csrf_token": csrf, "floor_cpm_micros": floor, "allowed_origins": ""})
        assert r.status_code == 400, floor
        assert _error_for(r.text, "floor_cpm_micros").startswith(message)
        assert f'value="{floor}"' in r.text  # what was typed stays
    for origins, message in (
        ("https://ok.example\nhttps://chat.example/path", "allowed_origins[1]: must be an origin like"),
        ("chat.example", "allowed_origins[0]: must be an origin like"),
        (
            "\n".join(f"https://{i}.example" for i in range(51)),
            "allowed_origins: List should have at most 50",
        ),
    ):
        r = client.post(url, data={"csrf_token": csrf, "floor_cpm_micros": "5", "allowed_origins": origins})
        assert r.status_code == 400, origins
        assert _error_for(r.text, "allowed_origins").startswith(message)
    got = publishers.get_publisher(ctx_of(app), publisher_id)
    assert (got.floor_cpm_micros, got.allowed_origins) == (1_000_000, ["https://old.example"])  # unchanged
    r = client.post(
        url,
        data={
            "csrf_token": csrf,
            "floor_cpm_micros": "2500000",
            "allowed_origins": "HTTPS://Chat.Example:443\nhttps://chat.example, http://b.example:8080",
        },
    )
    assert r.status_code == 200
    assert "Saved." in r.text
    got = publishers.get_publisher(ctx_of(app), publisher_id)
    assert got.floor_cpm_micros == 2_500_000
    assert got.allowed_origins == ["https://chat.example", "http://b.example:8080"]
    # htmx: only the section comes back, errors included (the page's htmx config swaps a 400).
    r = client.post(
        url,
        data={"csrf_token": csrf, "floor_cpm_micros": "", "allowed_origins": ""},
        headers={"HX-Request": "true"},
    )
    assert r.status_code == 200
    assert r.text.lstrip().startswith('<section class="card" id="publisher-settings"')
    got = publishers.get_publisher(ctx_of(app), publisher_id)
    assert (got.floor_cpm_micros, got.allowed_origins) == (2_500_000, [])  # empty floor: unchanged
    r = client.post(url, data={"csrf_token": csrf, "floor_cpm_micros": "-5"}, headers={"HX-Request": "true"})
    assert r.status_code == 400
    assert r.text.lstrip().startswith('<section class="card" id="publisher-settings"')
    assert _error_for(r.text, "floor_cpm_micros")


def test_publisher_keys_are_created_rotated_with_grace_and_revoked(
    app: FastAPI, client: TestClient, clock: MovableClock
) -> None:
    publisher_id, first = _publisher(app)
    csrf = _operator(app, client)
    base = f"/app/ops/publishers/{publisher_id}"
    r = client.post(f"{base}/keys", data={"csrf_token": csrf, "label": "second app"})
    assert r.status_code == 200
    second = _secret(r.text)
    assert second.startswith("pk_")
    assert _answers(app, second, "publisher")
    assert "second app" in r.text
    for label in ("a\x00b", "x" * 300):  # a NUL no store keeps; a long label is cut to the field's size
        assert client.post(f"{base}/keys", data={"csrf_token": csrf, "label": label}).status_code < 500
    r = client.post(f"{base}/keys/rotate", data={"csrf_token": csrf})
    assert r.status_code == 200
    third = _secret(r.text)
    assert 'id="grace"' in r.text
    assert all(_answers(app, k, "publisher") for k in (first, second, third))
    assert third not in client.get(base).text  # shown once
    clock.advance(ctx_of(app).settings.key_rotation_grace_seconds + 1)
    ctx_of(app).keys.clear()
    assert not _answers(app, first, "publisher")
    assert not _answers(app, second, "publisher")
    page = client.get(base).text
    found = re.findall(rf'action="{base}/keys/([0-9a-f-]{{36}})/revoke"', page)
    assert len(found) == 1  # the keys past their grace are gone from the list
    r = client.post(f"{base}/keys/{found[0]}/revoke", data={"csrf_token": csrf})
    assert r.status_code == 200
    assert "Publisher key revoked." in r.text
    assert "No live publisher key." in r.text
    assert not _answers(app, third, "publisher")
    other_id, other_key = _publisher(app)
    with ctx_of(app).db.read() as s:
        foreign = keys.live_keys(s, kind="publisher", publisher_id=other_id)[0].id
    for key_id in (found[0], UNKNOWN, "nope", foreign):
        assert client.post(f"{base}/keys/{key_id}/revoke", data={"csrf_token": csrf}).status_code == 404
    assert _answers(app, other_key, "publisher")


def test_unknown_publisher_is_not_found(app: FastAPI, client: TestClient) -> None:
    csrf = _operator(app, client)
    for publisher_id in (UNKNOWN, "nope"):
        assert client.get(f"/app/ops/publishers/{publisher_id}").status_code == 404
        for path in _publisher_routes(publisher_id):
            for floor in ("5", "-1"):  # valid or not, an unknown publisher is a 404 first
                r = client.post(path, data={"csrf_token": csrf, "floor_cpm_micros": floor, "label": "x"})
                assert r.status_code == 404, (path, floor)
        r = client.post(
            f"/app/ops/publishers/{publisher_id}/keys", data={"csrf_token": csrf, "label": "x" * 300}
        )
        assert r.status_code == 404


# ----------------------------------------------------------------------------------- CSRF and role


def test_every_new_action_refuses_a_missing_or_wrong_csrf_token(app: FastAPI, client: TestClient) -> None:
    org = make_org(app)
    publisher_id, publisher_key = _publisher(app)
    _operator(app, client)
    for path in [*_org_routes(org.id), *_publisher_routes(publisher_id)]:
        for sent in ({}, {"csrf_token": "forged"}):
            r = client.post(path, data={**sent, "tier": "max", "floor_cpm_micros": "7", "label": "x"})
            assert r.status_code == 403, (path, sent)
            assert "This form has expired." in r.text
        r = client.post(path, data={"tier": "max"}, headers={"X-CSRF-Token": "forged"})
        assert r.status_code == 403, path
    assert _answers(app, org.api_key, "advertiser")
    assert _answers(app, publisher_key, "publisher")
    assert publishers.get_publisher(ctx_of(app), publisher_id).floor_cpm_micros == 1_000_000


@pytest.mark.parametrize("who", ["advertiser", "anonymous"])
def test_the_new_pages_are_for_operators_only(app: FastAPI, client: TestClient, who: str) -> None:
    org: TestOrg = make_org(app)
    publisher_id, _ = _publisher(app)
    csrf = ""
    if who == "advertiser":
        make_person(app, "ann@example.com", org.id)
        csrf = sign_in(client, "ann@example.com")
    expected = 404 if who == "advertiser" else 303  # as the other operator pages: 404, or sign in first
    for path in (f"/app/ops/orgs/{org.id}", f"/app/ops/publishers/{publisher_id}"):
        r = client.get(path, follow_redirects=False)
        assert r.status_code == expected, path
    for path in [*_org_routes(org.id), *_publisher_routes(publisher_id)]:
        r = client.post(path, data={"csrf_token": csrf, "tier": "max"}, follow_redirects=False)
        assert r.status_code == expected, path
        if who == "anonymous":
            assert r.headers["location"].startswith("/app/signin")
    assert _answers(app, org.api_key, "advertiser")
