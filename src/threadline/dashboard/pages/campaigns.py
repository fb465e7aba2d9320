"""Overview and campaigns: list, detail with ad previews, insights chart with metric picker, CSV, actions."""

from __future__ import annotations

import csv
import io
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from threadline.advertiser import service as advertiser
from threadline.advertiser.service import ACTIONS
from threadline.context import AppContext
from threadline.dashboard import numbers
from threadline.dashboard.web import advertiser as signed_in_org
from threadline.dashboard.web import call, ctx_of, page, posted, redirect, signed_in
from threadline.insights.params import METRICS
from threadline.kit.errors import ApiError, not_found
from threadline.kit.pagination import PageParams
from threadline.surfaces import DASHBOARD

router = APIRouter(prefix=DASHBOARD.prefixes[0].rstrip("/"), include_in_schema=False)
PAGE_SIZE = 20


@router.get("/")
async def overview(request: Request) -> Response:
    if (await signed_in(request)).is_operator:
        return redirect("/ops/")  # the dashboard's home for operators
    principal, org_id = await signed_in_org(request)
    data = await call(numbers.overview, ctx_of(request), org_id)
    return page(request, "overview.html", principal, **data)


@router.get("/campaigns")
async def campaigns(request: Request) -> Response:
    principal, org_id = await signed_in_org(request)
    ctx = ctx_of(request)
    after = request.query_params.get("after") or None
    listing = await call(advertiser.list_campaigns, ctx, org_id, PageParams(limit=PAGE_SIZE, after=after))
    totals = await call(numbers.campaign_totals, ctx, org_id, [c["id"] for c in listing["data"]])
    return page(
        request,
        "campaigns.html",
        principal,
        campaigns=listing["data"],
        has_more=listing["has_more"],
        last_id=listing["last_id"],
        totals=totals,
        notice=request.query_params.get("notice", ""),
    )


def _detail(ctx: AppContext, org_id: str, campaign_id: str) -> dict[str, Any]:
    campaign = advertiser.get_campaign(ctx, org_id, campaign_id)
    groups = advertiser.list_ad_groups(ctx, org_id, campaign["id"], PageParams(limit=100))["data"]
    for group in groups:
        group["ads"] = advertiser.list_ads(ctx, org_id, group["id"], PageParams(limit=100))["data"]
    return {"campaign": campaign, "groups": groups}


def _series_args(request: Request) -> tuple[str, str]:
    metric = request.query_params.get("metric", "impressions")
    granularity = request.query_params.get("granularity", "daily")
    if metric not in METRICS:
        metric = "impressions"
    if granularity not in ("daily", "hourly"):
        granularity = "daily"
    return metric, granularity


@router.get("/campaigns/{campaign_id}")
async def campaign_detail(request: Request, campaign_id: str) -> Response:
    principal, org_id = await signed_in_org(request)
    ctx = ctx_of(request)
    detail = await call(_detail, ctx, org_id, campaign_id)
    metric, granularity = _series_args(request)
    rows = await call(numbers.daily_rows, ctx, org_id, "campaign", campaign_id, (metric,), granularity)
    template = "partials/series.html" if request.headers.get("hx-request") else "campaign.html"
    return page(
        request,
        template,
        principal,
        **detail,
        rows=rows,
        metric=metric,
        metrics=METRICS,
        granularity=granularity,
        notice=request.query_params.get("notice", ""),
    )


@router.get("/campaigns/{campaign_id}/insights.csv")
async def campaign_csv(request: Request, campaign_id: str) -> Response:
    _, org_id = await signed_in_org(request)
    ctx = ctx_of(request)
    _, granularity = _series_args(request)
    await call(advertiser.get_campaign, ctx, org_id, campaign_id)  # 404 for another org's campaign
    rows = await call(numbers.daily_rows, ctx, org_id, "campaign", campaign_id, METRICS, granularity)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["start_time", "readable_time", *METRICS])
    for row in rows:
        writer.writerow([row["start_time"], row.get("readable_time", ""), *(row[m] for m in METRICS)])
    return Response(
        out.getvalue(),
        media_type="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="campaign-{campaign_id[:36]}-{granularity}.csv"'
        },
    )


@router.post("/campaigns/{campaign_id}/{action}")
async def campaign_action(request: Request, campaign_id: str, action: str) -> Response:
    principal, org_id = await signed_in_org(request)
    await posted(request, principal)
    if action not in ACTIONS:
        raise not_found("page")
    try:
        await call(advertiser.campaign_action, ctx_of(request), org_id, campaign_id, action)
    except ApiError as err:
        if err.status == 404:
            raise
        return redirect(f"/campaigns/{campaign_id}", notice=err.message)
    return redirect(f"/campaigns/{campaign_id}", notice=f"Campaign {action}d.")
