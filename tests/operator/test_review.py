from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.factories import TestOrg, campaign_body, make_org
from threadline.kit.clock import MovableClock

CAMPAIGN_NOT_FOUND = {
    "error": {"message": "No such campaign.", "type": "not_found_error", "param": None, "code": "not_found"}
}


def _campaign(client: TestClient, org: TestOrg, **overrides: Any) -> dict[str, Any]:
    r = client.post("/v1/campaigns", json=campaign_body(**overrides), headers=org.headers)
    assert r.status_code == 201, r.text
    data: dict[str, Any] = r.json()
    return data


def test_queue_lists_waiting_campaigns_oldest_first_with_their_tree(
    app: FastAPI, client: TestClient, admin_headers: dict[str, str], clock: MovableClock
) -> None:
    acme = make_org(app)
    other = make_org(app, name="Other")
    first = _campaign(client, acme, name="First")
    clock.advance(10)
    second = _campaign(client, other, name="Second")
    clock.advance(10)
    approved = _campaign(client, acme, name="Done already")
    client.post(f"/admin/v1/campaigns/{approved['id']}/approve", headers=admin_headers)

    r = client.get("/admin/v1/review_queue", headers=admin_headers)
    assert r.status_code == 200
    queue = r.json()
    assert (queue["object"], queue["count"], queue["has_more"]) == ("list", 2, False)
    assert (queue["first_id"], queue["last_id"]) == (first["id"], second["id"])
    item = queue["data"][0]
    tree = item.pop("ad_groups")
    assert item == {**first, "org_id": acme.id}
    assert queue["data"][1]["org_id"] == other.id

    assert len(tree) == 1
    group = tree[0]
    ads = group.pop("ads")
    r = client.get("/v1/ad_groups", params={"campaign_id": first["id"]}, headers=acme.headers)
    assert r.json()["data"] == [group]
    r = client.get("/v1/ads", params={"ad_group_id": group["id"]}, headers=acme.headers)
    assert r.json()["data"] == ads
    assert ads[0]["creative"]["title"] == "Premium Running Shoes"

    r = client.get("/admin/v1/review_queue", params={"limit": 1}, headers=admin_headers)
    assert [c["id"] for c in r.json()["data"]] == [first["id"]]
    assert r.json()["has_more"] is True


def test_empty_queue(client: TestClient, admin_headers: dict[str, str]) -> None:
    r = client.get("/admin/v1/review_queue", headers=admin_headers)
    assert r.status_code == 200
    assert r.json() == {
        "object": "list",
        "data": [],
        "count": 0,
        "first_id": None,
        "last_id": None,
        "has_more": False,
    }


BAD_LIMITS: list[Any] = [0, 501, "x"]


def test_queue_limit_is_bounded(client: TestClient, admin_headers: dict[str, str]) -> None:
    for limit in BAD_LIMITS:
        r = client.get("/admin/v1/review_queue", params={"limit": limit}, headers=admin_headers)
        assert r.status_code == 400
        assert (r.json()["error"]["code"], r.json()["error"]["param"]) == ("invalid_value", "limit")


def test_approve_lets_the_advertiser_activate(
    app: FastAPI, client: TestClient, admin_headers: dict[str, str]
) -> None:
    org = make_org(app)
    campaign = _campaign(client, org)
    r = client.post(f"/v1/campaigns/{campaign['id']}/activate", headers=org.headers)
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "campaign_not_approved"

    r = client.post(f"/admin/v1/campaigns/{campaign['id']}/approve", headers=admin_headers)
    assert r.status_code == 200
    body = r.json()
    assert body == {
        **campaign,
        "review_status": "approved",
        "org_id": org.id,
        "updated_at": body["updated_at"],
    }
    assert client.get("/admin/v1/review_queue", headers=admin_headers).json()["count"] == 0
    assert (
        client.get(f"/v1/campaigns/{campaign['id']}", headers=org.headers).json()["review_status"]
        == "approved"
    )
    r = client.post(f"/v1/campaigns/{campaign['id']}/activate", headers=org.headers)
    assert r.status_code == 200
    assert r.json()["status"] == "active"

    # Approving again changes nothing.
    r = client.post(f"/admin/v1/campaigns/{campaign['id']}/approve", headers=admin_headers)
    assert (r.status_code, r.json()["review_status"], r.json()["status"]) == (200, "approved", "active")


