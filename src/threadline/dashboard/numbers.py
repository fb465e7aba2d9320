"""Every number the dashboard shows comes from the insights service (the same function as the API)."""

from __future__ import annotations

import json
from typing import Any

from starlette.datastructures import QueryParams

from threadline.context import AppContext
from threadline.insights import service as insights
from threadline.insights.params import METRICS

OVERVIEW_FIELDS = ("spend", "impressions", "clicks", "ctr", "conversions", "cpa", "roas")
PERIODS = (("today", "Today"), ("last_7_days", "7 days"), ("last_30_days", "30 days"))
CHART_METRICS = METRICS


def _preset(preset: str) -> str:
    return json.dumps({"type": "preset", "preset": preset}, separators=(",", ":"))


def _query(pairs: list[tuple[str, str]]) -> QueryParams:
    return QueryParams(pairs)


def overview(ctx: AppContext, org_id: str) -> dict[str, Any]:
    """Totals for today / 7 d / 30 d and the daily rows of the last 30 days (ad account level)."""
    fields = [("fields[]", f) for f in OVERVIEW_FIELDS]
    totals = insights.insights(
        ctx,
        org_id,
        "ad_account",
        None,
        _query([("time_granularity", "none"), *fields, *(("time_ranges[]", _preset(p)) for p, _ in PERIODS)]),
    )["data"]
    # Rows come back ordered by start time: 30 days, 7 days, today. Match them to periods by start.
    by_start = {row["start_time"]: row for row in totals}
    starts = sorted(by_start)
    periods = []
    for (key, label), start in zip(PERIODS, reversed(starts), strict=False):
        periods.append({"key": key, "label": label, "row": by_start[start]})
    daily = daily_rows(ctx, org_id, "ad_account", None, OVERVIEW_FIELDS)
    return {"fields": OVERVIEW_FIELDS, "periods": periods, "daily": daily}


def daily_rows(
    ctx: AppContext,
    org_id: str,
    level: str,
    scope_id: str | None,
    fields: tuple[str, ...],
    granularity: str = "daily",
) -> list[dict[str, Any]]:
    window = _preset("today") if granularity == "hourly" else _preset("last_30_days")
    answer = insights.insights(
        ctx,
        org_id,
        level,
        scope_id,
        _query(
            [
                ("time_granularity", granularity),
                ("time_ranges[]", window),
                *(("fields[]", f) for f in fields),
            ]
        ),
    )
    rows: list[dict[str, Any]] = answer["data"]
    return rows


def campaign_totals(ctx: AppContext, org_id: str, campaign_ids: list[str]) -> dict[str, dict[str, Any]]:
    """Spend, impressions and clicks of these campaigns over the longest window the API allows (366 days)."""
    if not campaign_ids:
        return {}
    only = json.dumps({"field": "campaign.id", "operator": "in", "value": campaign_ids})
    now = ctx.clock.now_s()
    window = json.dumps(
        {"type": "time_range", "start_time": max(0, now - 366 * 86400 + 1), "end_time": now + 1}
    )
    answer = insights.insights(
        ctx,
        org_id,
        "ad_account",
        None,
        _query(
            [
                ("aggregation_level", "campaign"),
                ("time_granularity", "none"),
                ("time_ranges[]", window),
                ("fields[]", "spend"),
                ("fields[]", "impressions"),
                ("fields[]", "clicks"),
                (
                    "filters[]",
                    only,
                ),  # only the page's campaigns: the rows read grow with the page, not the org
                ("limit", "1000"),
            ]
        ),
    )
    return {row["campaign_id"]: row for row in answer["data"]}
