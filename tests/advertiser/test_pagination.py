"""Cursor lists: limit, order, after/before, and their errors."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import event

from tests.advertiser.helpers import create_campaign, err
from tests.factories import CARD_AD, ctx_of, make_org


def page(client: TestClient, org: Any, path: str, **params: Any) -> dict[str, Any]:
    r = client.get(path, params=params, headers=org.headers)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def ids(body: dict[str, Any]) -> list[str]:
    return [row["id"] for row in body["data"]]


def test_campaign_list_pages_both_ways(app: FastAPI, client: TestClient) -> None:
    org, other = make_org(app), make_org(app, name="Other")
    made = [create_campaign(client, org, name=f"Campaign {i}")["id"] for i in range(5)]
    create_campaign(client, other)  # never visible to org
    newest_first = list(reversed(made))

    full = page(client, org, "/v1/campaigns")
    assert full == {
        "object": "list",
        "data": full["data"],
        "count": 5,
        "first_id": newest_first[0],
        "last_id": newest_first[-1],
        "has_more": False,
    }
    assert ids(full) == newest_first
    assert full["data"][0]["name"] == "Campaign 4"

    p1 = page(client, org, "/v1/campaigns", limit=2)
    assert (ids(p1), p1["count"], p1["has_more"]) == (newest_first[:2], 2, True)
    p2 = page(client, org, "/v1/campaigns", limit=2, after=p1["last_id"])
    assert (ids(p2), p2["has_more"]) == (newest_first[2:4], True)
    p3 = page(client, org, "/v1/campaigns", limit=2, after=p2["last_id"])
    assert (ids(p3), p3["has_more"], p3["first_id"], p3["last_id"]) == (
        newest_first[4:],
        False,
        made[0],
        made[0],
    )
    back = page(client, org, "/v1/campaigns", limit=2, before=p3["first_id"])
    assert (ids(back), back["has_more"]) == (newest_first[2:4], True)
    back2 = page(client, org, "/v1/campaigns", limit=2, before=back["first_id"])
    assert (ids(back2), back2["has_more"]) == (newest_first[:2], False)

    asc = page(client, org, "/v1/campaigns", order="asc", limit=3)
    assert (ids(asc), asc["has_more"]) == (made[:3], True)
    asc2 = page(client, org, "/v1/campaigns", order="asc", limit=3, after=asc["last_id"])
    assert (ids(asc2), asc2["has_more"]) == (made[3:], False)
    asc_back = page(client, org, "/v1/campaigns", order="asc", limit=1, before=made[2])
    assert (ids(asc_back), asc_back["has_more"]) == ([made[1]], True)

    end = page(client, org, "/v1/campaigns", after=made[0])
    assert end == {
        "object": "list",
        "data": [],
        "count": 0,
        "first_id": None,
        "last_id": None,
        "has_more": False,
    }


def test_list_parameter_errors(app: FastAPI, client: TestClient) -> None:
    org, other = make_org(app), make_org(app, name="Other")
    mine = create_campaign(client, org)["id"]
    theirs = create_campaign(client, other)["id"]
    cases: list[tuple[dict[str, Any], dict[str, Any]]] = [
        ({"limit": 0}, err("limit: Input should be greater than or equal to 1", "invalid_value", "limit")),
        ({"limit": 501}, err("limit: Input should be less than or equal to 500", "invalid_value", "limit")),
        (
            {"limit": "ten"},
            err(
                "limit: Input should be a valid integer, unable to parse string as an integer",
                "invalid_value",
                "limit",
            ),
        ),
        ({"order": "newest"}, err("order: Input should be 'asc' or 'desc'", "invalid_value", "order")),
        (
            {"after": mine, "before": mine},
            err("Pass either after or before, not both.", "invalid_value", "before"),
        ),
        ({"after": theirs}, err("No such object for cursor after.", "invalid_value", "after")),
        ({"before": "not-an-id"}, err("No such object for cursor before.", "invalid_value", "before")),
        ({"after": "a\x00b"}, err("No such object for cursor after.", "invalid_value", "after")),
    ]
    for params, expected in cases:
        r = client.get("/v1/campaigns", params=params, headers=org.headers)
        assert (r.status_code, r.json()) == (400, expected), params
    assert page(client, org, "/v1/campaigns", limit=500)["count"] == 1


def test_ad_group_and_ad_lists_are_scoped_to_their_parent(app: FastAPI, client: TestClient) -> None:
    org = make_org(app)
    groups = [{"name": f"Group {i}", "ads": [CARD_AD, CARD_AD, CARD_AD]} for i in range(3)]
    first = create_campaign(client, org, ad_groups=groups)["id"]
    second = create_campaign(client, org)["id"]
    listed = page(client, org, "/v1/ad_groups", campaign_id=first, order="asc")
    assert [g["name"] for g in listed["data"]] == ["Group 0", "Group 1", "Group 2"]
    other_group = page(client, org, "/v1/ad_groups", campaign_id=second)["data"][0]["id"]
    # A cursor from another campaign's list is not a cursor of this list.
    r = client.get("/v1/ad_groups", params={"campaign_id": first, "after": other_group}, headers=org.headers)
    assert (r.status_code, r.json()) == (
        400,
        err("No such object for cursor after.", "invalid_value", "after"),
    )

    gid = listed["data"][0]["id"]
    ads = page(client, org, "/v1/ads", ad_group_id=gid, limit=2)
    assert (ads["count"], ads["has_more"]) == (2, True)
    rest = page(client, org, "/v1/ads", ad_group_id=gid, limit=2, after=ads["last_id"])
    assert (rest["count"], rest["has_more"]) == (1, False)
    assert set(ids(ads) + ids(rest)).isdisjoint(
        ids(page(client, org, "/v1/ads", ad_group_id=listed["data"][1]["id"]))
    )


def test_a_page_is_one_query(app: FastAPI, client: TestClient) -> None:
    org = make_org(app)
    made = [create_campaign(client, org, name=f"Campaign {i}")["id"] for i in range(4)]
    engine = ctx_of(app).db.engine
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "campaigns" in statement:
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        assert page(client, org, "/v1/campaigns", limit=3, after=made[-1])["count"] == 3
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert len(statements) == 1
    # Keyset, not OFFSET paging (SQLite's dialect prints a constant "OFFSET 0" with every LIMIT).
    assert "campaigns.seq < (SELECT campaigns.seq" in statements[0]
