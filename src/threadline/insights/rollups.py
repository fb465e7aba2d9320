"""Hourly rollup writes: every counted thing bumps its bucket in the transaction that records it.

Each bump adds to three tables in the same statement batch: the ad-level bucket (insights_hourly), the
campaign-level bucket (insights_campaign_hourly, what campaign-wide insights read) and the org-level
bucket (insights_org_hourly, what account-wide insights read), so the campaign and org tables are always
the sums of the ad rows. The upsert is atomic in the database (``x = x + excluded.x``), so concurrent writers
in several processes never lose an increment and never need to read the row first.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import Table
from sqlalchemy.orm import Session

from threadline.store.bulk import add_on_conflict, insert_rows
from threadline.store.models import InsightsCampaignHourly, InsightsHourly, InsightsOrgHourly

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
_CAMPAIGN_TABLE: Table = InsightsCampaignHourly.__table__  # type: ignore[assignment]
_CAMPAIGN_KEY = ("campaign_id", "hour", "supply", "country")
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
    campaign_rows: dict[tuple[str, int, str, str], dict[str, Any]] = {}
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
        campaign = {"org_id": d.org_id, "campaign_id": d.campaign_id}
        _merge(campaign_rows, (d.campaign_id, hour, d.supply, d.country), {**campaign, **slice_}, d)
        _merge(org_rows, (d.org_id, hour, d.supply, d.country), {"org_id": d.org_id, **slice_}, d)
    if not ad_rows:
        return
    # One statement per table (store/bulk.py), whose rows apply in the order given. Every transaction
    # takes its row locks in one global order: ad rows sorted, then campaign rows sorted,
    # then org rows sorted (no deadlocks on PostgreSQL). The wider the bucket, the more writers contend for
    # it, so it comes later: taken last, the org rows are held for the shortest time.
    _upsert(session, _AD_TABLE, _AD_KEY, [ad_rows[k] for k in sorted(ad_rows)])
    _upsert(session, _CAMPAIGN_TABLE, _CAMPAIGN_KEY, [campaign_rows[k] for k in sorted(campaign_rows)])
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
    insert_rows(session, table, rows, _adding(table, key))


@cache
def _adding(table: Table, key: tuple[str, ...]) -> str:
    return add_on_conflict(table, key, COUNTERS)
