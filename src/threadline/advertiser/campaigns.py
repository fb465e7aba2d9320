"""/v1/campaigns: list, nested create (charges the deposit), get, update and status actions."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from threadline.advertiser import launch, service
from threadline.advertiser.schemas import CampaignCreate, CampaignList, CampaignOut, CampaignUpdate
from threadline.app_deps import Ctx
from threadline.auth.deps import OrgId
from threadline.kit.pagination import Paging
from threadline.kit.schemas import error_responses

router = APIRouter(tags=["campaigns"])


@router.get("/v1/campaigns", response_model=CampaignList, responses=error_responses(400, 401, 429))
def list_campaigns(ctx: Ctx, org_id: OrgId, paging: Paging) -> dict[str, Any]:
    return service.list_campaigns(ctx, org_id, paging)


@router.post(
    "/v1/campaigns",
    status_code=201,
    response_model=CampaignOut,
    responses=error_responses(400, 401, 402, 409, 413, 429, 503),
    summary="Create a campaign with its ad groups and ads; charges the deposit",
)
def create_campaign(body: CampaignCreate, request: Request, ctx: Ctx, org_id: OrgId) -> dict[str, Any]:
    key: str | None = getattr(request.state, "idempotency_key", None)
    return launch.create_campaign(ctx, org_id, body, key)


@router.get(
    "/v1/campaigns/{campaign_id}", response_model=CampaignOut, responses=error_responses(401, 404, 429)
)
def get_campaign(campaign_id: str, ctx: Ctx, org_id: OrgId) -> dict[str, Any]:
    return service.get_campaign(ctx, org_id, campaign_id)


@router.post(
    "/v1/campaigns/{campaign_id}",
    response_model=CampaignOut,
    responses=error_responses(400, 401, 404, 409, 429),
)
def update_campaign(campaign_id: str, body: CampaignUpdate, ctx: Ctx, org_id: OrgId) -> dict[str, Any]:
    return service.update_campaign(ctx, org_id, campaign_id, body)


def _action_route(action: service.Action) -> None:
    def run(campaign_id: str, ctx: Ctx, org_id: OrgId) -> dict[str, Any]:
        return service.campaign_action(ctx, org_id, campaign_id, action)

    router.add_api_route(
        f"/v1/campaigns/{{campaign_id}}/{action}",
        run,
        methods=["POST"],
        response_model=CampaignOut,
        responses=error_responses(400, 401, 404, 409, 429),
        name=f"{action}_campaign",
        summary=f"{action.capitalize()} a campaign",
    )


for _action in service.ACTIONS:
    _action_route(_action)
