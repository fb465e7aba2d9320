"""Golden rows for every granularity, level and breakdown."""

from __future__ import annotations

import json

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.factories import TestOrg, make_org
from tests.insights.helpers import DAY, T0, add_ad, add_ad_group, add_campaign, get, record
from threadline.kit.clock import MovableClock

FIELDS = [("fields[]", f) for f in ("impressions", "clicks", "spend", "ctr", "cpc", "cpm")]


def _range(start: int, end: int) -> tuple[str, str]:
    return ("time_ranges[]", json.dumps({"type": "time_range", "start_time": start, "end_time": end}))


def test_quickstart_campaign_row(app: FastAPI, client: TestClient, clock: MovableClock) -> None:
    clock.set(T0 + 20 * 3600)
    org = make_org(app)
    cid = add_campaign(app, org, "Summer launch")
    ad = add_ad(app, org, cid, add_ad_group(app, org, cid))
    record(app, ad, T0 + 3600, impressions=300, clicks=30, spend_micros=420_000)
    record(app, ad, T0 + 5 * 3600, impressions=200, clicks=20, spend_micros=280_000)
    r = get(client, org, f"/v1/campaigns/{cid}/insights", FIELDS)
    assert r.status_code == 200
    row_id = f"start=1775088000:end=1775174400:entity_id={cid}"
    assert r.json() == {
        "object": "list",
        "data": [
            {
                "id": row_id,
                "start_time": 1775088000,
                "end_time": 1775174400,
                "readable_time": "2026-04-02",
                "timezone": "UTC",
                "campaign_id": cid,
                "campaign_name": "Summer launch",
                "impressions": 500,
                "clicks": 50,
                "spend": 0.70,
                "ctr": 0.10,
                "cpc": 0.014,
                "cpm": 1.40,
            }
        ],
        "count": 1,
        "first_id": row_id,
        "last_id": row_id,
        "has_more": False,
    }


def test_account_hourly_with_breakdowns_and_every_field(
    app: FastAPI, client: TestClient, clock: MovableClock
) -> None:
    clock.set(T0 + 20 * 3600)
    org = make_org(app)
    cid = add_campaign(app, org)
    ad = add_ad(app, org, cid, add_ad_group(app, org, cid))
    h = T0 + 2 * 3600
    record(
        app,
        ad,
        h + 10,
        supply="thrad",
        country="US",
        impressions=4,
        viewable_impressions=3,
        clicks=1,
        spend_micros=8_000,
        conversions=1,
        conversion_value_micros=20_000_000,
    )
    record(app, ad, h + 20, supply="chatgpt", country="US", impressions=2, spend_micros=4_000)
    record(app, ad, h + 3600, supply="thrad", impressions=1, spend_micros=2_000)
    fields = [
        "impressions",
        "viewable_impressions",
        "clicks",
        "spend",
        "ctr",
        "cpc",
        "cpm",
        "conversions",
        "conversion_value",
        "cpa",
        "roas",
    ]
    params = [
        ("time_granularity", "hourly"),
        _range(T0, T0 + 86400),
        ("breakdowns[]", "country"),
        ("breakdowns[]", "supply"),
        *(("fields[]", f"ad_account.{f}") for f in fields),
    ]
    r = get(client, org, "/v1/ad_account/insights", params)
    assert r.status_code == 200
    acct = org.ad_account_id
    base = {"timezone": "UTC", "ad_account_id": acct, "ad_account_name": "Acme Inc."}
    assert r.json()["data"] == [
        {
            "id": f"start={h}:end={h + 3600}:entity_id={acct}:supply=chatgpt:country=US",
            "start_time": h,
            "end_time": h + 3600,
            "readable_time": "2026-04-02T02:00",
            **base,
            "supply": "chatgpt",
            "country": "US",
            "impressions": 2,
            "viewable_impressions": 0,
            "clicks": 0,
            "spend": 0.004,
            "ctr": 0.0,
            "cpc": 0.0,
            "cpm": 2.0,
            "conversions": 0,
            "conversion_value": 0.0,
            "cpa": 0.0,
            "roas": 0.0,
        },
        {
            "id": f"start={h}:end={h + 3600}:entity_id={acct}:supply=thrad:country=US",
            "start_time": h,
            "end_time": h + 3600,
            "readable_time": "2026-04-02T02:00",
            **base,
            "supply": "thrad",
            "country": "US",
            "impressions": 4,
            "viewable_impressions": 3,
            "clicks": 1,
            "spend": 0.008,
            "ctr": 0.25,
            "cpc": 0.008,
            "cpm": 2.0,
            "conversions": 1,
            "conversion_value": 20.0,
            "cpa": 0.008,
            "roas": 2500.0,
        },
        {
            "id": f"start={h + 3600}:end={h + 7200}:entity_id={acct}:supply=thrad:country=",
            "start_time": h + 3600,
            "end_time": h + 7200,
            "readable_time": "2026-04-02T03:00",
            **base,
            "supply": "thrad",
            "country": None,
            "impressions": 1,
            "viewable_impressions": 0,
            "clicks": 0,
            "spend": 0.002,
            "ctr": 0.0,
            "cpc": 0.0,
            "cpm": 2.0,
            "conversions": 0,
            "conversion_value": 0.0,
            "cpa": 0.0,
            "roas": 0.0,
        },
    ]


