from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from tests.factories import ctx_of, make_org
from threadline.app import create_app
from threadline.config import Settings
from threadline.kit.clock import MovableClock
from threadline.store.models import Org, PaymentMethod

PM_NOT_FOUND = {
    "error": {
        "message": "No such payment method.",
        "type": "not_found_error",
        "param": "id",
        "code": "not_found",
    }
}


def _add(client: TestClient, headers: dict[str, str], org_id: str, token: str) -> Any:
    return client.post(f"/admin/v1/orgs/{org_id}/payment_methods", json={"token": token}, headers=headers)


SANDBOX_CARDS: list[Any] = [
    ("tok_visa", "visa", "4242"),
    ("tok_mastercard", "mastercard", "4444"),
    ("tok_chargeDeclined", "visa", "0002"),
    ("tok_chargeDeclinedInsufficientFunds", "visa", "9995"),
]


def test_add_each_sandbox_card(app: FastAPI, client: TestClient, admin_headers: dict[str, str]) -> None:
    for token, brand, last4 in SANDBOX_CARDS:
        org = make_org(app, card=None)
        r = _add(client, admin_headers, org.id, token)
        assert r.status_code == 201
        body = r.json()
        assert body == {"id": body["id"], "brand": brand, "last4": last4, "is_default": True}


def test_newest_card_becomes_the_only_default(
    app: FastAPI, client: TestClient, admin_headers: dict[str, str]
) -> None:
    org = make_org(app, card=None)
    first = _add(client, admin_headers, org.id, "tok_visa").json()
    second = _add(client, admin_headers, org.id, "tok_mastercard").json()
    with ctx_of(app).db.read() as s:
        defaults = dict(s.execute(select(PaymentMethod.id, PaymentMethod.is_default)).tuples().all())
    assert defaults == {first["id"]: False, second["id"]: True}


BAD_TOKENS: list[Any] = [
    ({"token": "tok_unknown"}, "invalid_value", "Unknown or unusable card token."),
    ({"token": ""}, "invalid_value", "token: String should have at least 1 character"),
    ({"token": "t" * 256}, "invalid_value", "token: String should have at most 255 characters"),
    ({}, "missing_param", "Missing required parameter: token."),
    ({"token": 4242}, "invalid_value", "token: Input should be a valid string"),
]


def test_bad_tokens_are_refused(app: FastAPI, client: TestClient, admin_headers: dict[str, str]) -> None:
    for body, code, message in BAD_TOKENS:
        org = make_org(app, card=None)
        r = client.post(f"/admin/v1/orgs/{org.id}/payment_methods", json=body, headers=admin_headers)
        assert r.status_code == 400
        assert r.json() == {
            "error": {"message": message, "type": "invalid_request_error", "param": "token", "code": code}
        }
        with ctx_of(app).db.read() as s:
            assert s.execute(select(PaymentMethod)).first() is None


def test_unknown_field_is_refused(app: FastAPI, client: TestClient, admin_headers: dict[str, str]) -> None:
    org = make_org(app, card=None)
    r = client.post(
        f"/admin/v1/orgs/{org.id}/payment_methods",
        json={"token": "tok_visa", "cvc": "123"},
        headers=admin_headers,
    )
    assert r.status_code == 400
    assert r.json()["error"] == {
        "message": "Unknown parameter: cvc.",
        "type": "invalid_request_error",
        "param": "cvc",
        "code": "unknown_param",
    }


def test_add_to_unknown_org_is_not_found(client: TestClient, admin_headers: dict[str, str]) -> None:
    r = _add(client, admin_headers, "00000000-0000-4000-8000-000000000000", "tok_visa")
    assert r.status_code == 404
    assert r.json()["error"]["param"] == "org_id"


