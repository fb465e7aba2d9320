"""Operator bodies for webhooks and mirroring (/admin/v1)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from threadline.kit.schemas import StrictModel

WebhookField = Literal["replies", "mentions"]
DeliveryStatus = Literal["pending", "delivered", "failed"]
MirrorStatus = Literal["pending", "published", "failed", "deleted"]


class SubscriptionCreate(StrictModel):
    callback_url: str = Field(min_length=1, max_length=2048)
    verify_token: str = Field(min_length=1, max_length=200)
    fields: list[WebhookField] = Field(min_length=1, max_length=2)


class SubscriptionOut(BaseModel):
    id: str
    client_id: str
    callback_url: str
    fields: list[WebhookField]
    active: bool
    created_at: int


class SubscriptionList(BaseModel):
    data: list[SubscriptionOut]


class DeliveryOut(BaseModel):
    id: str
    subscription_id: str
    field: WebhookField
    media_id: str
    target_id: str
    status: DeliveryStatus
    attempts: int
    last_status_code: int | None
    last_error: str | None
    created_at: int
    updated_at: int
    delivered_at: int | None
    payload: dict[str, Any] | None  # the body as sent (None until the first attempt renders it)


class UpstreamLink(StrictModel):
    base_url: str = Field(min_length=1, max_length=2048)
    access_token: str = Field(min_length=1, max_length=2048)
    user_id: str = Field(default="me", min_length=1, max_length=64, pattern=r"^(me|[0-9]{1,30})$")
    # Unix time the token expires, when the operator knows it; else a long-lived token's 60 days.
    token_expires_at: int | None = Field(default=None, ge=0, le=2**62)


class UpstreamOut(BaseModel):
    profile_id: str
    base_url: str
    user_id: str
    token_expires_at: int
    token_refreshed_at: int | None
    created_at: int
    updated_at: int


class MirrorOut(BaseModel):
    media_id: str
    status: MirrorStatus
    upstream_media_id: str | None
    error: str | None
    attempts: int