def test_ad_group_level_daily_lists_parents_and_orders_by_entity(
    app: FastAPI, client: TestClient, clock: MovableClock
) -> None:
    clock.set(T0 + 2 * DAY)
    org = make_org(app)
    cid = add_campaign(app, org)
    groups = {add_ad_group(app, org, cid, "A"): "A", add_ad_group(app, org, cid, "B"): "B"}
    g1, g2 = sorted(groups)
    ad1, ad2 = add_ad(app, org, cid, g1), add_ad(app, org, cid, g2)
    record(app, ad2, T0 + 100, impressions=5)
    record(app, ad1, T0 + DAY + 100, impressions=7)
    record(app, ad1, T0 + 200, impressions=3)
    params = [
        ("aggregation_level", "ad_group"),
        ("fields", "impressions"),
        ("time_ranges[]", json.dumps({"type": "date_range", "since": "2026-04-02", "until": "2026-04-03"})),
    ]
    r = get(client, org, f"/v1/campaigns/{cid}/insights", params)
    assert r.status_code == 200
    assert [
        (
            row["readable_time"],
            row["campaign_id"],
            row["ad_group_id"],
            row["ad_group_name"],
            row["impressions"],
        )
        for row in r.json()["data"]
    ] == [
        ("2026-04-02", cid, g1, groups[g1], 3),
        ("2026-04-02", cid, g2, groups[g2], 5),
        ("2026-04-03", cid, g1, groups[g1], 7),
    ]
    assert list(r.json()["data"][0]) == [
        "id",
        "start_time",
        "end_time",
        "readable_time",
        "timezone",
        "campaign_id",
        "ad_group_id",
        "ad_group_name",
        "impressions",
    ]


def test_ad_level_monthly_rolls_days_into_calendar_months(
    app: FastAPI, client: TestClient, clock: MovableClock
) -> None:
    clock.set(T0)
    org = make_org(app)
    cid = add_campaign(app, org)
    gid = add_ad_group(app, org, cid)
    ad = add_ad(app, org, cid, gid, "Hero card")
    march_31 = T0 - 2 * DAY
    record(app, ad, march_31 + 3600, impressions=1, clicks=1, spend_micros=1_500_000)
    record(app, ad, march_31 + 23 * 3600 + 59, impressions=2)
    record(app, ad, T0 - DAY + 10, impressions=4)  # April 1st
    params = [
        ("time_granularity", "monthly"),
        ("time_ranges[]", json.dumps({"type": "date_range", "since": "2026-03-15", "until": "2026-04-10"})),
    ]
    r = get(client, org, f"/v1/ad_groups/{gid}/insights", [*params, ("aggregation_level", "ad")])
    assert r.status_code == 200
    march, april, may = 1772323200, 1775001600, 1777593600
    assert r.json()["data"] == [
        {
            "id": f"start={march}:end={april}:entity_id={ad.id}",
            "start_time": march,
            "end_time": april,
            "readable_time": "2026-03",
            "timezone": "UTC",
            "campaign_id": cid,
            "ad_group_id": gid,
            "ad_id": ad.id,
            "ad_name": "Hero card",
            "impressions": 3,
            "clicks": 1,
            "spend": 1.5,
        },
        {
            "id": f"start={april}:end={may}:entity_id={ad.id}",
            "start_time": april,
            "end_time": may,
            "readable_time": "2026-04",
            "timezone": "UTC",
            "campaign_id": cid,
            "ad_group_id": gid,
            "ad_id": ad.id,
            "ad_name": "Hero card",
            "impressions": 4,
            "clicks": 0,
            "spend": 0.0,
        },
    ]
    # The ad's own endpoint gives the same numbers.
    r2 = get(client, org, f"/v1/ads/{ad.id}/insights", params)
    assert r2.json()["data"] == r.json()["data"]


