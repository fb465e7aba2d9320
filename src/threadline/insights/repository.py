"""Insights queries: GROUP BY over the hourly rollup tables (the entities rows are named after are the
advertiser slice's: advertiser/entities.py)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any, TypeAlias

from sqlalchemy import BigInteger, ColumnElement, case, cast, func, select, tuple_
from sqlalchemy.orm import Session
from sqlalchemy.sql.base import ReadOnlyColumnCollection
from sqlalchemy.sql.elements import KeyedColumnElement

from threadline.insights.params import DAY, Filter, Window
from threadline.store.models import InsightsCampaignHourly, InsightsHourly, InsightsOrgHourly

Columns: TypeAlias = ReadOnlyColumnCollection[str, KeyedColumnElement[Any]]
AD_ROLLUP: Columns = InsightsHourly.__table__.c
CAMPAIGN_ROLLUP: Columns = InsightsCampaignHourly.__table__.c  # the sum of each campaign's ad rows
ORG_ROLLUP: Columns = InsightsOrgHourly.__table__.c  # the sum of the org's ad rows, same slices


@dataclass(frozen=True)
class Scope:
    level: str  # ad_account | campaign | ad_group | ad
    id: str  # for ad_account: the ad account id (rollups are scoped by org)


def aggregate(
    session: Session,
    org_id: str,
    scope: Scope,
    *,
    window: Window,
    bucket: str,
    month_edges: Sequence[int],
    level: str,
    breakdowns: Sequence[str],
    filters: Sequence[Filter],
    sums: Sequence[str],
    page: tuple[int, tuple[Any, ...] | None] | None = None,
) -> list[tuple[Any, ...]]:
    """One GROUP BY for one time window. Rows: (bucket, entity_id, *breakdowns, *sums).

    `bucket` is the SQL grouping: hour | day | month (via `month_edges`) | none. An hour counts in the
    window when it overlaps it: rollups cannot split an hour. `page` = (limit, after): return only the
    first `limit` groups in (bucket, entity, breakdowns) order after that key (entity levels only).
    """
    rollup = rollup_columns(scope, level, filters)
    bucket_col = _bucket_expr(rollup, bucket, month_edges)
    entity_col = None if level == "ad_account" else rollup[f"{level}_id"]
    group: list[Any] = [c for c in (bucket_col, entity_col) if c is not None]
    group.extend(rollup[b] for b in breakdowns)
    org_match = rollup.org_id == org_id
    if scope.level in ("campaign", "ad") and rollup is AD_ROLLUP:
        # The entity's own index ((campaign_id, hour) / (ad_id, hour, ...)) reads only its rows, but
        # SQLite without statistics prefers (org_id, hour, ...), which reads every ad of the org in the
        # window (0.8 s for 30 days of 1,000 ads). `org_id || ''` keeps the check out of index choice.
        org_match = (rollup.org_id + "") == org_id
    query = select(*group, *(cast(func.sum(rollup[m]), BigInteger) for m in sums)).where(
        org_match, rollup.hour >= window.start - window.start % 3600, rollup.hour < window.end
    )
    if group:
        query = query.group_by(*group)
    if scope.level != "ad_account":
        query = query.where(rollup[f"{scope.level}_id"] == scope.id)
    for f in filters:
        column = rollup[f.column]
        query = query.where(column == f.values[0] if len(f.values) == 1 else column.in_(f.values))
    if page is not None:
        limit, after = page
        # Byte order on both stores, so that SQL and Python agree on what comes after a cursor.
        is_pg = session.get_bind().dialect.name == "postgresql"
        ordered = [c.collate("C") if is_pg and c is not bucket_col else c for c in group]
        const_bucket = None if bucket_col is not None else month_edges[0] if bucket == "month" else 0
        if after is None:
            pass
        elif const_bucket is None:
            query = query.where(rollup.hour >= after[0], tuple_(*ordered) > tuple_(*after))
        elif after[0] > const_bucket:
            return []  # the cursor is past this window's only bucket
        elif after[0] == const_bucket:
            query = query.where(tuple_(*ordered) > tuple_(*after[1:]))
        query = query.order_by(*ordered).limit(limit)
    # Without GROUP BY an empty window still yields one row of NULL sums: no activity, no row.
    rows = [r for r in session.execute(query) if group or r[0] is not None]
    out: list[tuple[Any, ...]] = []
    for row in rows:
        values = list(row)
        bucket_value = values.pop(0) if bucket_col is not None else month_edges[0] if bucket == "month" else 0
        entity_value = values.pop(0) if entity_col is not None else ""
        out.append((bucket_value, entity_value, *values))
    return out


def rollup_columns(scope: Scope, level: str, filters: Sequence[Filter]) -> Columns:
    """The rollup table a query reads: the narrowest-grained one that still answers it.

    The org and campaign tables keep the supply and country slices, so the supply filter and both
    breakdowns work on them. With no entity narrowing it, an account query reads the org table; a
    campaign-scoped one at account or campaign level (campaign filters allowed) reads the campaign table;
    any ad group or ad (scope, level or filter) needs the per-ad rows.
    """
    columns = {f.column for f in filters}
    if scope.level == "ad_account" and level == "ad_account" and columns <= {"supply"}:
        return ORG_ROLLUP
    if (
        scope.level == "campaign"
        and level in ("ad_account", "campaign")
        and columns <= {"supply", "campaign_id"}
    ):
        return CAMPAIGN_ROLLUP
    return AD_ROLLUP


def _bucket_expr(rollup: Columns, bucket: str, month_edges: Sequence[int]) -> ColumnElement[Any] | None:
    """The SQL bucket of each rollup hour, or None when the whole window is one bucket."""
    if bucket == "hour":
        return rollup.hour
    if bucket == "day":
        return rollup.hour - rollup.hour % DAY
    if bucket == "month" and len(month_edges) > 1:
        # Month starts are irregular, but a window spans at most 13 of them: map each hour to the last
        # month start at or before it with integer comparisons, which both stores run fast.
        whens = [(rollup.hour < edge, start) for start, edge in pairwise(month_edges)]
        return case(*whens, else_=month_edges[-1])
    return None


def ad_totals(session: Session, ad_ids: Sequence[str]) -> dict[str, tuple[int, int]]:
    """Lifetime (impressions, clicks) of each of these ads that has any (serving's predicted CTR)."""
    if not ad_ids:
        return {}
    rows = session.execute(
        select(InsightsHourly.ad_id, func.sum(InsightsHourly.impressions), func.sum(InsightsHourly.clicks))
        .where(InsightsHourly.ad_id.in_(ad_ids))
        .group_by(InsightsHourly.ad_id)
    ).all()
    return {ad_id: (int(imps or 0), int(clicks or 0)) for ad_id, imps, clicks in rows}
