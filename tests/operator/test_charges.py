from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.factories import campaign_body, make_org
from threadline.kit.clock import MovableClock


@pytest.fixture
def clock() -> MovableClock:
    # Frozen: a deposit's created_at and its campaign's are read a few ms apart, and a ticking clock
    # crossing a second boundary in between made the charge's created_at differ from the campaign's.
    return MovableClock(frozen=True)


def test_charges_newest_first_including_declines(
    app: FastAPI, client: TestClient, admin_headers: dict[str, str], clock: MovableClock
) -> None:
    org = make_org(app)
    first = client.post("/v1/campaigns", json=campaign_body(name="First"), headers=org.headers).json()
    clock.advance(5)
    second = client.post("/v1/campaigns", json=campaign_body(name="Second"), headers=org.headers).json()

    # A declined card can be added; the charge fails later, at campaign creation.
    r = client.post(
        f"/admin/v1/orgs/{org.id}/payment_methods",
        json={"token": "tok_chargeDeclined"},
        headers=admin_headers,
    )
    assert r.status_code == 201
    clock.advance(5)
    r = client.post("/v1/campaigns", json=campaign_body(name="Third"), headers=org.headers)
    assert r.status_code == 402
    assert r.json()["error"]["code"] == "card_declined"

    r = client.get(f"/admin/v1/orgs/{org.id}/charges", headers=admin_headers)
    assert r.status_code == 200
    page = r.json()
    assert (page["object"], page["count"], page["has_more"]) == ("list", 3, False)
    declined, newer, older = page["data"]
    assert (page["first_id"], page["last_id"]) == (declined["id"], older["id"])
    assert older == {
        "id": older["id"],
        "campaign_id": first["id"],
        "amount_micros": 10_000_000,
        "kind": "deposit",
        "status": "succeeded",
        "created_at": first["created_at"],
    }
    assert (newer["campaign_id"], newer["status"]) == (second["id"], "succeeded")
    assert (declined["status"], declined["kind"], declined["amount_micros"]) == (
        "declined",
        "deposit",
        10_000_000,
    )

    r = client.get(
        f"/admin/v1/orgs/{org.id}/charges",
        params={"limit": 1, "after": declined["id"]},
        headers=admin_headers,
    )
    assert [c["id"] for c in r.json()["data"]] == [newer["id"]]
    assert r.json()["has_more"] is True


def test_insufficient_funds_card_is_declined_at_charge_time(
    app: FastAPI, client: TestClient, admin_headers: dict[str, str]
) -> None:
    org = make_org(app, card="tok_chargeDeclinedInsufficientFunds")
    r = client.post("/v1/campaigns", json=campaign_body(), headers=org.headers)
    assert r.status_code == 402
    charges = client.get(f"/admin/v1/orgs/{org.id}/charges", headers=admin_headers).json()["data"]
    assert [c["status"] for c in charges] == ["declined"]


def test_charges_are_per_org(app: FastAPI, client: TestClient, admin_headers: dict[str, str]) -> None:
    org = make_org(app)
    other = make_org(app, name="Other")
    client.post("/v1/campaigns", json=campaign_body(), headers=other.headers)
    theirs = client.get(f"/admin/v1/orgs/{other.id}/charges", headers=admin_headers).json()
    assert theirs["count"] == 1
    mine = client.get(f"/admin/v1/orgs/{org.id}/charges", headers=admin_headers).json()
    assert mine["data"] == []
    # Another org's charge id is no cursor here.
    r = client.get(
        f"/admin/v1/orgs/{org.id}/charges", params={"after": theirs["first_id"]}, headers=admin_headers
    )
    assert r.status_code == 400
    assert r.json()["error"] == {
        "message": "No such object for cursor after.",
        "type": "invalid_request_error",
        "param": "after",
        "code": "invalid_value",
    }


def test_charges_of_unknown_org_is_not_found(client: TestClient, admin_headers: dict[str, str]) -> None:
    r = client.get("/admin/v1/orgs/00000000-0000-4000-8000-000000000000/charges", headers=admin_headers)
    assert r.status_code == 404
    assert r.json()["error"] == {
        "message": "No such organization.",
        "type": "not_found_error",
        "param": "org_id",
        "code": "not_found",
    }
