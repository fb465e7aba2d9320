"""/admin/v1 routes: parse, call the operator services, answer JSON."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Query, Response

from threadline.context import AppContext
from threadline.kit import pagination
from threadline.kit.pagination import PageParams, page_params
from threadline.kit.schemas import error_responses
from threadline.operator import event_keys, jobs, publishers, review, service
from threadline.operator.deps import AdminAuth, AdminRoute, Ctx
from threadline.operator.schemas import (
    ChargeOut,
    EventKeyCreate,
    EventKeyOut,
    JobPage,
    JobState,
    KeyRotationOut,
    NewOrgOut,
    NewPublisherOut,
    OrgCreate,
    OrgOut,
    Page,
    PaymentMethodCreate,
    PaymentMethodOut,
    PublisherCreate,
    PublisherOut,
    RejectBody,
    ReviewCampaignOut,
    ReviewQueue,
)
from threadline.routing import mount

router = APIRouter(prefix="/admin/v1", tags=["operator"], route_class=AdminRoute, dependencies=[AdminAuth])
Params = Annotated[PageParams, Depends(page_params)]


@router.post("/orgs", status_code=201, response_model=NewOrgOut, responses=error_responses(400, 401))
def create_org(ctx: Ctx, body: OrgCreate) -> NewOrgOut:
    return service.create_org(ctx, body)


@router.get("/orgs", response_model=Page[OrgOut], responses=error_responses(400, 401))
def list_orgs(ctx: Ctx, params: Params) -> Page[OrgOut]:
    return service.list_orgs(ctx, params)


@router.get("/orgs/{org_id}", response_model=OrgOut, responses=error_responses(401, 404))
def get_org(ctx: Ctx, org_id: str) -> OrgOut:
    return service.get_org(ctx, org_id)


@router.post(
    "/orgs/{org_id}/api_key/rotate", response_model=KeyRotationOut, responses=error_responses(401, 404)
)
def rotate_api_key(ctx: Ctx, org_id: str) -> KeyRotationOut:
    return service.rotate_api_key(ctx, org_id)


@router.post(
    "/orgs/{org_id}/api_key/revoke",
    status_code=204,
    response_class=Response,
    responses=error_responses(401, 404),
)
def revoke_api_key(ctx: Ctx, org_id: str) -> Response:
    service.revoke_api_key(ctx, org_id)
    return Response(status_code=204)


@router.post(
    "/orgs/{org_id}/payment_methods",
    status_code=201,
    response_model=PaymentMethodOut,
    responses=error_responses(400, 401, 404, 503),
)
def add_payment_method(ctx: Ctx, org_id: str, body: PaymentMethodCreate) -> PaymentMethodOut:
    return service.add_payment_method(ctx, org_id, body)


@router.delete(
    "/orgs/{org_id}/payment_methods/{payment_method_id}",
    status_code=204,
    response_class=Response,
    responses=error_responses(401, 404),
)
def delete_payment_method(ctx: Ctx, org_id: str, payment_method_id: str) -> Response:
    service.delete_payment_method(ctx, org_id, payment_method_id)
    return Response(status_code=204)


@router.get(
    "/orgs/{org_id}/charges", response_model=Page[ChargeOut], responses=error_responses(400, 401, 404)
)
def list_charges(ctx: Ctx, org_id: str, params: Params) -> Page[ChargeOut]:
    return service.list_charges(ctx, org_id, params)


@router.post(
    "/orgs/{org_id}/event_keys",
    status_code=201,
    response_model=EventKeyOut,
    responses=error_responses(400, 401, 404),
)
def create_event_key(ctx: Ctx, org_id: str, body: EventKeyCreate) -> EventKeyOut:
    return event_keys.create_event_key(ctx, org_id, body)


@router.delete(
    "/orgs/{org_id}/event_keys/{key_id}",
    status_code=204,
    response_class=Response,
    responses=error_responses(401, 404),
)
def delete_event_key(ctx: Ctx, org_id: str, key_id: str) -> Response:
    event_keys.revoke_event_key(ctx, org_id, key_id)
    return Response(status_code=204)


@router.post(
    "/publishers", status_code=201, response_model=NewPublisherOut, responses=error_responses(400, 401)
)
def create_publisher(ctx: Ctx, body: PublisherCreate) -> NewPublisherOut:
    return publishers.create_publisher(ctx, body)


@router.get("/publishers", response_model=Page[PublisherOut], responses=error_responses(400, 401))
def list_publishers(ctx: Ctx, params: Params) -> Page[PublisherOut]:
    return publishers.list_publishers(ctx, params)


@router.get("/review_queue", response_model=ReviewQueue, responses=error_responses(400, 401))
def review_queue(
    ctx: Ctx, limit: Annotated[int, Query(ge=1, le=pagination.MAX_LIMIT)] = pagination.DEFAULT_LIMIT
) -> ReviewQueue:
    return review.review_queue(ctx, limit)


@router.post(
    "/campaigns/{campaign_id}/approve",
    response_model=ReviewCampaignOut,
    responses=error_responses(400, 401, 404),
)
def approve_campaign(ctx: Ctx, campaign_id: str) -> ReviewCampaignOut:
    return review.approve(ctx, campaign_id)


@router.post(
    "/campaigns/{campaign_id}/reject",
    response_model=ReviewCampaignOut,
    responses=error_responses(400, 401, 404),
)
def reject_campaign(ctx: Ctx, campaign_id: str, body: RejectBody) -> ReviewCampaignOut:
    return review.reject(ctx, campaign_id, body)


@router.get("/jobs", response_model=JobPage, responses=error_responses(400, 401))
def list_jobs(
    ctx: Ctx,
    params: Params,
    state: Annotated[JobState | None, Query(description="Only jobs in this state.")] = None,
) -> JobPage:
    return jobs.list_jobs(ctx, state, params)


def install(app: FastAPI, ctx: AppContext) -> None:
    mount(app, router)
