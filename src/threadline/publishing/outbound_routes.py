"""/admin/v1 for webhooks (subscriptions, the delivery log) and mirroring (upstream links, mirror state)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from threadline.kit.pagination import Paging
from threadline.kit.schemas import error_responses
from threadline.operator.deps import AdminAuth, AdminRoute, Ctx
from threadline.operator.schemas import Page
from threadline.publishing import mirror, webhooks
from threadline.publishing.outbound_schemas import (
    DeliveryOut,
    MirrorOut,
    SubscriptionCreate,
    SubscriptionList,
    SubscriptionOut,
    UpstreamLink,
    UpstreamOut,
)

router = APIRouter(
    prefix="/admin/v1", tags=["operator: threads outbound"], route_class=AdminRoute, dependencies=[AdminAuth]
)


@router.post(
    "/apps/{client_id}/subscriptions",
    status_code=201,
    response_model=SubscriptionOut,
    responses=error_responses(400, 401, 404, 409),
)
def create_subscription(ctx: Ctx, client_id: str, body: SubscriptionCreate) -> SubscriptionOut:
    """Verify the callback (Meta's hub.challenge GET) and subscribe it to the fields."""
    return webhooks.create_subscription(ctx, client_id, body)


@router.get(
    "/apps/{client_id}/subscriptions", response_model=SubscriptionList, responses=error_responses(401, 404)
)
def list_subscriptions(ctx: Ctx, client_id: str) -> SubscriptionList:
    return webhooks.list_subscriptions(ctx, client_id)


@router.delete(
    "/apps/{client_id}/subscriptions/{subscription_id}",
    status_code=204,
    response_class=Response,
    responses=error_responses(401, 404),
)
def delete_subscription(ctx: Ctx, client_id: str, subscription_id: str) -> Response:
    webhooks.delete_subscription(ctx, client_id, subscription_id)
    return Response(status_code=204)


@router.get(
    "/apps/{client_id}/deliveries",
    response_model=Page[DeliveryOut],
    responses=error_responses(400, 401, 404),
)
def list_deliveries(
    ctx: Ctx,
    client_id: str,
    paging: Paging,
    status: Annotated[Literal["pending", "delivered", "failed"] | None, Query()] = None,
) -> Page[DeliveryOut]:
    """The delivery log, newest first: status, attempts, the last answer and the body as sent."""
    return webhooks.list_deliveries(ctx, client_id, status, paging)


@router.put(
    "/profiles/{profile_id}/upstream", response_model=UpstreamOut, responses=error_responses(400, 401, 404)
)
def link_upstream(ctx: Ctx, profile_id: str, body: UpstreamLink) -> UpstreamOut:
    """Link (or re-link) the profile to an upstream Threads account; its posts are mirrored from now on."""
    return mirror.link_upstream(ctx, profile_id, body)


@router.get(
    "/profiles/{profile_id}/upstream", response_model=UpstreamOut, responses=error_responses(401, 404)
)
def get_upstream(ctx: Ctx, profile_id: str) -> UpstreamOut:
    return mirror.get_upstream(ctx, profile_id)


@router.delete(
    "/profiles/{profile_id}/upstream",
    status_code=204,
    response_class=Response,
    responses=error_responses(401, 404),
)
def unlink_upstream(ctx: Ctx, profile_id: str) -> Response:
    mirror.unlink_upstream(ctx, profile_id)
    return Response(status_code=204)


@router.get("/media/{media_id}/mirror", response_model=MirrorOut, responses=error_responses(401, 404))
def get_mirror(ctx: Ctx, media_id: str) -> MirrorOut:
    return mirror.get_mirror(ctx, media_id)
