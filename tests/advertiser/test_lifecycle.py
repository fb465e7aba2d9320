"""The status actions: the campaign table of 10-advertiser.md, and ad group/ad actions."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.advertiser.conftest import NOW
from tests.advertiser.helpers import approve, create_campaign, err, only_ad, only_ad_group
from tests.factories import CARD_AD, ctx_of, make_org
from threadline.advertiser import review

NOT_APPROVED = err("This campaign cannot be activated until it is approved.", "campaign_not_approved")
NOT_RUNNING = err("This campaign is not running; there is nothing to pause.", "campaign_not_running")
ARCHIVED = err("This campaign is archived; archived campaigns cannot be changed.", "campaign_archived")


def act(client: TestClient, org: Any, cid: str, action: str) -> tuple[int, dict[str, Any]]:
    r = client.post(f"/v1/campaigns/{cid}/{action}", headers=org.headers)
    return r.status_code, r.json()


def test_in_review_campaign(app: FastAPI, client: TestClient) -> None:
    org = make_org(app)
    cid = create_campaign(client, org)["id"]
    assert act(client, org, cid, "activate") == (400, NOT_APPROVED)
    assert act(client, org, cid, "pause") == (400, NOT_RUNNING)


def test_rejected_campaign(app: FastAPI, client: TestClient) -> None:
    org = make_org(app)
    cid = create_campaign(client, org)["id"]
    ctx = ctx_of(app)
    with ctx.db.write() as s:
        review.reject(s, ctx.clock, cid, "Misleading claim")
    got = client.get(f"/v1/campaigns/{cid}", headers=org.headers).json()
    assert (got["review_status"], got["rejection_reason"]) == ("rejected", "Misleading claim")
    assert act(client, org, cid, "activate") == (400, NOT_APPROVED)
    assert act(client, org, cid, "pause") == (400, NOT_RUNNING)
    status, body = act(client, org, cid, "archive")
    assert (status, body["status"]) == (200, "archived")


def test_approved_campaign_full_cycle(app: FastAPI, client: TestClient, clock: Any) -> None:
    org = make_org(app)
    cid = create_campaign(client, org)["id"]
    approve(app, cid)
    clock.advance(10)
    status, body = act(client, org, cid, "activate")
    assert (status, body["status"], body["review_status"], body["updated_at"]) == (
        200,
        "active",
        "approved",
        NOW + 10,
    )
    clock.advance(10)
    assert act(client, org, cid, "activate") == (200, body)  # already active: unchanged
    status, body = act(client, org, cid, "pause")
    assert (status, body["status"], body["updated_at"]) == (200, "paused", NOW + 20)
    assert act(client, org, cid, "pause") == (400, NOT_RUNNING)
    assert act(client, org, cid, "activate")[1]["status"] == "active"
    status, body = act(client, org, cid, "archive")
    assert (status, body["status"]) == (200, "archived")
    for action in ("activate", "pause", "archive"):
        assert act(client, org, cid, action) == (400, ARCHIVED)
    r = client.post(f"/v1/campaigns/{cid}", json={"name": "Too late"}, headers=org.headers)
    assert (r.status_code, r.json()) == (400, ARCHIVED)


def test_active_campaign_back_in_review_keeps_status(app: FastAPI, client: TestClient) -> None:
    org = make_org(app)
    cid = create_campaign(client, org)["id"]
    approve(app, cid)
    act(client, org, cid, "activate")
    r = client.post(
        "/v1/ad_groups", json={"campaign_id": cid, "name": "More", "ads": [CARD_AD]}, headers=org.headers
    )
    assert r.status_code == 201
    got = client.get(f"/v1/campaigns/{cid}", headers=org.headers).json()
    assert (got["status"], got["review_status"]) == ("active", "in_review")
    assert act(client, org, cid, "activate")[0] == 200  # already active
    status, body = act(client, org, cid, "pause")
    assert (status, body["status"]) == (200, "paused")
    assert act(client, org, cid, "activate") == (400, NOT_APPROVED)


def test_ad_group_and_ad_actions(app: FastAPI, client: TestClient) -> None:
    org = make_org(app)
    cid = create_campaign(client, org)["id"]
    gid = only_ad_group(client, org, cid)["id"]
    ad_id = only_ad(client, org, gid)["id"]
    for kind, rid in (("ad_groups", gid), ("ads", ad_id)):
        for action, status in (
            ("pause", "paused"),
            ("pause", "paused"),
            ("activate", "active"),
            ("archive", "paused"),
            ("activate", "active"),
        ):
            r = client.post(f"/v1/{kind}/{rid}/{action}", headers=org.headers)
            assert (r.status_code, r.json()["status"]) == (200, status), (kind, action)


def test_children_of_an_archived_campaign_are_frozen(app: FastAPI, client: TestClient) -> None:
    org = make_org(app)
    cid = create_campaign(client, org)["id"]
    gid = only_ad_group(client, org, cid)["id"]
    ad_id = only_ad(client, org, gid)["id"]
    act(client, org, cid, "archive")
    calls: list[tuple[str, dict[str, Any] | None]] = [
        (f"/v1/ad_groups/{gid}/activate", None),
        (f"/v1/ad_groups/{gid}", {"name": "New name"}),
        (f"/v1/ads/{ad_id}/pause", None),
        (f"/v1/ads/{ad_id}", {"name": "New name"}),
        ("/v1/ad_groups", {"campaign_id": cid, "name": "Late group"}),
        ("/v1/ads", {"ad_group_id": gid, **CARD_AD}),
    ]
    for path, body in calls:
        r = client.post(path, json=body, headers=org.headers)
        assert (r.status_code, r.json()) == (400, ARCHIVED), path
    # Reads still work.
    assert client.get(f"/v1/ads/{ad_id}", headers=org.headers).status_code == 200


def test_unknown_action_is_404(app: FastAPI, client: TestClient) -> None:
    org = make_org(app)
    cid = create_campaign(client, org)["id"]
    r = client.post(f"/v1/campaigns/{cid}/launch", headers=org.headers)
    assert (r.status_code, r.json()) == (
        404,
        err("Unknown request path.", "not_found", type_="not_found_error"),
    )