def test_none_granularity_lists_every_entity_that_existed(
    app: FastAPI, client: TestClient, clock: MovableClock
) -> None:
    clock.set(T0 - 60 * DAY)
    org = make_org(app)
    c_busy = add_campaign(app, org, "Busy")
    c_idle = add_campaign(app, org, "Idle")
    add_campaign(app, org, "Later", created_at=T0 + 5 * DAY)
    ad = add_ad(app, org, c_busy, add_ad_group(app, org, c_busy))
    record(app, ad, T0 + 10, impressions=9, clicks=3, spend_micros=90_000)
    clock.set(T0 + 3600)
    params = [
        ("time_granularity", "none"),
        ("aggregation_level", "campaign"),
        ("time_ranges[]", json.dumps({"type": "preset", "preset": "today"})),
        _range(T0 - DAY, T0),
    ]
    r = get(client, org, "/v1/ad_account/insights", params)
    assert r.status_code == 200
    rows = [
        (x["start_time"], x["end_time"], x["campaign_name"], x["impressions"], x["spend"])
        for x in r.json()["data"]
    ]
    busy_first = c_busy < c_idle
    yesterday = [(T0 - DAY, T0, "Busy", 0, 0.0), (T0 - DAY, T0, "Idle", 0, 0.0)]
    today = [(T0, T0 + DAY, "Busy", 9, 0.09), (T0, T0 + DAY, "Idle", 0, 0.0)]
    if not busy_first:
        yesterday.reverse()
        today.reverse()
    assert rows == yesterday + today
    assert "readable_time" not in r.json()["data"][0]
    assert (
        r.json()["data"][0]["id"]
        == f"start={T0 - DAY}:end={T0}:entity_id={r.json()['data'][0]['campaign_id']}"
    )


def test_only_active_buckets_appear_and_default_is_trailing_30_days(
    app: FastAPI, client: TestClient, clock: MovableClock
) -> None:
    now = T0 + 12 * 3600 + 5
    clock.set(now)
    org = make_org(app)
    ad = add_ad(app, org, *_tree(app, org))
    record(app, ad, now - 30 * DAY - 3600 - 1, impressions=100)  # the hour before the window: out
    record(app, ad, now - 30 * DAY + 10, impressions=1)  # the window's first (partial) hour: in
    record(app, ad, now - 5, impressions=2)  # the current hour: in
    r = get(client, org, "/v1/ad_account/insights")
    assert r.status_code == 200
    assert [(x["readable_time"], x["impressions"], x["clicks"], x["spend"]) for x in r.json()["data"]] == [
        ("2026-03-03", 1, 0, 0.0),
        ("2026-04-02", 2, 0, 0.0),
    ]


def test_filters_select_entities_and_supply(app: FastAPI, client: TestClient, clock: MovableClock) -> None:
    clock.set(T0 + DAY)
    org = make_org(app)
    cid = add_campaign(app, org)
    gid = add_ad_group(app, org, cid)
    a1, a2 = add_ad(app, org, cid, gid), add_ad(app, org, cid, gid)
    other = add_ad(app, org, *_tree(app, org))
    for ad in (a1, a2, other):
        record(app, ad, T0 + 10, supply="thrad", impressions=1)
        record(app, ad, T0 + 20, supply="chatgpt", impressions=10)

    def total(*filters: dict[str, object]) -> int:
        r = get(client, org, "/v1/ad_account/insights", [("filters[]", json.dumps(f)) for f in filters])
        assert r.status_code == 200
        return sum(x["impressions"] for x in r.json()["data"])

    assert total() == 33
    assert total({"field": "campaign.id", "operator": "equals", "value": cid}) == 22
    assert total({"field": "ad_group.id", "operator": "in", "value": [gid, "nope"]}) == 22
    assert total({"field": "ad.id", "operator": "in", "value": [a1.id, other.id]}) == 22
    assert total({"field": "supply", "operator": "equals", "value": "thrad"}) == 3
    assert (
        total(
            {"field": "supply", "operator": "in", "value": ["thrad"]},
            {"field": "ad.id", "operator": "equals", "value": a2.id},
        )
        == 1
    )

    # With granularity none an entity filter also limits the idle rows listed.
    r = get(
        client,
        org,
        "/v1/ad_account/insights",
        [
            ("time_granularity", "none"),
            ("aggregation_level", "campaign"),
            ("filters[]", json.dumps({"field": "ad.id", "operator": "equals", "value": a1.id})),
            ("filters[]", json.dumps({"field": "supply", "operator": "equals", "value": "none-such"})),
        ],
    )
    assert [(x["campaign_id"], x["impressions"]) for x in r.json()["data"]] == [(cid, 0)]


