"""The org-level rollup: always the sum of the ad-level rows, whoever writes them and however concurrently."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import create_engine, insert, inspect
from sqlalchemy.orm import Session

from tests.databases import database_at, downgrade
from tests.factories import ctx_of, make_org
from tests.insights.helpers import (
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
from threadline.insights.params import Filter
from threadline.insights.repository import AD_ROLLUP, ORG_ROLLUP, Scope, rollup_columns
from threadline.insights.rollups import RollupDelta, bump, bump_many, hour_of
from threadline.store.migrate import upgrade
from threadline.store.models import InsightsHourly, InsightsOrgHourly


def test_bump_and_bump_many_write_the_org_bucket_in_the_same_call(app: FastAPI) -> None:
    ads = _two_orgs(app)
    deltas = [
        # Two ads of one org in one org bucket, one of them twice in the same batch.
        rollup_delta(ads[0], T0 + 10, impressions=3, spend_micros=1_000),
        rollup_delta(ads[0], T0 + 3599, impressions=1, clicks=1, spend_micros=500),
        rollup_delta(ads[1], T0 + 20, impressions=4, viewable_impressions=2),
        # Other slices and hours of the same org.
        rollup_delta(
            ads[1], T0 + 30, supply="chatgpt", country="FR", conversions=1, conversion_value_micros=9
        ),
        rollup_delta(ads[0], T0 + 3600, impressions=7),
        # Another org in the same hour and slice.
        rollup_delta(ads[2], T0 + 40, impressions=5, spend_micros=2_000),
    ]
    with ctx_of(app).db.write() as s:
        bump_many(s, deltas[:4])
        bump_many(s, [])  # nothing to add writes nothing
    for d in deltas[4:]:
        with ctx_of(app).db.write() as s:
            bump(s, **{f: getattr(d, f) for f in RollupDelta.__dataclass_fields__})
    with ctx_of(app).db.read() as s:
        org_rows = _org_rows(s)
        assert org_rows == _ad_sums(s)
    hour = hour_of(T0)
    assert org_rows == {
        (ads[0].org_id, hour, "direct", ""): (8, 2, 1, 1_500, 0, 0),
        (ads[0].org_id, hour, "chatgpt", "FR"): (0, 0, 0, 0, 1, 9),
        (ads[0].org_id, hour + 3600, "direct", ""): (7, 0, 0, 0, 0, 0),
        (ads[2].org_id, hour, "direct", ""): (5, 0, 0, 2_000, 0, 0),
    }


def test_concurrent_writers_keep_the_org_table_equal_to_the_ad_rows(app: FastAPI) -> None:
    """20 threads hit overlapping buckets in random orders: no lost increment, no deadlock, equal tables."""
    ads = _two_orgs(app)
    batches = random_batches(ads, seed=5)
    expected = summed(batches, lambda d: (d.org_id, hour_of(d.ts), d.supply, d.country))
    db = ctx_of(app).db
    write_concurrently(db, batches)
    with db.read() as s:
        assert _org_rows(s) == _ad_sums(s) == expected


def test_account_queries_without_entities_read_the_org_table() -> None:
    account = Scope("ad_account", "acct")
    supply = Filter("supply", ("thrad",))
    assert rollup_columns(account, "ad_account", ()) is ORG_ROLLUP
    assert rollup_columns(account, "ad_account", (supply, supply)) is ORG_ROLLUP
    for column in ("campaign_id", "ad_group_id", "ad_id"):
        assert rollup_columns(account, "ad_account", (supply, Filter(column, ("x",)))) is AD_ROLLUP
    for level in ("campaign", "ad_group", "ad"):
        assert rollup_columns(account, level, ()) is AD_ROLLUP
        if level != "campaign":  # a campaign's own rows: test_campaign_rollup.py
            assert rollup_columns(Scope(level, "x"), level, ()) is AD_ROLLUP


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url_at_0004(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database migrated up to the revision before the org rollup."""
    with database_at(request.param, tmp_path, "0004") as url:
        yield url


def test_migration_backfills_the_org_table_and_downgrades(url_at_0004: str) -> None:
    rnd = random.Random(3)
    orgs = [str(uuid.uuid4()) for _ in range(2)]
    ads = [(org, str(uuid.uuid4())) for org in orgs for _ in range(3)]
    rows = random_ad_rows([(org, "c", ad) for org, ad in ads], 3, rnd)
    engine = create_engine(url_at_0004)
    try:
        with engine.begin() as conn:
            conn.execute(insert(InsightsHourly), rows)
        upgrade(url_at_0004)
        with Session(engine) as s:
            org_rows = _org_rows(s)
            assert org_rows == _ad_sums(s)
            assert len(org_rows) == 2 * 3 * 2
        assert "ix_insights_hourly_org_hour" not in _indexes(engine)
        with engine.begin() as conn:
            downgrade(conn, url_at_0004, "0004")
        assert "insights_org_hourly" not in inspect(engine).get_table_names()
        assert "ix_insights_hourly_org_hour" in _indexes(engine)
    finally:
        engine.dispose()


# -- helpers ---------------------------------------------------------------------------------------


def _two_orgs(app: FastAPI) -> list[AdRef]:
    """Two ads in two campaigns of one org, and one ad of another org."""
    first, second = make_org(app), make_org(app, "Other Inc.")
    ads = []
    for org, n in ((first, 2), (second, 1)):
        for i in range(n):
            cid = add_campaign(app, org, f"C{i}")
            ads.append(add_ad(app, org, cid, add_ad_group(app, org, cid)))
    return ads


_KEY = ("org_id", "hour", "supply", "country")


def _org_rows(s: Session) -> Totals:
    return rollup_totals(s, InsightsOrgHourly.__table__, _KEY)


def _ad_sums(s: Session) -> Totals:
    return ad_sums(s, _KEY)


def _indexes(engine: object) -> set[str]:
    return {str(ix["name"]) for ix in inspect(engine).get_indexes("insights_hourly")}
