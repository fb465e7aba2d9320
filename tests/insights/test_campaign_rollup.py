"""The campaign-level rollup: always the sum of each campaign's ad-level rows, and campaign-scoped answers
read from it equal the per-ad sums."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import BigInteger, cast, create_engine, func, insert, inspect, select
from sqlalchemy.orm import Session

from tests.databases import database_at, downgrade
from tests.factories import ctx_of, make_org
from tests.insights.helpers import (
    DAY,
    T0,
    AdRef,
    Totals,
    ad_sums,
    add_ad,
    add_ad_group,
    add_campaign,
    random_ad_rows,
    random_batches,
    rollup_delta,
    rollup_totals,
    summed,
    write_concurrently,
)
from threadline.insights.params import Filter, Window
from threadline.insights.repository import AD_ROLLUP, CAMPAIGN_ROLLUP, Scope, aggregate, rollup_columns
from threadline.insights.rollups import COUNTERS, RollupDelta, bump, bump_many, hour_of
from threadline.store.migrate import upgrade
from threadline.store.models import InsightsCampaignHourly, InsightsHourly


def test_bump_and_bump_many_write_the_campaign_bucket_in_the_same_call(app: FastAPI) -> None:
    ads = _ads(app)  # org A: campaign 0 with two ads, campaign 1 with one; org B: one ad
    deltas = [
        rollup_delta(ads[0], T0 + 10, impressions=3, spend_micros=1_000),
        rollup_delta(ads[0], T0 + 3599, impressions=1, clicks=1, spend_micros=500),
        rollup_delta(ads[1], T0 + 20, impressions=4, viewable_impressions=2),
        rollup_delta(
            ads[1], T0 + 30, supply="chatgpt", country="FR", conversions=1, conversion_value_micros=9
        ),
        rollup_delta(ads[2], T0 + 40, impressions=6),
        rollup_delta(ads[0], T0 + 3600, impressions=7),
        rollup_delta(ads[3], T0 + 50, impressions=5, spend_micros=2_000),
    ]
    with ctx_of(app).db.write() as s:
        bump_many(s, deltas[:5])
        bump_many(s, [])
    for d in deltas[5:]:
        with ctx_of(app).db.write() as s:
            bump(s, **{f: getattr(d, f) for f in RollupDelta.__dataclass_fields__})
    with ctx_of(app).db.read() as s:
        rows = _campaign_rows(s)
        assert rows == _ad_sums(s)
    hour = hour_of(T0)
    a, b = ads[0], ads[3]
    assert rows == {
        (a.org_id, a.campaign_id, hour, "direct", ""): (8, 2, 1, 1_500, 0, 0),
        (a.org_id, a.campaign_id, hour, "chatgpt", "FR"): (0, 0, 0, 0, 1, 9),
        (a.org_id, a.campaign_id, hour + 3600, "direct", ""): (7, 0, 0, 0, 0, 0),
        (a.org_id, ads[2].campaign_id, hour, "direct", ""): (6, 0, 0, 0, 0, 0),
        (b.org_id, b.campaign_id, hour, "direct", ""): (5, 0, 0, 2_000, 0, 0),
    }


def test_concurrent_writers_keep_the_campaign_table_equal_to_the_ad_rows(app: FastAPI) -> None:
    """20 threads hit overlapping buckets in random orders: no lost increment, no deadlock, equal tables."""
    ads = _ads(app)
    batches = random_batches(ads, seed=7)
    expected = summed(batches, lambda d: (d.org_id, d.campaign_id, hour_of(d.ts), d.supply, d.country))
    db = ctx_of(app).db
    write_concurrently(db, batches)
    with db.read() as s:
        assert _campaign_rows(s) == _ad_sums(s) == expected


def test_campaign_queries_without_ad_groups_or_ads_read_the_campaign_table() -> None:
    campaign = Scope("campaign", "c")
    supply = Filter("supply", ("thrad",))
    for level in ("ad_account", "campaign"):
        assert rollup_columns(campaign, level, ()) is CAMPAIGN_ROLLUP
        assert rollup_columns(campaign, level, (supply, Filter("campaign_id", ("c",)))) is CAMPAIGN_ROLLUP
        for column in ("ad_group_id", "ad_id"):
            assert rollup_columns(campaign, level, (supply, Filter(column, ("x",)))) is AD_ROLLUP
    for level in ("ad_group", "ad"):
        assert rollup_columns(campaign, level, ()) is AD_ROLLUP


def test_campaign_answers_equal_the_per_ad_sums(app: FastAPI) -> None:
    ads = _ads(app)
    rnd = random.Random(11)
    deltas = [
        rollup_delta(
            rnd.choice(ads),
            T0 - 3 * DAY + rnd.randrange(4 * 24) * 3600 + rnd.randrange(3600),
            supply=rnd.choice(["thrad", "chatgpt"]),
            country=rnd.choice(["US", "FR", ""]),
            **{c: rnd.randrange(100) for c in COUNTERS},
        )
        for _ in range(300)
    ]
    with ctx_of(app).db.write() as s:
        bump_many(s, deltas)
    with ctx_of(app).db.read() as s:
        for ad in (ads[0], ads[2]):
            _assert_campaign_answers_equal_ad_sums(s, ad.org_id, ad.campaign_id)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url_at_0013(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database migrated up to the revision before the campaign rollup."""
    with database_at(request.param, tmp_path, "0013") as url:
        yield url