def test_reject_with_reason_then_approve(
    app: FastAPI, client: TestClient, admin_headers: dict[str, str]
) -> None:
    org = make_org(app)
    campaign = _campaign(client, org)
    r = client.post(
        f"/admin/v1/campaigns/{campaign['id']}/reject",
        json={"reason": " Landing page does not load. "},
        headers=admin_headers,
    )
    assert r.status_code == 200
    body = r.json()
    assert (body["review_status"], body["rejection_reason"], body["org_id"]) == (
        "rejected",
        "Landing page does not load.",
        org.id,
    )
    seen = client.get(f"/v1/campaigns/{campaign['id']}", headers=org.headers).json()
    assert (seen["review_status"], seen["rejection_reason"]) == ("rejected", "Landing page does not load.")
    assert client.get("/admin/v1/review_queue", headers=admin_headers).json()["count"] == 0

    r = client.post(f"/admin/v1/campaigns/{campaign['id']}/approve", headers=admin_headers)
    assert (r.json()["review_status"], r.json()["rejection_reason"]) == ("approved", None)


INVALID_REJECTIONS: list[Any] = [
    ({}, "missing_param", "reason", "Missing required parameter: reason."),
    ({"reason": "  "}, "invalid_value", "reason", "reason: must not be blank"),
    (
        {"reason": "x" * 1001},
        "invalid_value",
        "reason",
        "reason: String should have at most 1000 characters",
    ),
    ({"reason": 3}, "invalid_value", "reason", "reason: Input should be a valid string"),
    ({"reason": "no", "notify": True}, "unknown_param", "notify", "Unknown parameter: notify."),
]


def test_reject_validation(app: FastAPI, client: TestClient, admin_headers: dict[str, str]) -> None:
    for body, code, param, message in INVALID_REJECTIONS:
        org = make_org(app)
        campaign = _campaign(client, org)
        r = client.post(f"/admin/v1/campaigns/{campaign['id']}/reject", json=body, headers=admin_headers)
        assert r.status_code == 400
        assert r.json() == {
            "error": {"message": message, "type": "invalid_request_error", "param": param, "code": code}
        }


UNKNOWN_CAMPAIGN_IDS: list[Any] = ["00000000-0000-4000-8000-000000000000", "nope"]


def test_unknown_campaign_is_not_found(client: TestClient, admin_headers: dict[str, str]) -> None:
    for campaign_id in UNKNOWN_CAMPAIGN_IDS:
        r = client.post(f"/admin/v1/campaigns/{campaign_id}/approve", headers=admin_headers)
        assert r.status_code == 404
        assert r.json() == CAMPAIGN_NOT_FOUND
        r = client.post(
            f"/admin/v1/campaigns/{campaign_id}/reject", json={"reason": "x"}, headers=admin_headers
        )
        assert r.status_code == 404
        assert r.json() == CAMPAIGN_NOT_FOUND


def test_archived_campaign_cannot_be_reviewed(
    app: FastAPI, client: TestClient, admin_headers: dict[str, str]
) -> None:
    org = make_org(app)
    campaign = _campaign(client, org)
    assert client.post(f"/v1/campaigns/{campaign['id']}/archive", headers=org.headers).status_code == 200
    assert client.get("/admin/v1/review_queue", headers=admin_headers).json()["count"] == 0
    expected = {
        "error": {
            "message": "This campaign is archived; it cannot be reviewed.",
            "type": "invalid_request_error",
            "param": None,
            "code": "campaign_archived",
        }
    }
    r = client.post(f"/admin/v1/campaigns/{campaign['id']}/approve", headers=admin_headers)
    assert r.status_code == 400
    assert r.json() == expected
    r = client.post(
        f"/admin/v1/campaigns/{campaign['id']}/reject", json={"reason": "x"}, headers=admin_headers
    )
    assert r.status_code == 400
    assert r.json() == expected
