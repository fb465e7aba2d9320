"""Operator request/response bodies for profiles, apps, tokens and codes (/admin/v1)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from threadline.kit.schemas import StrictModel

Scope = Literal[
    "threads_basic",
    "threads_content_publish",
    "threads_manage_replies",
    "threads_read_replies",
    "threads_delete",
    "threads_manage_insights",
]


class ProfileCreate(StrictModel):
    username: str = Field(pattern=r"^[a-z0-9._]{1,30}$")
    name: str | None = Field(default=None, max_length=100)
    biography: str | None = Field(default=None, max_length=500)
    profile_picture_url: str | None = Field(default=None, max_length=2048)
    is_eligible_for_geo_gating: bool = False


class ProfileOut(BaseModel):
    id: str
    org_id: str
    username: str
    name: str
    threads_biography: str
    threads_profile_picture_url: str
    is_verified: bool
    is_eligible_for_geo_gating: bool
    created_at: int


class ProfileList(BaseModel):
    data: list[ProfileOut]


class TokenCreate(StrictModel):
    scopes: list[Scope] = Field(min_length=1, max_length=6)
    lifetime: Literal["short", "long"] = "long"
    app_id: str | None = Field(default=None, max_length=19)


class TokenOut(BaseModel):
    id: str
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int
    scopes: list[str]


class AppCreate(StrictModel):
    name: str = Field(min_length=1, max_length=200)
    redirect_uris: list[str] = Field(default_factory=list, max_length=20)


class AppOut(BaseModel):
    client_id: str
    name: str
    redirect_uris: list[str]
    created_at: int


class NewAppOut(AppOut):
    client_secret: str


class AppList(BaseModel):
    data: list[AppOut]


class CodeCreate(StrictModel):
    profile_id: str = Field(max_length=19)
    scopes: list[Scope] = Field(min_length=1, max_length=6)
    redirect_uri: str = Field(min_length=1, max_length=2048)


class CodeOut(BaseModel):
    code: str
    expires_in: int


class FollowCreate(StrictModel):
    profile_id: str = Field(min_length=1, max_length=32, description="The profile to follow.")


class FollowOut(BaseModel):
    follower_id: str
    followed_id: str
    created_at: int


class FollowList(BaseModel):
    data: list[FollowOut]
