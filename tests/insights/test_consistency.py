"""Property-style check: random rollups, random queries; every row equals a direct sum over the data.

Account-level queries without entity filters read the org rollup, everything else the per-ad rollup: the
queries cover both paths, and an account query filtered to every campaign must match the unfiltered one.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.factories import ctx_of, make_org
from tests.insights.helpers import DAY, T0, AdRef, add_ad, add_ad_group, add_campaign, get
from threadline.insights.params import month_start
from threadline.insights.rollups import RollupDelta, bump_many
from threadline.kit.clock import MovableClock

LEVELS = ["ad_account", "campaign", "ad_group", "ad"]
COUNTS = ["impressions", "viewable_impressions", "clicks", "conversions"]
MONEY = {"spend": "spend_micros", "conversion_value": "conversion_value_micros"}
FILTER_FIELDS = {
    "campaign.id": "campaign_id",
    "ad_group.id": "ad_group_id",
    "ad.id": "ad_id",
    "supply": "supply",
}
Filters = list[tuple[str, list[str]]]  # (filter field, accepted values)


def test_every_row_is_the_sum_of_what_was_recorded(
    app: FastAPI, client: TestClient, clock: MovableClock
) -> None:
    rnd = random.Random(20260402)
    clock.set(T0 - 90 * DAY)
    org = make_org(app)
    ads: list[AdRef] = []
    for c in range(2):
        cid = add_campaign(app, org, f"C{c}")
        for g in range(2):
            gid = add_ad_group(app, org, cid, f"G{c}{g}")
            ads += [add_ad(app, org, cid, gid, f"A{c}{g}{a}") for a in range(2)]
    deltas = [
        RollupDelta(
            org_id=org.id,
            campaign_id=ad.campaign_id,
            ad_group_id=ad.ad_group_id,
            ad_id=ad.id,
            ts=T0 - rnd.randrange(40 * DAY),
            supply=rnd.choice(["thrad", "chatgpt"]),
            country=rnd.choice(["US", "FR", ""]),
            impressions=rnd.randrange(1, 50),
            viewable_impressions=rnd.randrange(0, 30),
            clicks=rnd.randrange(0, 5),
            spend_micros=rnd.randrange(0, 3_000_000),
            conversions=rnd.randrange(0, 2),
            conversion_value_micros=rnd.randrange(0, 9_000_000),
        )
        for ad in (rnd.choice(ads) for _ in range(400))
    ]
    with ctx_of(app).db.write() as s:
        bump_many(s, deltas)
    clock.set(T0)
    fields = [*COUNTS, *MONEY]
    scopes = {"ad_account": "/v1/ad_account/insights"}
    scopes["campaign"] = f"/v1/campaigns/{ads[0].campaign_id}/insights"
    scopes["ad_group"] = f"/v1/ad_groups/{ads[0].ad_group_id}/insights"
    campaigns = sorted({ad.campaign_id for ad in ads})
    cases: list[tuple[str, str, Filters]] = [
        ("ad_account", "ad_account", []),  # org rollup
        ("ad_account", "ad_account", [("supply", ["thrad"])]),  # org rollup
        ("ad_account", "ad_account", [("campaign.id", campaigns)]),  # per-ad rollup, same rows as []
        ("ad_account", "ad_account", [("ad.id", [ads[1].id, ads[6].id]), ("supply", ["chatgpt"])]),
    ]
    for _ in range(24):
        scope = rnd.choice(LEVELS[:3])
        level = rnd.choice(LEVELS[LEVELS.index(scope) :])
        filters: Filters = []
        if rnd.random() < 0.3:
            filters.append(("supply", [rnd.choice(["thrad", "chatgpt"])]))
        if rnd.random() < 0.3:
            field = rnd.choice(["campaign.id", "ad_group.id", "ad.id"])
            attribute = "id" if field == "ad.id" else FILTER_FIELDS[field]
            filters.append((field, sorted({getattr(rnd.choice(ads), attribute) for _ in range(2)})))
        cases.append((scope, level, filters))
    checked = 0
    for scope, level, filters in cases:
        granularity = rnd.choice(["hourly", "daily", "monthly", "none"])
        span = rnd.randrange(3600, 25 * 3600) if granularity == "hourly" else rnd.randrange(DAY, 45 * DAY)
        start = T0 - rnd.randrange(42 * DAY)
        breakdowns = rnd.sample(["supply", "country"], rnd.randrange(3))
        params = [
            ("time_granularity", granularity),
            ("aggregation_level", level),
            (
                "time_ranges[]",
                json.dumps({"type": "time_range", "start_time": start, "end_time": start + span}),
            ),
            ("limit", "10000"),
            *(("fields[]", f) for f in fields),
            *(("breakdowns[]", b) for b in breakdowns),
            *(("filters[]", _filter(field, values)) for field, values in filters),
        ]
        r = get(client, org, scopes[scope], params)
        assert r.status_code == 200, r.text
        rows = r.json()["data"]
        if level == "ad_account" and not filters:
            # The org rollup and the per-ad rollup (an entity filter selecting everything) agree.
            every = get(
                client, org, scopes[scope], [*params, ("filters[]", _filter("campaign.id", campaigns))]
            )
            assert every.json()["data"] == rows, params
        in_scope = [
            d
            for d in deltas
            if start - start % 3600 <= d.ts - d.ts % 3600 < start + span
            and (scope == "ad_account" or getattr(d, f"{scope}_id") == getattr(ads[0], f"{scope}_id"))
            and all(getattr(d, FILTER_FIELDS[field]) in values for field, values in filters)
        ]
        expected: dict[tuple[Any, ...], dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for d in in_scope:
            hour = d.ts - d.ts % 3600
            bucket = {
                "hourly": hour,
                "daily": hour - hour % DAY,
                "monthly": month_start(hour),
                "none": start,
            }[granularity]
            entity = org.ad_account_id if level == "ad_account" else getattr(d, f"{level}_id")
            key = (bucket, entity, *(getattr(d, b) or None for b in breakdowns))
            for name in [*COUNTS, *MONEY.values()]:
                expected[key][name] += getattr(d, name)
        got = {}
        for row in rows:
            key = (row["start_time"], row[f"{level}_id"], *(row[b] for b in breakdowns))
            got[key] = row
        # Every active bucket is listed with exactly the recorded totals; extra rows are idle `none` rows.
        checked += len(expected)
        for key, sums in expected.items():
            row = got.pop(key)
            for name in COUNTS:
                assert row[name] == sums[name], (params, key, name)
            for name, column in MONEY.items():
                assert row[name] == round(sums[column] / 1e6, 6), (params, key, name)
        assert granularity == "none" or not got, (params, got)
        assert all(all(row[f] == 0 for f in fields) for row in got.values())
        # Listed in order, ids unique.
        order = [
            (
                x["start_time"],
                x[f"{level}_id"],
                *((x[b] or "") for b in ("supply", "country") if b in breakdowns),
            )
            for x in rows
        ]
        assert order == sorted(order)
        assert len({x["id"] for x in rows}) == len(rows)
        # Walking the same query in small pages gives the same rows.
        paged: list[Any] = []
        after: list[tuple[str, str]] = []
        small = [p for p in params if p[0] != "limit"] + [("limit", str(rnd.randint(1, 9)))]
        while True:
            body = get(client, org, scopes[scope], small + after).json()
            paged += body["data"]
            if not body["has_more"]:
                break
            after = [("after", body["last_id"])]
        assert paged == rows
    assert checked > 100  # the random queries did hit recorded activity


def _filter(field: str, values: list[str]) -> str:
    if len(values) == 1:
        return json.dumps({"field": field, "operator": "equals", "value": values[0]})
    return json.dumps({"field": field, "operator": "in", "value": values})
