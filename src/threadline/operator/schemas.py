"""Request and response bodies of /admin/v1 (the CLI prints the same models)."""

from __future__ import annotations

import re
from typing import Annotated, Any, Generic, Literal, TypeVar
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, Field

from threadline.advertiser.account import AdAccountOut
from threadline.advertiser.schemas import AdGroupOut, AdOut, CampaignOut
from threadline.kit.schemas import StrictModel

T = TypeVar("T")


def _not_blank(value: str) -> str:
    stripped = value.strip()
    if not stripped:
        raise ValueError("must not be blank")
    # PostgreSQL text cannot hold NUL: refuse it here (a 400) rather than at the insert (a 500).
    if "\x00" in stripped:
        raise ValueError("must not contain NUL characters")
    return stripped


def _http_url(value: str) -> str:
    if value == "":
        return value
    parts = urlsplit(value)
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or any(c.isspace() or c == "\x00" for c in value)
    ):
        raise ValueError("must be an absolute http(s) URL")
    return value


_SUPPLY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")


def _supply(value: str) -> str:
    if not _SUPPLY.fullmatch(value):
        raise ValueError(
            "must be 1-64 letters, digits, '_', '.', ':' or '-', starting with a letter or digit"
        )
    return value


def normalise_origin(value: str) -> str:
    """``scheme://host[:port]`` in lower case, as browsers send it in the Origin header."""
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:
        raise ValueError("must be an origin like https://chat.example.com") from None
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or "\x00" in value
        or parts.username is not None
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
    ):
        raise ValueError("must be an origin like https://chat.example.com (no path, query or credentials)")
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    default_port = 443 if parts.scheme == "https" else 80
    suffix = f":{port}" if port is not None and port != default_port else ""
    return f"{parts.scheme}://{host}{suffix}"


Name = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_not_blank)]
Url = Annotated[str, Field(max_length=2048), AfterValidator(_http_url)]
Origin = Annotated[str, Field(min_length=1, max_length=2048), AfterValidator(normalise_origin)]


# ----------------------------------------------------------------------------------------------- lists


class Page(BaseModel, Generic[T]):
    object: Literal["list"] = "list"
    data: list[T]
    count: int
    first_id: str | None
    last_id: str | None
    has_more: bool


# ------------------------------------------------------------------------------------------------ orgs


class OrgCreate(StrictModel):
    name: Name
    url: Url | None = None


class OrgOut(BaseModel):
    id: str
    name: str
    url: str
    created_at: int
    ad_account: AdAccountOut


class PaymentMethodCreate(StrictModel):
    token: str = Field(min_length=1, max_length=255)


class PaymentMethodOut(BaseModel):
    id: str
    brand: str
    last4: str
    is_default: bool


class NewOrgOut(OrgOut):
    api_key: str = Field(description="The advertiser key (`ak_...`); shown only in this response.")


class KeyRotationOut(BaseModel):
    api_key: str
    previous_key_expires_at: int


class ChargeOut(BaseModel):
    id: str
    campaign_id: str
    amount_micros: int
    kind: str
    status: str
    created_at: int


# ------------------------------------------------------------------------------------------ event keys


class EventKeyCreate(StrictModel):
    label: Name


class EventKeyOut(BaseModel):
    id: str
    label: str
    api_key: str = Field(description="The event key (`ek_...`); shown only in this response.")


# ------------------------------------------------------------------------------------------ publishers


# A floor above the highest allowed bid (100,000,000 micros) could never be met.
FloorCpm = Annotated[int, Field(ge=0, le=100_000_000)]
Origins = Annotated[list[Origin], Field(max_length=50)]


class PublisherCreate(StrictModel):
    name: Name
    supply: Annotated[str, Field(max_length=64), AfterValidator(_supply)] = "direct"
    floor_cpm_micros: FloorCpm = 1_000_000
    allowed_origins: Origins = Field(default_factory=list)


class PublisherUpdate(StrictModel):
    """What an operator changes on a live publisher (absent: unchanged); the create rules apply."""

    floor_cpm_micros: FloorCpm | None = None
    allowed_origins: Origins | None = None


class PublisherOut(BaseModel):
    id: str
    name: str
    supply: str
    floor_cpm_micros: int
    allowed_origins: list[str]
    created_at: int


class NewPublisherOut(PublisherOut):
    api_key: str = Field(description="The publisher key (`pk_...`); shown only in this response.")


class PublisherKeyCreate(StrictModel):
    label: Name


class KeyOut(BaseModel):
    """A live key as lists show it (never its secret)."""

    id: str
    label: str
    created_at: int
    expires_at: int | None = Field(description="Set once the key is rotated: when it stops answering.")


class NewKeyOut(BaseModel):
    id: str
    label: str
    api_key: str = Field(description="The new key; shown only in this response.")


# -------------------------------------------------------------------------------------------- review


class RejectBody(StrictModel):
    reason: Annotated[str, Field(min_length=1, max_length=1000), AfterValidator(_not_blank)]


class ReviewCampaignOut(CampaignOut):
    """The advertiser's campaign object, plus the org it belongs to (operators see every org)."""

    org_id: str


class ReviewAdGroupOut(AdGroupOut):
    ads: list[AdOut]


class ReviewQueueItem(ReviewCampaignOut):
    ad_groups: list[ReviewAdGroupOut]


class ReviewQueue(BaseModel):
    object: Literal["list"] = "list"
    data: list[ReviewQueueItem]
    count: int
    first_id: str | None
    last_id: str | None
    has_more: bool


# ----------------------------------------------------------------------------------------------- jobs

JobState = Literal["queued", "running", "done", "dead"]


class JobOut(BaseModel):
    id: int
    kind: str
    state: JobState
    payload: dict[str, Any]
    attempts: int = Field(description="Attempts started so far (a lost lease counts as one).")
    max_attempts: int
    run_at: int = Field(description="Queued: when it is due. Running: when its lease expires.")
    lease_until: int | None
    owner: str | None = Field(description="The worker that claimed it last (host:pid:name:id/thread).")
    last_error: str | None
    created_at: int
    updated_at: int
    finished_at: int | None


class JobPage(BaseModel):
    """A page of jobs (job ids are integers, so the cursors are too)."""

    object: Literal["list"] = "list"
    data: list[JobOut]
    count: int
    first_id: int | None
    last_id: int | None
    has_more: bool
