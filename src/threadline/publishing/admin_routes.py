"""/admin/v1 for publishing: profiles, apps, tokens and authorization codes (operator only)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from threadline.kit.schemas import error_responses
from threadline.operator.deps import AdminAuth, AdminRoute, Ctx
from threadline.publishing import accounts, follows
from threadline.publishing.schemas import (
    AppCreate,
    AppList,
    CodeCreate,
    CodeOut,
    FollowCreate,
    FollowList,
    FollowOut,
    NewAppOut,
    ProfileCreate,
    ProfileList,
    ProfileOut,
    TokenCreate,
    TokenOut,
)

router = APIRouter(
    prefix="/admin/v1", tags=["operator: threads"], route_class=AdminRoute, dependencies=[AdminAuth]
)


@router.post(
    "/orgs/{org_id}/profiles",
    status_code=201,
    response_model=ProfileOut,
    responses=error_responses(400, 401, 404, 409),
)
def create_profile(ctx: Ctx, org_id: str, body: ProfileCreate) -> ProfileOut:
    return accounts.create_profile(ctx, org_id, body)


@router.get("/orgs/{org_id}/profiles", response_model=ProfileList, responses=error_responses(401, 404))
def list_profiles(ctx: Ctx, org_id: str) -> ProfileList:
    return accounts.list_profiles(ctx, org_id)


@router.post(
    "/profiles/{profile_id}/tokens",
    status_code=201,
    response_model=TokenOut,
    responses=error_responses(400, 401, 404),
)
def create_token(ctx: Ctx, profile_id: str, body: TokenCreate) -> TokenOut:
    return accounts.create_token(ctx, profile_id, body)


@router.post(
    "/profiles/{profile_id}/tokens/{token_id}/revoke",
    status_code=204,
    response_class=Response,
    responses=error_responses(401, 404),
)
def revoke_token(ctx: Ctx, profile_id: str, token_id: str) -> Response:
    accounts.revoke_token(ctx, profile_id, token_id)
    return Response(status_code=204)


@router.post("/apps", status_code=201, response_model=NewAppOut, responses=error_responses(400, 401))
def create_app(ctx: Ctx, body: AppCreate) -> NewAppOut:
    return accounts.create_app(ctx, body)


@router.get("/apps", response_model=AppList, responses=error_responses(401))
def list_apps(ctx: Ctx) -> AppList:
    return accounts.list_apps(ctx)


@router.post(
    "/apps/{client_id}/codes",
    status_code=201,
    response_model=CodeOut,
    responses=error_responses(400, 401, 404),
)
def create_code(ctx: Ctx, client_id: str, body: CodeCreate) -> CodeOut:
    return accounts.create_code(ctx, client_id, body)


@router.post(
    "/profiles/{profile_id}/follows",
    status_code=201,
    response_model=FollowOut,
    responses=error_responses(400, 401, 404),
)
def create_follow(ctx: Ctx, profile_id: str, body: FollowCreate) -> FollowOut:
    return follows.follow(ctx, profile_id, body.profile_id)


@router.get("/profiles/{profile_id}/follows", response_model=FollowList, responses=error_responses(401, 404))
def list_follows(ctx: Ctx, profile_id: str) -> FollowList:
    return follows.following(ctx, profile_id)


@router.delete(
    "/profiles/{profile_id}/follows/{followed_id}",
    status_code=204,
    response_class=Response,
    responses=error_responses(401, 404),
)
def delete_follow(ctx: Ctx, profile_id: str, followed_id: str) -> Response:
    follows.unfollow(ctx, profile_id, followed_id)
    return Response(status_code=204)
