"""Hourly rollup writes: every counted thing bumps its bucket in the transaction that records it.

The upsert is atomic in the database (``x = x + excluded.x``), so concurrent writers in several
processes never lose an increment and never need to read the row first.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from threadline.store.models import InsightsHourly

COUNTERS = (
    "impressions",
    "viewable_impressions",
    "clicks",
    "spend_micros",
    "conversions",
    "conversion_value_micros",
)
_TABLE: Table = InsightsHourly.__table__  # type: ignore[assignment]
_CONFLICT = ["ad_id", "hour", "supply", "country"]


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
    """The batched variant: one upsert row per bucket, however many deltas hit it."""
    buckets: dict[tuple[str, int, str, str], dict[str, Any]] = {}
    for d in deltas:
        key = (d.ad_id, hour_of(d.ts), d.supply, d.country)
        row = buckets.get(key)
        if row is None:
            buckets[key] = {
                "org_id": d.org_id,
                "campaign_id": d.campaign_id,
                "ad_group_id": d.ad_group_id,
                "ad_id": d.ad_id,
                "hour": key[1],
                "supply": d.supply,
                "country": d.country,
                **{c: getattr(d, c) for c in COUNTERS},
            }
        else:
            for c in COUNTERS:
                row[c] += getattr(d, c)
    if not buckets:
        return
    # A fixed order takes row locks in the same order in every transaction (no deadlocks on PostgreSQL).
    rows = [buckets[k] for k in sorted(buckets)]
    dialect = session.get_bind().dialect.name
    insert = sqlite.insert if dialect == "sqlite" else postgresql.insert
    stmt = insert(_TABLE)
    stmt = stmt.on_conflict_do_update(
        index_elements=_CONFLICT,
        set_={c: _TABLE.c[c] + stmt.excluded[c] for c in COUNTERS},
    )
    session.connection().execute(stmt, rows)
