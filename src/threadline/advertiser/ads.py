"""/v1/ads: list (per ad group), create, get, update and status actions."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from threadline.advertiser import service
from threadline.advertiser.schemas import AdCreate, AdList, AdOut, AdUpdate
from threadline.app_deps import Ctx
from threadline.auth.deps import OrgId
from threadline.kit.pagination import Paging
from threadline.kit.schemas import error_responses

router = APIRouter(tags=["ads"])


@router.get("/v1/ads", response_model=AdList, responses=error_responses(400, 401, 404, 429))
def list_ads(
    ad_group_id: Annotated[str, Query(max_length=200)], ctx: Ctx, org_id: OrgId, paging: Paging
) -> dict[str, Any]:
    return service.list_ads(ctx, org_id, ad_group_id, paging)


@router.post(
    "/v1/ads", status_code=201, response_model=AdOut, responses=error_responses(400, 401, 404, 409, 429)
)
def create_ad(body: AdCreate, ctx: Ctx, org_id: OrgId) -> dict[str, Any]:
    return service.create_ad(ctx, org_id, body)


@router.get("/v1/ads/{ad_id}", response_model=AdOut, responses=error_responses(401, 404, 429))
def get_ad(ad_id: str, ctx: Ctx, org_id: OrgId) -> dict[str, Any]:
    return service.get_ad(ctx, org_id, ad_id)


@router.post("/v1/ads/{ad_id}", response_model=AdOut, responses=error_responses(400, 401, 404, 409, 429))
def update_ad(ad_id: str, body: AdUpdate, ctx: Ctx, org_id: OrgId) -> dict[str, Any]:
    return service.update_ad(ctx, org_id, ad_id, body)


def _action_route(action: service.Action) -> None:
    def run(ad_id: str, ctx: Ctx, org_id: OrgId) -> dict[str, Any]:
        return service.ad_action(ctx, org_id, ad_id, action)

    router.add_api_route(
        f"/v1/ads/{{ad_id}}/{action}",
        run,
        methods=["POST"],
        response_model=AdOut,
        responses=error_responses(400, 401, 404, 409, 429),
        name=f"{action}_ad",
        summary=f"{action.capitalize()} an ad",
    )


for _action in service.ACTIONS:
    _action_route(_action)
