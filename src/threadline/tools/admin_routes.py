"""/admin/v1 routes of the tools slice: tool keys, plans, connections, the tool-call log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response

from threadline.kit.pagination import PageParams, page_params
from threadline.kit.schemas import error_responses
from threadline.operator.deps import AdminAuth, AdminRoute, Ctx
from threadline.operator.schemas import Page
from threadline.tools import accounts, keys
from threadline.tools.schemas import (
    ConnectionCreate,
    ConnectionOut,
    ToolCallOut,
    ToolKeyCreate,
    ToolKeyOut,
    ToolPlanIn,
    ToolPlanOut,
)

router = APIRouter(
    prefix="/admin/v1", tags=["operator: tools"], route_class=AdminRoute, dependencies=[AdminAuth]
)
Params = Annotated[PageParams, Depends(page_params)]


@router.post(
    "/orgs/{org_id}/tool_keys",
    status_code=201,
    response_model=ToolKeyOut,
    responses=error_responses(400, 401, 404),
)
def create_tool_key(ctx: Ctx, org_id: str, body: ToolKeyCreate) -> ToolKeyOut:
    return keys.create_tool_key(ctx, org_id, body)


@router.delete(
    "/orgs/{org_id}/tool_keys/{key_id}",
    status_code=204,
    response_class=Response,
    responses=error_responses(401, 404),
)
def delete_tool_key(ctx: Ctx, org_id: str, key_id: str) -> Response:
    keys.revoke_tool_key(ctx, org_id, key_id)
    return Response(status_code=204)


@router.put("/orgs/{org_id}/tool_plan", response_model=ToolPlanOut, responses=error_responses(400, 401, 404))
def put_tool_plan(ctx: Ctx, org_id: str, body: ToolPlanIn) -> ToolPlanOut:
    return keys.set_plan(ctx, org_id, body.tier)


@router.post(
    "/orgs/{org_id}/connections",
    status_code=201,
    response_model=ConnectionOut,
    responses=error_responses(400, 401, 404),
)
def create_connection(ctx: Ctx, org_id: str, body: ConnectionCreate) -> ConnectionOut:
    return keys.connect(ctx, org_id, body)


@router.get(
    "/orgs/{org_id}/connections", response_model=list[ConnectionOut], responses=error_responses(401, 404)
)
def list_connections(ctx: Ctx, org_id: str) -> list[ConnectionOut]:
    return keys.list_connections(ctx, org_id)


@router.delete(
    "/orgs/{org_id}/connections/{platform}/{account_id}",
    status_code=204,
    response_class=Response,
    responses=error_responses(401, 404),
)
def delete_connection(ctx: Ctx, org_id: str, platform: str, account_id: str) -> Response:
    accounts.disconnect(ctx, org_id, platform, account_id)
    return Response(status_code=204)


@router.get(
    "/orgs/{org_id}/tool_calls", response_model=Page[ToolCallOut], responses=error_responses(400, 401, 404)
)
def list_tool_calls(ctx: Ctx, org_id: str, params: Params) -> Page[ToolCallOut]:
    return keys.list_tool_calls(ctx, org_id, params)