def test_delete_card(app: FastAPI, client: TestClient, admin_headers: dict[str, str]) -> None:
    org = make_org(app, card=None)
    pm = _add(client, admin_headers, org.id, "tok_visa").json()
    r = client.delete(f"/admin/v1/orgs/{org.id}/payment_methods/{pm['id']}", headers=admin_headers)
    assert r.status_code == 204
    assert r.content == b""
    with ctx_of(app).db.read() as s:
        row = s.execute(select(PaymentMethod)).scalar_one()
    assert row.deleted_at is not None
    assert row.is_default is False
    # Deleting it again: it no longer exists.
    r = client.delete(f"/admin/v1/orgs/{org.id}/payment_methods/{pm['id']}", headers=admin_headers)
    assert r.status_code == 404
    assert r.json() == PM_NOT_FOUND


UNKNOWN_PM_IDS: list[Any] = ["00000000-0000-4000-8000-000000000000", "nope"]


def test_delete_unknown_card_is_not_found(
    app: FastAPI, client: TestClient, admin_headers: dict[str, str]
) -> None:
    for pm_id in UNKNOWN_PM_IDS:
        org = make_org(app, card=None)
        r = client.delete(f"/admin/v1/orgs/{org.id}/payment_methods/{pm_id}", headers=admin_headers)
        assert r.status_code == 404
        assert r.json() == PM_NOT_FOUND


def test_delete_another_orgs_card_is_not_found(
    app: FastAPI, client: TestClient, admin_headers: dict[str, str]
) -> None:
    mine = make_org(app, card=None)
    theirs = make_org(app, name="Other", card=None)
    pm = _add(client, admin_headers, theirs.id, "tok_visa").json()
    r = client.delete(f"/admin/v1/orgs/{mine.id}/payment_methods/{pm['id']}", headers=admin_headers)
    assert r.status_code == 404
    assert r.json() == PM_NOT_FOUND
    r = client.delete(
        f"/admin/v1/orgs/00000000-0000-4000-8000-000000000000/payment_methods/{pm['id']}",
        headers=admin_headers,
    )
    assert r.status_code == 404
    assert r.json()["error"]["param"] == "org_id"


def test_unreachable_provider_is_503(
    settings: Settings, clock: MovableClock, admin_headers: dict[str, str]
) -> None:
    stripe_settings = settings.model_copy(
        update={
            "payment_provider": "stripe",
            "stripe_api_key": "sk_test_x",
            "stripe_api_base": "http://127.0.0.1:1",
        }
    )
    app = create_app(stripe_settings, clock=clock)
    try:
        org = make_org(app, card=None)
        with TestClient(app, raise_server_exceptions=False) as client:
            r = _add(client, admin_headers, org.id, "tok_visa")
        assert r.status_code == 503
        assert r.headers["Retry-After"] == "1"
        assert r.json() == {
            "error": {
                "message": "The payment provider could not be reached. Retry later.",
                "type": "api_error",
                "param": None,
                "code": "payment_provider_unavailable",
            }
        }
        with ctx_of(app).db.read() as s:
            assert s.execute(select(PaymentMethod)).first() is None
    finally:
        ctx_of(app).db.dispose()


def test_provider_is_called_outside_any_write_transaction(
    app: FastAPI, client: TestClient, admin_headers: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A slow provider (Stripe over the network) must never hold the store's write lock."""
    ctx = ctx_of(app)
    if not ctx.db.is_sqlite:
        pytest.skip("only SQLite's single write lock makes a held transaction observable here")
    org = make_org(app, card=None)
    provider = ctx.payments
    real_attach = provider.attach_card
    writes_during_attach: list[bool] = []

    def attach_while_writing(token: str) -> Any:
        # Another writer must get through while the provider is busy.
        with ctx.db.write() as s:
            s.execute(update(Org).where(Org.id == org.id).values(url="https://during.example.com"))
        writes_during_attach.append(True)
        return real_attach(token)

    monkeypatch.setattr(provider, "attach_card", attach_while_writing)
    r = _add(client, admin_headers, org.id, "tok_visa")
    assert r.status_code == 201, r.text
    assert writes_during_attach == [True]
