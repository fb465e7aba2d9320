"""Ad groups: create under an existing campaign, read, update, and the review they trigger."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.advertiser.conftest import NOW
from tests.advertiser.helpers import approve, create_campaign, err, only_ad_group
from tests.factories import CARD_AD, make_org

NOT_FOUND = err("No such ad group.", "not_found", type_="not_found_error")


def expected_group(gid: str, cid: str, **overrides: Any) -> dict[str, Any]:
    body = {
        "id": gid,
        "campaign_id": cid,
        "name": "Core audience",
        "context_hints": ["running shoes", "marathon training"],
        "status": "active",
        "bidding_config": {"billing_event_type": "impression", "max_bid_micros": 2000000},
        "created_at": NOW,
        "updated_at": NOW,
    }
    body.update(overrides)
    return body


def test_nested_create_reads_back_the_group(app: FastAPI, client: TestClient) -> None:
    org = make_org(app)
    cid = create_campaign(client, org)["id"]
    group = only_ad_group(client, org, cid)
    assert group == expected_group(group["id"], cid)
    r = client.get(f"/v1/ad_groups/{group['id']}", headers=org.headers)
    assert (r.status_code, r.json()) == (200, group)


def test_create_group_without_ads_and_bid(app: FastAPI, client: TestClient, clock: Any) -> None:
    org = make_org(app)
    cid = create_campaign(client, org)["id"]
    approve(app, cid)
    clock.advance(30)
    r = client.post("/v1/ad_groups", json={"campaign_id": cid, "name": "Empty"}, headers=org.headers)
    assert r.status_code == 201
    assert r.json() == expected_group(
        r.json()["id"],
        cid,
        name="Empty",
        context_hints=[],
        bidding_config={"billing_event_type": "impression", "max_bid_micros": None},
        created_at=NOW + 30,
        updated_at=NOW + 30,
    )
    # A new ad group sends the campaign back to review.
    campaign = client.get(f"/v1/campaigns/{cid}", headers=org.headers).json()
    assert (campaign["review_status"], campaign["updated_at"]) == ("in_review", NOW + 30)


def test_create_group_with_ads(app: FastAPI, client: TestClient) -> None:
    org = make_org(app)
    cid = create_campaign(client, org)["id"]
    poll = {"creative": {"type": "poll", "question": "Which distance?", "options": ["5k", "10k", "Marathon"]}}
    body = {
        "campaign_id": cid,
        "name": "Polls",
        "status": "paused",
        "bidding_config": {"max_bid_micros": 100000000, "billing_event_type": "impression"},
        "ads": [poll, poll],
    }
    r = client.post("/v1/ad_groups", json=body, headers=org.headers)
    assert r.status_code == 201
    assert (r.json()["status"], r.json()["bidding_config"]["max_bid_micros"]) == ("paused", 100000000)
    ads = client.get("/v1/ads", params={"ad_group_id": r.json()["id"]}, headers=org.headers).json()["data"]
    assert [a["name"] for a in ads] == ["Which distance?", "Which distance?"]


def test_create_group_errors(app: FastAPI, client: TestClient) -> None:
    org, other = make_org(app), make_org(app, name="Other")
    cid = create_campaign(client, org)["id"]
    theirs = create_campaign(client, other)["id"]
    missing_campaign = err("No such campaign.", "not_found", "campaign_id", type_="not_found_error")
    poll = {"creative": {"type": "poll", "question": "Which distance?", "options": ["5k", "10k"]}}
    cases: list[tuple[dict[str, Any], int, dict[str, Any]]] = [
        (
            {"name": "Group"},
            400,
            err("Missing required parameter: campaign_id.", "missing_param", "campaign_id"),
        ),
        ({"campaign_id": theirs, "name": "Group"}, 404, missing_campaign),
        ({"campaign_id": "nope", "name": "Group"}, 404, missing_campaign),
        (
            {"campaign_id": cid, "name": "Group", "ads": [CARD_AD, poll]},
            400,
            err(
                "This ad group holds chat_card ads; every ad in an ad group has the same creative type.",
                "invalid_value",
                "ads[1].creative.type",
            ),
        ),
        (
            {"campaign_id": cid, "name": "Group", "ads": [CARD_AD] * 51},
            400,
            err("ads: List should have at most 50 items after validation, not 51", "invalid_value", "ads"),
        ),
        (
            {"campaign_id": cid, "name": "Group", "budget": 1},
            400,
            err("Unknown parameter: budget.", "unknown_param", "budget"),
        ),
    ]
    for body, status, expected in cases:
        r = client.post("/v1/ad_groups", json=body, headers=org.headers)
        assert (r.status_code, r.json()) == (status, expected), body


def test_update_group(app: FastAPI, client: TestClient, clock: Any) -> None:
    org = make_org(app)
    cid = create_campaign(client, org)["id"]
    approve(app, cid)
    gid = only_ad_group(client, org, cid)["id"]
    clock.advance(5)
    patch = {
        "name": "Renamed",
        "context_hints": ["trail"],
        "bidding_config": {"max_bid_micros": None},
        "status": "paused",
    }
    r = client.post(f"/v1/ad_groups/{gid}", json=patch, headers=org.headers)
    assert r.status_code == 200
    assert r.json() == expected_group(
        gid,
        cid,
        name="Renamed",
        context_hints=["trail"],
        status="paused",
        bidding_config={"billing_event_type": "impression", "max_bid_micros": None},
        updated_at=NOW + 5,
    )
    r = client.post(f"/v1/ad_groups/{gid}", json={"status": "archived"}, headers=org.headers)
    assert r.json()["status"] == "paused"  # archive reads back as paused
    # Updates that add nothing to review keep the approval.
    assert client.get(f"/v1/campaigns/{cid}", headers=org.headers).json()["review_status"] == "approved"


def test_update_group_errors(app: FastAPI, client: TestClient) -> None:
    org = make_org(app)
    gid = only_ad_group(client, org, create_campaign(client, org)["id"])["id"]
    cases: list[tuple[dict[str, Any], dict[str, Any]]] = [
        ({"name": None}, err("name cannot be null.", "invalid_value", "name")),
        ({"bidding_config": None}, err("bidding_config cannot be null.", "invalid_value", "bidding_config")),
        (
            {"bidding_config": {"max_bid_micros": 0}},
            err(
                "bidding_config.max_bid_micros: Input should be greater than or equal to 1",
                "invalid_value",
                "bidding_config.max_bid_micros",
            ),
        ),
        (
            {"status": "deleted"},
            err("status: Input should be 'active', 'paused' or 'archived'", "invalid_value", "status"),
        ),
        ({"ads": []}, err("Unknown parameter: ads.", "unknown_param", "ads")),
    ]
    for body, expected in cases:
        r = client.post(f"/v1/ad_groups/{gid}", json=body, headers=org.headers)
        assert (r.status_code, r.json()) == (400, expected), body


def test_group_ids_of_other_orgs_are_404(app: FastAPI, client: TestClient) -> None:
    org, other = make_org(app), make_org(app, name="Other")
    theirs = only_ad_group(client, other, create_campaign(client, other)["id"])["id"]
    for gid in (theirs, "bad-id"):
        for method, path, body in (
            ("GET", "", None),
            ("POST", "", {"name": "Mine now"}),
            ("POST", "/activate", None),
            ("POST", "/pause", None),
            ("POST", "/archive", None),
        ):
            r = client.request(method, f"/v1/ad_groups/{gid}{path}", json=body, headers=org.headers)
            assert (r.status_code, r.json()) == (404, NOT_FOUND), (gid, path)


def test_list_requires_campaign_id(app: FastAPI, client: TestClient) -> None:
    org = make_org(app)
    r = client.get("/v1/ad_groups", headers=org.headers)
    assert (r.status_code, r.json()) == (
        400,
        err("Missing required parameter: campaign_id.", "missing_param", "campaign_id"),
    )
    r = client.get(
        "/v1/ad_groups", params={"campaign_id": "6d2f1f7c-0000-4000-8000-000000000000"}, headers=org.headers
    )
    assert (r.status_code, r.json()) == (
        404,
        err("No such campaign.", "not_found", "campaign_id", type_="not_found_error"),
    )


def test_at_most_50_live_groups_per_campaign(app: FastAPI, client: TestClient) -> None:
    org = make_org(app)
    body_groups = [{"name": f"Group {i}", "ads": [CARD_AD]} for i in range(50)]
    cid = create_campaign(client, org, ad_groups=body_groups)["id"]
    r = client.post("/v1/ad_groups", json={"campaign_id": cid, "name": "One more"}, headers=org.headers)
    assert (r.status_code, r.json()) == (
        400,
        err("A campaign can have at most 50 ad groups.", "invalid_value", "campaign_id"),
    )
    first = client.get("/v1/ad_groups", params={"campaign_id": cid, "limit": 1}, headers=org.headers).json()[
        "data"
    ][0]
    assert client.post(f"/v1/ad_groups/{first['id']}/archive", headers=org.headers).status_code == 200
    assert (
        client.post(
            "/v1/ad_groups", json={"campaign_id": cid, "name": "One more"}, headers=org.headers
        ).status_code
        == 201
    )
