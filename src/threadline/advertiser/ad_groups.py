"""/v1/ad_groups: list (per campaign), create, get, update and status actions."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from threadline.advertiser import service
from threadline.advertiser.schemas import AdGroupCreate, AdGroupList, AdGroupOut, AdGroupUpdate
from threadline.app_deps import Ctx
from threadline.auth.deps import OrgId
from threadline.kit.pagination import Paging
from threadline.kit.schemas import error_responses

router = APIRouter(tags=["ad groups"])


@router.get("/v1/ad_groups", response_model=AdGroupList, responses=error_responses(400, 401, 404, 429))
def list_ad_groups(
    campaign_id: Annotated[str, Query(max_length=200)], ctx: Ctx, org_id: OrgId, paging: Paging
) -> dict[str, Any]:
    return service.list_ad_groups(ctx, org_id, campaign_id, paging)


@router.post(
    "/v1/ad_groups",
    status_code=201,
    response_model=AdGroupOut,
    responses=error_responses(400, 401, 404, 409, 429),
)
def create_ad_group(body: AdGroupCreate, ctx: Ctx, org_id: OrgId) -> dict[str, Any]:
    return service.create_ad_group(ctx, org_id, body)


@router.get(
    "/v1/ad_groups/{ad_group_id}", response_model=AdGroupOut, responses=error_responses(401, 404, 429)
)
def get_ad_group(ad_group_id: str, ctx: Ctx, org_id: OrgId) -> dict[str, Any]:
    return service.get_ad_group(ctx, org_id, ad_group_id)


@router.post(
    "/v1/ad_groups/{ad_group_id}",
    response_model=AdGroupOut,
    responses=error_responses(400, 401, 404, 409, 429),
)
def update_ad_group(ad_group_id: str, body: AdGroupUpdate, ctx: Ctx, org_id: OrgId) -> dict[str, Any]:
    return service.update_ad_group(ctx, org_id, ad_group_id, body)


def _action_route(action: service.Action) -> None:
    def run(ad_group_id: str, ctx: Ctx, org_id: OrgId) -> dict[str, Any]:
        return service.ad_group_action(ctx, org_id, ad_group_id, action)

    router.add_api_route(
        f"/v1/ad_groups/{{ad_group_id}}/{action}",
        run,
        methods=["POST"],
        response_model=AdGroupOut,
        responses=error_responses(400, 401, 404, 409, 429),
        name=f"{action}_ad_group",
        summary=f"{action.capitalize()} an ad group",
    )


for _action in service.ACTIONS:
    _action_route(_action)
