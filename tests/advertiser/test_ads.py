"""Ads and creatives: create, read-back (image_url, inherited review_status), update, type rules."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.advertiser.conftest import NOW
from tests.advertiser.helpers import approve, create_campaign, err, only_ad, only_ad_group, upload
from tests.factories import campaign_body, make_org

CARD = {
    "type": "chat_card",
    "title": "Premium Running Shoes",
    "body": "Lightweight and built for the long run.",
    "target_url": "https://example.com/shoes",
}
POLL = {"type": "poll", "question": "Which distance do you run?", "options": ["5k", "10k"]}


def setup(app: FastAPI, client: TestClient, **overrides: Any) -> tuple[Any, str, str]:
    org = make_org(app)
    cid = create_campaign(client, org, **overrides)["id"]
    gid = only_ad_group(client, org, cid)["id"]
    return org, cid, gid


def test_nested_ad_reads_back(app: FastAPI, client: TestClient) -> None:
    org, cid, gid = setup(app, client)
    ad = only_ad(client, org, gid)
    expected = {
        "id": ad["id"],
        "campaign_id": cid,
        "ad_group_id": gid,
        "name": "Hero card",
        "status": "active",
        "review_status": "in_review",
        "creative": {**CARD, "cta_text": "Learn more", "file_id": None, "image_url": None},
        "created_at": NOW,
        "updated_at": NOW,
    }
    assert ad == expected
    r = client.get(f"/v1/ads/{ad['id']}", headers=org.headers)
    assert (r.status_code, r.json()) == (200, expected)
    approve(app, cid)
    assert client.get(f"/v1/ads/{ad['id']}", headers=org.headers).json()["review_status"] == "approved"


def test_create_card_with_image_defaults_name_to_title(app: FastAPI, client: TestClient, clock: Any) -> None:
    org, cid, gid = setup(app, client)
    approve(app, cid)
    file_id = upload(client, org)
    clock.advance(7)
    creative = {**CARD, "file_id": file_id, "cta_text": "Shop now"}
    r = client.post("/v1/ads", json={"ad_group_id": gid, "creative": creative}, headers=org.headers)
    assert r.status_code == 201
    assert r.json() == {
        "id": r.json()["id"],
        "campaign_id": cid,
        "ad_group_id": gid,
        "name": "Premium Running Shoes",
        "status": "active",
        "review_status": "in_review",  # a new ad sends the campaign back to review
        "creative": {**creative, "image_url": f"http://127.0.0.1:8000/media/{file_id}"},
        "created_at": NOW + 7,
        "updated_at": NOW + 7,
    }
    assert client.get(f"/v1/campaigns/{cid}", headers=org.headers).json()["review_status"] == "in_review"


def test_poll_ads(app: FastAPI, client: TestClient) -> None:
    org = make_org(app)
    cid = create_campaign(client, org, ad_groups=[{"name": "Polls", "ads": [{"creative": POLL}]}])["id"]
    gid = only_ad_group(client, org, cid)["id"]
    ad = only_ad(client, org, gid)
    assert (ad["name"], ad["creative"]) == ("Which distance do you run?", {**POLL, "target_url": None})
    poll = {**POLL, "options": ["a", "b", "c", "d"], "target_url": "http://example.com/p"}
    r = client.post(
        "/v1/ads",
        json={"ad_group_id": gid, "name": "Four", "status": "paused", "creative": poll},
        headers=org.headers,
    )
    assert r.status_code == 201
    assert (r.json()["name"], r.json()["status"], r.json()["creative"]) == ("Four", "paused", poll)


def test_create_ad_errors(app: FastAPI, client: TestClient) -> None:
    org, _, gid = setup(app, client)
    other = make_org(app, name="Other")
    theirs = upload(client, other)
    missing_group = err("No such ad group.", "not_found", "ad_group_id", type_="not_found_error")
    cases: list[tuple[dict[str, Any], int, dict[str, Any]]] = [
        (
            {"creative": CARD},
            400,
            err("Missing required parameter: ad_group_id.", "missing_param", "ad_group_id"),
        ),
        ({"ad_group_id": "6d2f1f7c-0000-4000-8000-000000000000", "creative": CARD}, 404, missing_group),
        (
            {"ad_group_id": gid},
            400,
            err("Missing required parameter: creative.", "missing_param", "creative"),
        ),
        (
            {"ad_group_id": gid, "creative": POLL},
            400,
            err(
                "This ad group holds chat_card ads; every ad in an ad group has the same creative type.",
                "invalid_value",
                "creative.type",
            ),
        ),
        (
            {"ad_group_id": gid, "creative": {**CARD, "file_id": theirs}},
            400,
            err(
                "No such file: upload the image with POST /v1/upload first.",
                "invalid_value",
                "creative.file_id",
            ),
        ),
        (
            {"ad_group_id": gid, "creative": {**CARD, "auto_generate": True}},
            400,
            err("auto_generate is not available on this server.", "invalid_value", "creative.auto_generate"),
        ),
        (
            {"ad_group_id": gid, "auto_generate": True, "creative": CARD},
            400,
            err("auto_generate is not available on this server.", "invalid_value", "auto_generate"),
        ),
        (
            {"ad_group_id": gid, "creative": {k: v for k, v in CARD.items() if k != "title"}},
            400,
            err("Missing required parameter: creative.title.", "missing_param", "creative.title"),
        ),
        (
            {"ad_group_id": gid, "creative": {k: v for k, v in CARD.items() if k != "body"}},
            400,
            err("Missing required parameter: creative.body.", "missing_param", "creative.body"),
        ),
    ]
    for body, status, expected in cases:
        r = client.post("/v1/ads", json=body, headers=org.headers)
        assert (r.status_code, r.json()) == (status, expected), body


def test_poll_cannot_be_ai(app: FastAPI, client: TestClient) -> None:
    org = make_org(app)
    cid = create_campaign(client, org, ad_groups=[{"name": "Polls", "ads": [{"creative": POLL}]}])["id"]
    gid = only_ad_group(client, org, cid)["id"]
    for body, param in (
        ({"ad_group_id": gid, "creative": {**POLL, "auto_generate": True}}, "creative.auto_generate"),
        ({"ad_group_id": gid, "auto_generate": True, "creative": POLL}, "auto_generate"),
    ):
        r = client.post("/v1/ads", json=body, headers=org.headers)
        assert (r.status_code, r.json()) == (
            400,
            err("Polls cannot be AI-generated.", "poll_cannot_be_ai", param),
        )
    # auto_generate: false is simply the default
    r = client.post(
        "/v1/ads",
        json={"ad_group_id": gid, "creative": {**POLL, "auto_generate": False}},
        headers=org.headers,
    )
    assert r.status_code == 201


def test_update_ad(app: FastAPI, client: TestClient, clock: Any) -> None:
    org, cid, gid = setup(app, client)
    approve(app, cid)
    ad = only_ad(client, org, gid)
    clock.advance(3)
    r = client.post(f"/v1/ads/{ad['id']}", json={"name": "Renamed", "status": "paused"}, headers=org.headers)
    assert r.status_code == 200
    assert r.json() == {
        **ad,
        "name": "Renamed",
        "status": "paused",
        "review_status": "approved",
        "updated_at": NOW + 3,
    }
    # Sending the same creative back changes nothing and keeps the approval.
    same = {**CARD, "cta_text": None}
    r = client.post(f"/v1/ads/{ad['id']}", json={"creative": same}, headers=org.headers)
    assert r.json()["review_status"] == "approved"
    new_creative = {**CARD, "title": "Even Better Shoes"}
    r = client.post(f"/v1/ads/{ad['id']}", json={"creative": new_creative}, headers=org.headers)
    assert r.status_code == 200
    assert r.json()["creative"]["title"] == "Even Better Shoes"
    assert r.json()["review_status"] == "in_review"
    r = client.post(f"/v1/ads/{ad['id']}", json={"status": "archived"}, headers=org.headers)
    assert r.json()["status"] == "paused"


def test_update_ad_errors(app: FastAPI, client: TestClient) -> None:
    org, _, gid = setup(app, client)
    ad_id = only_ad(client, org, gid)["id"]
    cases: list[tuple[dict[str, Any], dict[str, Any]]] = [
        (
            {"creative": POLL},
            err(
                "This ad is a chat_card; a creative update must keep its type.",
                "invalid_value",
                "creative.type",
            ),
        ),
        ({"creative": None}, err("creative cannot be null.", "invalid_value", "creative")),
        ({"name": "ab"}, err("name: String should have at least 3 characters", "invalid_value", "name")),
        ({"ad_group_id": gid}, err("Unknown parameter: ad_group_id.", "unknown_param", "ad_group_id")),
    ]
    for body, expected in cases:
        r = client.post(f"/v1/ads/{ad_id}", json=body, headers=org.headers)
        assert (r.status_code, r.json()) == (400, expected), body


def test_ads_of_other_orgs_are_404(app: FastAPI, client: TestClient) -> None:
    org = make_org(app)
    other, _, their_gid = setup(app, client)
    theirs = only_ad(client, other, their_gid)["id"]
    not_found = err("No such ad.", "not_found", type_="not_found_error")
    for ad_id in (theirs, "zzz"):
        for method, path, body in (
            ("GET", "", None),
            ("POST", "", {"name": "Mine"}),
            ("POST", "/pause", None),
        ):
            r = client.request(method, f"/v1/ads/{ad_id}{path}", json=body, headers=org.headers)
            assert (r.status_code, r.json()) == (404, not_found)
    r = client.get("/v1/ads", params={"ad_group_id": their_gid}, headers=org.headers)
    assert (r.status_code, r.json()) == (
        404,
        err("No such ad group.", "not_found", "ad_group_id", type_="not_found_error"),
    )


def test_list_requires_ad_group_id(app: FastAPI, client: TestClient) -> None:
    org = make_org(app)
    r = client.get("/v1/ads", headers=org.headers)
    assert (r.status_code, r.json()) == (
        400,
        err("Missing required parameter: ad_group_id.", "missing_param", "ad_group_id"),
    )


def test_at_most_50_live_ads_per_group(app: FastAPI, client: TestClient) -> None:
    body = campaign_body()
    body["ad_groups"][0]["ads"] = [{"creative": CARD}] * 50
    org, _, gid = setup(app, client, ad_groups=body["ad_groups"])
    r = client.post("/v1/ads", json={"ad_group_id": gid, "creative": CARD}, headers=org.headers)
    assert (r.status_code, r.json()) == (
        400,
        err("An ad group can have at most 50 ads.", "invalid_value", "ad_group_id"),
    )
