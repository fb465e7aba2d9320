"""Hourly rollup writes: every counted thing bumps its bucket in the transaction that records it.

Each bump adds to two tables in the same statement batch: the ad-level bucket (insights_hourly) and the
org-level bucket (insights_org_hourly, what account-wide insights read), so the org table is always the
sum of the ad rows. The upsert is atomic in the database (``x = x + excluded.x``), so concurrent writers
in several processes never lose an increment and never need to read the row first.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import Insert

from threadline.store.models import InsightsHourly, InsightsOrgHourly

COUNTERS = (
    "impressions",
    "viewable_impressions",
    "clicks",
    "spend_micros",
    "conversions",
    "conversion_value_micros",
)
_AD_TABLE: Table = InsightsHourly.__table__  # type: ignore[assignment]
_AD_KEY = ("ad_id", "hour", "supply", "country")
_ORG_TABLE: Table = InsightsOrgHourly.__table__  # type: ignore[assignment]
_ORG_KEY = ("org_id", "hour", "supply", "country")


def hour_of(ts: int) -> int:
    return ts - ts % 3600


@dataclass(frozen=True)
class RollupDelta:
    """Increments for one (ad, hour, supply, country) bucket."""

    org_id: str
    campaign_id: str
    ad_group_id: str
    ad_id: str
    ts: int
    supply: str = "direct"
    country: str = ""
    impressions: int = 0
    viewable_impressions: int = 0
    clicks: int = 0
    spend_micros: int = 0
    conversions: int = 0
    conversion_value_micros: int = 0


def bump(
    session: Session,
    *,
    org_id: str,
    campaign_id: str,
    ad_group_id: str,
    ad_id: str,
    ts: int,
    supply: str = "direct",
    country: str = "",
    impressions: int = 0,
    viewable_impressions: int = 0,
    clicks: int = 0,
    spend_micros: int = 0,
    conversions: int = 0,
    conversion_value_micros: int = 0,
) -> None:
    """Add to the bucket of ``ts`` (created on first use) inside the caller's transaction."""
    bump_many(
        session,
        [
            RollupDelta(
                org_id=org_id,
                campaign_id=campaign_id,
                ad_group_id=ad_group_id,
                ad_id=ad_id,
                ts=ts,
                supply=supply,
                country=country,
                impressions=impressions,
                viewable_impressions=viewable_impressions,
                clicks=clicks,
                spend_micros=spend_micros,
                conversions=conversions,
                conversion_value_micros=conversion_value_micros,
            )
        ],
    )


def bump_many(session: Session, deltas: Iterable[RollupDelta]) -> None:
    """The batched variant: one upsert row per bucket of each table, however many deltas hit it."""
    ad_rows: dict[tuple[str, int, str, str], dict[str, Any]] = {}
    org_rows: dict[tuple[str, int, str, str], dict[str, Any]] = {}
    for d in deltas:
        hour = hour_of(d.ts)
        slice_ = {"hour": hour, "supply": d.supply, "country": d.country}
        ad = {
            "org_id": d.org_id,
            "campaign_id": d.campaign_id,
            "ad_group_id": d.ad_group_id,
            "ad_id": d.ad_id,
        }
        _merge(ad_rows, (d.ad_id, hour, d.supply, d.country), {**ad, **slice_}, d)
        _merge(org_rows, (d.org_id, hour, d.supply, d.country), {"org_id": d.org_id, **slice_}, d)
    if not ad_rows:
        return
    # Every transaction takes its row locks in one global order: ad rows sorted, then org rows sorted (no
    # deadlocks on PostgreSQL). Org rows come last because all writers of an org contend for them: taken
    # last, they are held for the shortest time.
    _upsert(session, _AD_TABLE, _AD_KEY, [ad_rows[k] for k in sorted(ad_rows)])
    _upsert(session, _ORG_TABLE, _ORG_KEY, [org_rows[k] for k in sorted(org_rows)])


def _merge(
    rows: dict[tuple[str, int, str, str], dict[str, Any]],
    key: tuple[str, int, str, str],
    columns: dict[str, Any],
    d: RollupDelta,
) -> None:
    row = rows.get(key)
    if row is None:
        rows[key] = {**columns, **{c: getattr(d, c) for c in COUNTERS}}
    else:
        for c in COUNTERS:
            row[c] += getattr(d, c)


def _upsert(session: Session, table: Table, key: tuple[str, ...], rows: list[dict[str, Any]]) -> None:
    session.connection().execute(_upsert_statement(session.get_bind().dialect.name, table, key), rows)


@cache
def _upsert_statement(dialect: str, table: Table, key: tuple[str, ...]) -> Insert:
    # Built once: constructing the statement cost about as much as running it on the hot path.
    insert = sqlite.insert if dialect == "sqlite" else postgresql.insert
    stmt = insert(table)
    return stmt.on_conflict_do_update(
        index_elements=list(key),
        set_={c: table.c[c] + stmt.excluded[c] for c in COUNTERS},
    )