def test_migration_backfills_the_campaign_table_and_downgrades(url_at_0013: str) -> None:
    rnd = random.Random(3)
    orgs = [str(uuid.uuid4()) for _ in range(2)]
    campaigns = [(org, str(uuid.uuid4())) for org in orgs for _ in range(2)]
    ads = [(org, cid, str(uuid.uuid4())) for org, cid in campaigns for _ in range(3)]
    rows = random_ad_rows(ads, 30, rnd)
    engine = create_engine(url_at_0013)
    try:
        with engine.begin() as conn:
            conn.execute(insert(InsightsHourly), rows)
        upgrade(url_at_0013)
        with Session(engine) as s:
            campaign_rows = _campaign_rows(s)
            assert campaign_rows == _ad_sums(s)
            assert len(campaign_rows) == 4 * 30 * 2
            for org, cid in campaigns:
                _assert_campaign_answers_equal_ad_sums(s, org, cid)
        with engine.begin() as conn:
            downgrade(conn, url_at_0013, "0013")
        assert "insights_campaign_hourly" not in inspect(engine).get_table_names()
    finally:
        engine.dispose()


# -- helpers ---------------------------------------------------------------------------------------


def _assert_campaign_answers_equal_ad_sums(s: Session, org_id: str, campaign_id: str) -> None:
    """Daily and whole-window answers, with breakdowns and a supply filter, against the per-ad rows."""
    scope = Scope("campaign", campaign_id)
    window = Window(T0 - 3 * DAY + 1800, T0 + 2 * DAY)
    for level in ("ad_account", "campaign"):
        for bucket in ("day", "none"):
            for breakdowns in ((), ("supply",), ("supply", "country")):
                for filters in ((), (Filter("supply", ("thrad",)),)):
                    assert rollup_columns(scope, level, filters) is CAMPAIGN_ROLLUP
                    got = aggregate(
                        s,
                        org_id,
                        scope,
                        window=window,
                        bucket=bucket,
                        month_edges=(),
                        level=level,
                        breakdowns=breakdowns,
                        filters=filters,
                        sums=COUNTERS,
                    )
                    want = _per_ad_answer(s, org_id, campaign_id, window, bucket, level, breakdowns, filters)
                    assert got, (level, bucket, breakdowns, filters)
                    assert sorted(got) == sorted(want), (level, bucket, breakdowns, filters)


def _per_ad_answer(
    s: Session,
    org_id: str,
    campaign_id: str,
    window: Window,
    bucket: str,
    level: str,
    breakdowns: tuple[str, ...],
    filters: tuple[Filter, ...],
) -> list[tuple[object, ...]]:
    h = AD_ROLLUP
    group = [h.hour - h.hour % DAY] if bucket == "day" else []
    group += [h[b] for b in breakdowns]
    query = select(*group, *(cast(func.sum(h[c]), BigInteger) for c in COUNTERS)).where(
        h.org_id == org_id,
        h.campaign_id == campaign_id,
        h.hour >= window.start - window.start % 3600,
        h.hour < window.end,
    )
    for f in filters:
        query = query.where(h[f.column].in_(f.values))
    if group:
        query = query.group_by(*group)
    out = []
    for row in s.execute(query):
        values = list(row)
        bucket_value = values.pop(0) if bucket == "day" else 0
        out.append((bucket_value, campaign_id if level == "campaign" else "", *values))
    return out


def _ads(app: FastAPI) -> list[AdRef]:
    """Org A: two ads in one campaign and one in another; org B: one ad."""
    first, second = make_org(app), make_org(app, "Other Inc.")
    c0, c1, c2 = add_campaign(app, first, "C0"), add_campaign(app, first, "C1"), add_campaign(app, second)
    g0 = add_ad_group(app, first, c0)
    return [
        add_ad(app, first, c0, g0),
        add_ad(app, first, c0, add_ad_group(app, first, c0)),
        add_ad(app, first, c1, add_ad_group(app, first, c1)),
        add_ad(app, second, c2, add_ad_group(app, second, c2)),
    ]


_KEY = ("org_id", "campaign_id", "hour", "supply", "country")


def _campaign_rows(s: Session) -> Totals:
    return rollup_totals(s, InsightsCampaignHourly.__table__, _KEY)


def _ad_sums(s: Session) -> Totals:
    return ad_sums(s, _KEY)
