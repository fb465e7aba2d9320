"""Campaign create (happy path), read-back, get and update."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.advertiser.conftest import NOW
from tests.advertiser.helpers import approve, create_campaign, err
from tests.factories import campaign_body, ctx_of, make_org
from threadline.store.models import Campaign

WINDOW = 172800


def expected_campaign(cid: str, **overrides: Any) -> dict[str, Any]:
    body = {
        "id": cid,
        "name": "Summer launch",
        "description": "Q3 awareness push",
        "status": "paused",
        "review_status": "in_review",
        "rejection_reason": None,
        "start_time": NOW + WINDOW,
        "end_time": None,
        "budget": {"lifetime_spend_limit_micros": 25000000},
        "recurring_frequency": "daily",
        "pricing_model": "cpm",
        "targeting": {"locations": {"include": [{"id": "US", "type": "country", "country_code": "US"}]}},
        "created_at": NOW,
        "updated_at": NOW,
    }
    body.update(overrides)
    return body


def test_quickstart_create_reads_back_the_campaign(app: FastAPI, client: TestClient) -> None:
    org = make_org(app)
    r = client.post("/v1/campaigns", json=campaign_body(), headers=org.headers)
    assert r.status_code == 201
    cid = r.json()["id"]
    assert r.json() == expected_campaign(cid)
    got = client.get(f"/v1/campaigns/{cid}", headers=org.headers)
    assert got.status_code == 200
    assert got.json() == expected_campaign(cid)


def test_create_with_every_field(app: FastAPI, client: TestClient) -> None:
    org = make_org(app)
    body = campaign_body(
        ad_account_id=org.ad_account_id,
        start_time=NOW + WINDOW + 3600,
        end_time=NOW + WINDOW + 7200,
        recurring_frequency="weekly",
        pricing_model="cpc",
        targeting={
            "locations": {
                "include": [
                    "us",
                    {"country_code": "de"},
                    {"id": "FR"},
                    "US-CA",
                    {"id": "GB", "type": "country"},
                ]
            }
        },
    )
    r = client.post("/v1/campaigns", json=body, headers=org.headers)
    assert r.status_code == 201, r.text
    include = [{"id": c, "type": "country", "country_code": c} for c in ("US", "DE", "FR", "GB")]
    assert r.json() == expected_campaign(
        r.json()["id"],
        start_time=NOW + WINDOW + 3600,
        end_time=NOW + WINDOW + 7200,
        recurring_frequency="weekly",
        pricing_model="cpc",
        targeting={"locations": {"include": include}},
    )


def test_no_targeting_means_everywhere(app: FastAPI, client: TestClient) -> None:
    org = make_org(app)
    body = campaign_body()
    del body["targeting"]
    del body["description"]
    r = client.post("/v1/campaigns", json=body, headers=org.headers)
    assert r.status_code == 201
    assert r.json()["targeting"] == {"locations": {"include": []}}
    assert r.json()["description"] is None


def test_auto_approve_approves_at_once(app: FastAPI, client: TestClient) -> None:
    ctx_of(app).settings.auto_approve = True
    org = make_org(app)
    campaign = create_campaign(client, org)
    assert (campaign["status"], campaign["review_status"]) == ("paused", "approved")


def test_unknown_foreign_and_malformed_ids_are_404(app: FastAPI, client: TestClient) -> None:
    org, other = make_org(app), make_org(app, name="Other Org")
    theirs = create_campaign(client, other)["id"]
    missing = err("No such campaign.", "not_found", type_="not_found_error")
    for cid in (theirs, "6d2f1f7c-0000-4000-8000-000000000000", "not-a-uuid", "x" * 300):
        for method, path in (
            ("GET", ""),
            ("POST", ""),
            ("POST", "/activate"),
            ("POST", "/pause"),
            ("POST", "/archive"),
        ):
            r = client.request(
                method,
                f"/v1/campaigns/{cid}{path}",
                json={} if path == "" and method == "POST" else None,
                headers=org.headers,
            )
            assert r.status_code == 404, (cid, path)
            assert r.json() == missing


def test_update_fields(app: FastAPI, client: TestClient, clock: Any) -> None:
    org = make_org(app)
    cid = create_campaign(client, org)["id"]
    clock.advance(60)
    patch = {
        "name": "Autumn launch",
        "description": None,
        "end_time": NOW + WINDOW + 86400,
        "budget": {"lifetime_spend_limit_micros": 990000},
        "targeting": {"locations": {"include": ["ca"]}},
        "recurring_frequency": "monthly",
        "pricing_model": "cpc",
    }
    r = client.post(f"/v1/campaigns/{cid}", json=patch, headers=org.headers)
    assert r.status_code == 200
    assert r.json() == expected_campaign(
        cid,
        name="Autumn launch",
        description=None,
        end_time=NOW + WINDOW + 86400,
        budget={"lifetime_spend_limit_micros": 990000},
        targeting={"locations": {"include": [{"id": "CA", "type": "country", "country_code": "CA"}]}},
        recurring_frequency="monthly",
        pricing_model="cpc",
        updated_at=NOW + 60,
    )
    assert client.get(f"/v1/campaigns/{cid}", headers=org.headers).json() == r.json()
    # end_time null = open-ended again; targeting null = untargeted; start_time may move later
    r = client.post(
        f"/v1/campaigns/{cid}",
        json={"end_time": None, "targeting": None, "start_time": NOW + WINDOW + 500},
        headers=org.headers,
    )
    assert r.status_code == 200
    assert (r.json()["end_time"], r.json()["start_time"]) == (None, NOW + WINDOW + 500)
    assert r.json()["targeting"] == {"locations": {"include": []}}


def test_update_does_not_touch_review(app: FastAPI, client: TestClient) -> None:
    org = make_org(app)
    cid = create_campaign(client, org)["id"]
    approve(app, cid)
    r = client.post(f"/v1/campaigns/{cid}", json={"name": "Renamed"}, headers=org.headers)
    assert r.json()["review_status"] == "approved"


def test_update_errors(app: FastAPI, client: TestClient, clock: Any) -> None:
    org = make_org(app)
    cid = create_campaign(client, org)["id"]
    url = f"/v1/campaigns/{cid}"
    cases: list[tuple[dict[str, Any], dict[str, Any]]] = [
        (
            {"status": "active"},
            err(
                "A campaign's status cannot be set in the body; use /activate, /pause or /archive.",
                "use_status_action",
                "status",
            ),
        ),
        ({"name": None}, err("name cannot be null.", "invalid_value", "name")),
        ({"budget": None}, err("budget cannot be null.", "invalid_value", "budget")),
        ({"start_time": None}, err("start_time cannot be null.", "invalid_value", "start_time")),
        ({"pricing_model": None}, err("pricing_model cannot be null.", "invalid_value", "pricing_model")),
        ({"end_time": NOW + WINDOW}, err("end_time must be after start_time.", "invalid_value", "end_time")),
        (
            {"start_time": NOW + 10},
            err(
                "start_time must be at least 172800 seconds in the future (the launch window).",
                "invalid_value",
                "start_time",
            ),
        ),
        (
            {"start_time": NOW + WINDOW + 100, "end_time": NOW + WINDOW + 100},
            err("end_time must be after start_time.", "invalid_value", "end_time"),
        ),
        (
            {"targeting": {"locations": {"include": ["ZZ"]}}},
            err(
                "'ZZ' is not an ISO 3166-1 alpha-2 country code.",
                "invalid_value",
                "targeting.locations.include[0]",
            ),
        ),
        ({"ad_groups": []}, err("Unknown parameter: ad_groups.", "unknown_param", "ad_groups")),
    ]
    for patch, expected in cases:
        r = client.post(url, json=patch, headers=org.headers)
        assert r.status_code == 400, patch
        assert r.json() == expected, patch
    assert client.get(url, headers=org.headers).json() == expected_campaign(cid)


def test_budget_cannot_go_below_spend(app: FastAPI, client: TestClient) -> None:
    org = make_org(app)
    cid = create_campaign(client, org)["id"]
    ctx = ctx_of(app)
    with ctx.db.write() as s:  # spend is written by serving; stand in for it
        s.query(Campaign).filter(Campaign.id == cid).update({"spent_micros": 5_000_000})
    r = client.post(
        f"/v1/campaigns/{cid}",
        json={"budget": {"lifetime_spend_limit_micros": 4_999_999}},
        headers=org.headers,
    )
    assert r.status_code == 400
    assert r.json() == err(
        "The budget cannot be below what was already spent (5000000 micros).",
        "invalid_value",
        "budget.lifetime_spend_limit_micros",
    )
    r = client.post(
        f"/v1/campaigns/{cid}",
        json={"budget": {"lifetime_spend_limit_micros": 5_000_000}},
        headers=org.headers,
    )
    assert r.status_code == 200


def test_start_time_unchanged_is_accepted_after_it_passed(
    app: FastAPI, client: TestClient, clock: Any
) -> None:
    org = make_org(app)
    created = create_campaign(client, org)
    clock.advance(WINDOW + 10)
    r = client.post(
        f"/v1/campaigns/{created['id']}",
        json={"start_time": created["start_time"], "name": "Still fine"},
        headers=org.headers,
    )
    assert r.status_code == 200
    assert r.json()["start_time"] == created["start_time"]
