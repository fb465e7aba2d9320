"""Request and response models of the tools slice's operator API and its discovery endpoint."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from threadline.kit.schemas import StrictModel


class ToolKeyCreate(StrictModel):
    label: str = Field(min_length=1, max_length=200, pattern=r"^[^\x00]*$")


class ToolKeyOut(BaseModel):
    id: str
    label: str
    api_key: str = Field(description="The tool key (`sk_live_...`); shown only in this response.")
    created_at: int


class ToolPlanIn(StrictModel):
    tier: Literal["free", "plus", "pro", "max"]


class ToolPlanOut(BaseModel):
    org_id: str
    tier: str
    limit: int
    used: int
    period_end: str


class ConnectionCreate(StrictModel):
    platform: Literal["tiktok_ads"]
    advertiser_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    name: str = Field(min_length=1, max_length=200, pattern=r"^[^\x00]*$")
    access_token: str = Field(min_length=1, max_length=4096, pattern=r"^[^\x00]*$")


class ConnectionOut(BaseModel):
    platform: str
    account_id: str
    name: str
    active: bool
    selector: str


class ToolCallOut(BaseModel):
    id: str
    tool: str
    key_id: str
    transport: str
    arguments_hash: str
    status: int
    outcome: str
    error: str | None
    quota_used: bool
    created_at: int
    finished_at: int | None


class ToolInfo(BaseModel):
    name: str
    description: str
    category: str
    platform: str | None
    selector: str | None
    read_only: bool
    destructive: bool
    quota_free: bool
    idempotent: bool
    input_schema: dict[str, Any]


class ToolList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ToolInfo]
