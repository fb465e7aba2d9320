"""GET /v1/{ad_account|campaigns/{id}|ad_groups/{id}|ads/{id}}/insights (the advertiser gate authenticates)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse

from threadline.app_deps import Ctx
from threadline.auth.deps import OrgId
from threadline.context import AppContext
from threadline.insights import service
from threadline.insights.schemas import QUERY_PARAMETERS, InsightsListOut
from threadline.kit.schemas import error_responses
from threadline.routing import mount

router = APIRouter(tags=["insights"])

_ROUTE: dict[str, Any] = {
    "response_model": InsightsListOut,
    "responses": error_responses(400, 401, 404, 429),
    "openapi_extra": {"parameters": QUERY_PARAMETERS},
}


def _answer(
    ctx: AppContext, org_id: str, request: Request, level: str, entity_id: str | None
) -> JSONResponse:
    # Rows are built as plain dicts whose columns depend on the query; InsightsListOut documents them.
    return JSONResponse(service.insights(ctx, org_id, level, entity_id, request.query_params))


@router.get("/v1/ad_account/insights", **_ROUTE)
def ad_account_insights(ctx: Ctx, org_id: OrgId, request: Request) -> JSONResponse:
    return _answer(ctx, org_id, request, "ad_account", None)


@router.get("/v1/campaigns/{campaign_id}/insights", **_ROUTE)
def campaign_insights(ctx: Ctx, org_id: OrgId, request: Request, campaign_id: str) -> JSONResponse:
    return _answer(ctx, org_id, request, "campaign", campaign_id)


@router.get("/v1/ad_groups/{ad_group_id}/insights", **_ROUTE)
def ad_group_insights(ctx: Ctx, org_id: OrgId, request: Request, ad_group_id: str) -> JSONResponse:
    return _answer(ctx, org_id, request, "ad_group", ad_group_id)


@router.get("/v1/ads/{ad_id}/insights", **_ROUTE)
def ad_insights(ctx: Ctx, org_id: OrgId, request: Request, ad_id: str) -> JSONResponse:
    return _answer(ctx, org_id, request, "ad", ad_id)


def install(app: FastAPI, ctx: AppContext) -> None:
    """Mount the insights routes; errors render through the advertiser (OpenAI-style) surface."""
    mount(app, router)