def test_pagination_with_limit_and_after(app: FastAPI, client: TestClient, clock: MovableClock) -> None:
    clock.set(T0 + 5 * 3600)
    org = make_org(app)
    ad = add_ad(app, org, *_tree(app, org))
    for hour in range(5):
        record(app, ad, T0 + hour * 3600, impressions=hour + 1)
    base = [("time_granularity", "hourly"), _range(T0, T0 + 5 * 3600), ("fields[]", "impressions")]
    seen: list[int] = []
    after: str | None = None
    while True:
        r = get(
            client,
            org,
            "/v1/ad_account/insights",
            [*base, ("limit", "2"), *([("after", after)] if after else [])],
        )
        assert r.status_code == 200
        body = r.json()
        seen += [x["impressions"] for x in body["data"]]
        assert body["count"] == len(body["data"])
        if not body["has_more"]:
            break
        after = body["last_id"]
        assert after == body["data"][-1]["id"]
    assert seen == [1, 2, 3, 4, 5]
    r = get(client, org, "/v1/ad_account/insights", [*base, ("after", body["last_id"])])
    assert r.json() == {
        "object": "list",
        "data": [],
        "count": 0,
        "first_id": None,
        "last_id": None,
        "has_more": False,
    }


def test_presets_resolve_to_utc_days_and_months(
    app: FastAPI, client: TestClient, clock: MovableClock
) -> None:
    clock.set(T0 - 60 * DAY)
    org = make_org(app)
    clock.set(T0 + 7 * 3600)  # 2026-04-02T07:00Z
    april, march, may = 1775001600, 1772323200, 1777593600
    expected = {
        "today": (T0, T0 + DAY),
        "yesterday": (T0 - DAY, T0),
        "last_7_days": (T0 - 6 * DAY, T0 + DAY),
        "last_30_days": (T0 - 29 * DAY, T0 + DAY),
        "this_month": (april, may),
        "last_month": (march, april),
    }
    for preset, (start, end) in expected.items():
        r = get(
            client,
            org,
            "/v1/ad_account/insights",
            [
                ("time_granularity", "none"),
                ("time_ranges[]", json.dumps({"type": "preset", "preset": preset})),
            ],
        )
        assert r.status_code == 200, preset
        assert (r.json()["data"][0]["start_time"], r.json()["data"][0]["end_time"]) == (start, end), preset


def test_other_orgs_and_unknown_ids_are_not_found(app: FastAPI, client: TestClient) -> None:
    org, other = make_org(app), make_org(app, name="Other")
    cid, gid = _tree(app, other)
    ad = add_ad(app, other, cid, gid)
    for path, what, param in [
        (f"/v1/campaigns/{cid}/insights", "campaign", "campaign_id"),
        (f"/v1/ad_groups/{gid}/insights", "ad group", "ad_group_id"),
        (f"/v1/ads/{ad.id}/insights", "ad", "ad_id"),
        ("/v1/campaigns/not-a-uuid/insights", "campaign", "campaign_id"),
    ]:
        r = get(client, org, path)
        assert r.status_code == 404, path
        assert r.json() == {
            "error": {
                "message": f"No such {what}.",
                "type": "not_found_error",
                "param": param,
                "code": "not_found",
            }
        }
    assert get(client, other, f"/v1/ads/{ad.id}/insights").status_code == 200


def test_requires_an_advertiser_key(client: TestClient) -> None:
    r = client.get("/v1/ad_account/insights")
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "auth_required"


def _tree(app: FastAPI, org: TestOrg) -> tuple[str, str]:
    cid = add_campaign(app, org)
    return cid, add_ad_group(app, org, cid)


def test_entity_pages_over_overlapping_windows_list_each_row_once(
    app: FastAPI, client: TestClient, clock: MovableClock
) -> None:
    clock.set(T0 + DAY)
    org = make_org(app)
    cid, gid = _tree(app, org)
    ads = [add_ad(app, org, cid, gid) for _ in range(3)]
    for hour in range(6):
        for i, ad in enumerate(ads):
            record(app, ad, T0 + hour * 3600, supply="thrad", impressions=10 * hour + i + 1)
    windows = [_range(T0, T0 + 4 * 3600), _range(T0 + 2 * 3600, T0 + 6 * 3600)]
    base = [("time_granularity", "hourly"), ("aggregation_level", "ad"), ("breakdowns[]", "supply"), *windows]
    full = get(client, org, "/v1/ad_account/insights", base).json()
    assert full["count"] == 18
    assert len({row["id"] for row in full["data"]}) == 18
    paged: list[dict[str, object]] = []
    after: list[tuple[str, str]] = []
    while True:
        body = get(client, org, "/v1/ad_account/insights", [*base, ("limit", "4"), *after]).json()
        paged += body["data"]
        if not body["has_more"]:
            break
        after = [("after", body["last_id"])]
    assert paged == full["data"]
    by_id = sorted(range(3), key=lambda i: ads[i].id)
    assert [row["impressions"] for row in paged[:4]] == [*(i + 1 for i in by_id), 11 + by_id[0]]
