"""Insights rules: scope checks, bucketing, metrics, row shape, ordering and paging."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy.orm import Session

from threadline.advertiser.entities import Entity, find_entity, ids_containing, load_entities
from threadline.advertiser.repository import default_ad_account
from threadline.context import AppContext
from threadline.insights import repository as repo
from threadline.insights.params import (
    DAY,
    HOUR,
    LEVELS,
    Filter,
    InsightsQuery,
    QueryParams,
    RowKey,
    Window,
    month_start,
    next_month,
    parse,
    row_id,
)
from threadline.kit.errors import not_found

# The rollup sums each metric needs.
METRIC_SUMS: dict[str, tuple[str, ...]] = {
    "impressions": ("impressions",),
    "viewable_impressions": ("viewable_impressions",),
    "clicks": ("clicks",),
    "spend": ("spend_micros",),
    "conversions": ("conversions",),
    "conversion_value": ("conversion_value_micros",),
    "ctr": ("clicks", "impressions"),
    "cpc": ("spend_micros", "clicks"),
    "cpm": ("spend_micros", "impressions"),
    "cpa": ("spend_micros", "conversions"),
    "roas": ("conversion_value_micros", "spend_micros"),
}
_READABLE = {"hourly": "%Y-%m-%dT%H:00", "daily": "%Y-%m-%d", "monthly": "%Y-%m"}
_ROUND = 6  # dollars and ratios: micro precision, no float noise such as 0.30000000000000004

Sums = list[int]


def insights(
    ctx: AppContext,
    org_id: str,
    scope_level: str,
    scope_id: str | None,
    params: QueryParams,
    *,
    with_total: bool = False,
) -> dict[str, Any]:
    """The insights rows of a query. ``with_total``: also ``total``, the fields over every row of the
    answer, summed from the same aggregate (None when the page is cut short): a series and its total
    for the price of one query."""
    query = parse(params, scope_level, ctx.clock.now_s())
    sums = sorted({s for f in query.fields for s in METRIC_SUMS[f]})
    with ctx.db.read() as session:
        scope, account = _resolve_scope(session, org_id, scope_level, scope_id)
        entities = (
            {} if query.level == "ad_account" else load_entities(session, org_id, query.level, _within(scope))
        )
        rows: dict[RowKey, Sums] = {}
        # Entity-level buckets come from SQL already ordered and cut at limit + 1 after the cursor. A
        # window cut short only vouches for keys up to its last one: keep rows up to the lowest such key.
        paged = query.level != "ad_account" and query.granularity != "none"
        bounds: list[RowKey] = []
        for window in query.windows:
            window_rows = _window_rows(session, org_id, scope, query, window, sums, account.id, paged)
            if paged and len(window_rows) > query.limit:
                bounds.append(max(window_rows))
            if query.granularity == "none":
                idle = _idle_entities(session, org_id, query, window, account, entities, window_rows)
                window_rows.update(dict.fromkeys(idle, [0] * len(sums)))
            for key, values in window_rows.items():
                rows.setdefault(key, values)  # overlapping windows: the first one given wins
    keys = sorted(rows)
    if query.after is not None:
        after = query.after
        keys = [k for k in keys if k > after]
    if bounds:
        bound = min(bounds)
        keys = [k for k in keys if k <= bound]
    page = keys[: query.limit]
    render = _renderer(query, sums, account, entities)
    data = [render(key, rows[key]) for key in page]
    out: dict[str, Any] = {
        "object": "list",
        "data": data,
        "count": len(data),
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": len(keys) > query.limit,
    }
    if with_total:
        whole = not bounds and not out["has_more"] and query.after is None
        sums_total = [sum(column) for column in zip(*(rows[k] for k in page), strict=True)] or [0] * len(sums)
        at = {name: i for i, name in enumerate(sums)}
        out["total"] = {f: _metric(f, sums_total, at) for f in query.fields} if whole else None
    return out


def _within(scope: repo.Scope) -> tuple[str, str] | None:
    return None if scope.level == "ad_account" else (scope.level, scope.id)


def _resolve_scope(
    session: Session, org_id: str, scope_level: str, scope_id: str | None
) -> tuple[repo.Scope, Entity]:
    account = default_ad_account(session, org_id)
    account_entity = Entity(account.id, account.name, None, None, account.created_at)
    if scope_level == "ad_account" or scope_id is None:
        return repo.Scope("ad_account", account.id), account_entity
    if find_entity(session, org_id, scope_level, scope_id) is None:
        raise not_found(scope_level.replace("_", " "), f"{scope_level}_id")
    return repo.Scope(scope_level, scope_id), account_entity


def _window_rows(
    session: Session,
    org_id: str,
    scope: repo.Scope,
    query: InsightsQuery,
    window: Window,
    sums: list[str],
    account_id: str,
    paged: bool,
) -> dict[RowKey, Sums]:
    granularity = query.granularity
    # At account level there are few groups per hour, and grouping by the indexed hour column lets both
    # stores aggregate while they scan instead of sorting every rollup row: roll hours up here.
    if granularity == "none":
        sql_bucket = "none"
    elif granularity == "hourly" or query.level == "ad_account":
        sql_bucket = "hour"
    else:
        sql_bucket = {"daily": "day", "monthly": "month"}[granularity]
    edges = _month_edges(window) if sql_bucket == "month" else []
    found = repo.aggregate(
        session,
        org_id,
        scope,
        window=window,
        bucket=sql_bucket,
        month_edges=edges,
        level=query.level,
        breakdowns=query.breakdowns,
        filters=query.filters,
        sums=sums,
        page=(query.limit + 1, _sql_key(query.after, query.breakdowns)) if paged else None,
    )
    bucket_of = _bucketer(granularity, window)
    n_bd = len(query.breakdowns)
    supply_at = query.breakdowns.index("supply") + 2 if "supply" in query.breakdowns else None
    country_at = query.breakdowns.index("country") + 2 if "country" in query.breakdowns else None
    out: dict[RowKey, Sums] = {}
    for row in found:
        start, end = bucket_of(row[0])
        key = (
            start,
            account_id if query.level == "ad_account" else row[1],
            "" if supply_at is None else row[supply_at],
            "" if country_at is None else row[country_at],
            end,
        )
        values = row[2 + n_bd :]
        acc = out.get(key)
        if acc is None:
            out[key] = [int(v) for v in values]
        else:
            for i, v in enumerate(values):
                acc[i] += int(v)
    return out


def _sql_key(after: RowKey | None, breakdowns: tuple[str, ...]) -> tuple[Any, ...] | None:
    if after is None:
        return None
    start, entity_id, supply, country, _ = after
    return (
        start,
        entity_id,
        *([supply] if "supply" in breakdowns else []),
        *([country] if "country" in breakdowns else []),
    )


def _bucketer(granularity: str, window: Window) -> Callable[[int], tuple[int, int]]:
    if granularity == "none":
        return lambda _: (window.start, window.end)
    if granularity == "hourly":
        return lambda hour: (hour, hour + HOUR)
    if granularity == "daily":
        return lambda hour: (hour - hour % DAY, hour - hour % DAY + DAY)
    return _month_of_day  # monthly: the SQL bucket is an hour or a month start; both map to the month


@lru_cache(maxsize=4096)
def _month_of_day(ts: int) -> tuple[int, int]:
    start = month_start(ts)
    return start, next_month(start)


def _month_edges(window: Window) -> list[int]:
    """Starts of the months an hour of the window can fall in (at most 13 for 366 days)."""
    edges = [month_start(window.start)]
    while (following := next_month(edges[-1])) < window.end:
        edges.append(following)
    return edges


def _idle_entities(
    session: Session,
    org_id: str,
    query: InsightsQuery,
    window: Window,
    account: Entity,
    entities: dict[str, Entity],
    active: dict[RowKey, Sums],
) -> list[RowKey]:
    """Granularity none lists every entity that existed in the window: keys of zero rows for the idle ones."""
    seen = {key[1] for key in active}
    candidates = (
        [account]
        if query.level == "ad_account"
        else _matching(session, org_id, query.level, entities, query.filters)
    )
    return [
        (window.start, e.id, "", "", window.end)
        for e in candidates
        if e.created_at < window.end and e.id not in seen
    ]


def _matching(
    session: Session, org_id: str, level: str, entities: dict[str, Entity], filters: tuple[Filter, ...]
) -> list[Entity]:
    """The entities an idle row may be listed for: those the entity filters select."""
    out = list(entities.values())
    for f in filters:
        if f.column == "supply":
            continue
        filter_level = f.column.removesuffix("_id")
        allowed = set(f.values)
        if LEVELS.index(filter_level) > LEVELS.index(level):
            allowed = ids_containing(session, org_id, level, filter_level, f.values)
            out = [e for e in out if e.id in allowed]
        else:
            attribute = "id" if filter_level == level else f.column
            out = [e for e in out if getattr(e, attribute) in allowed]
    return out


def _renderer(
    query: InsightsQuery, sums: list[str], account: Entity, entities: dict[str, Entity]
) -> Callable[[RowKey, Sums], dict[str, Any]]:
    at = {name: i for i, name in enumerate(sums)}
    level = query.level
    fmt = _READABLE.get(query.granularity)

    def render(key: RowKey, values: Sums) -> dict[str, Any]:
        start, entity_id, supply, country, end = key
        row: dict[str, Any] = {"id": row_id(key, query.breakdowns), "start_time": start, "end_time": end}
        if fmt is not None:
            row["readable_time"] = datetime.fromtimestamp(start, UTC).strftime(fmt)
        row["timezone"] = "UTC"
        if level == "ad_account":
            row["ad_account_id"] = account.id
            row["ad_account_name"] = account.name
        else:
            entity = entities.get(entity_id)
            if level != "campaign":
                row["campaign_id"] = entity.campaign_id if entity else None
            if level == "ad":
                row["ad_group_id"] = entity.ad_group_id if entity else None
            row[f"{level}_id"] = entity_id
            row[f"{level}_name"] = entity.name if entity else None
        if "supply" in query.breakdowns:
            row["supply"] = supply or None
        if "country" in query.breakdowns:
            row["country"] = country or None
        for field in query.fields:
            row[field] = _metric(field, values, at)
        return row

    return render


def _metric(field: str, values: Sums, at: dict[str, int]) -> int | float:
    def total(name: str) -> int:
        return values[at[name]]

    def ratio(numerator: float, denominator: int) -> float:
        return round(numerator / denominator, _ROUND) if denominator else 0.0

    if field in ("impressions", "viewable_impressions", "clicks", "conversions"):
        return total(field)
    if field == "spend":
        return round(total("spend_micros") / 1e6, _ROUND)
    if field == "conversion_value":
        return round(total("conversion_value_micros") / 1e6, _ROUND)
    if field == "ctr":
        return ratio(total("clicks"), total("impressions"))
    if field == "cpc":
        return ratio(total("spend_micros") / 1e6, total("clicks"))
    if field == "cpm":
        return ratio(total("spend_micros") / 1e3, total("impressions"))
    if field == "cpa":
        return ratio(total("spend_micros") / 1e6, total("conversions"))
    return ratio(total("conversion_value_micros"), total("spend_micros"))  # roas
