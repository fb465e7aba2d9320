"""Request and response bodies of the campaign, ad group and ad resources.

Requests are StrictModels: unknown fields are refused (``unknown_param``) and JSON types are not
coerced. Rules that need the database or span several fields live in the service.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    Field,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
)
from pydantic.json_schema import SkipJsonSchema
from pydantic_core import InitErrorDetails, PydanticCustomError

from threadline.kit.schemas import StrictModel

MIN_BUDGET_MICROS = 990_000
# $1 billion: far above any real lifetime budget, and comfortably inside a BIGINT.
MAX_BUDGET_MICROS = 10**15
MAX_BID_MICROS = 100_000_000
# Year 9999: keeps every timestamp inside a BIGINT and inside what datetime can render.
MAX_TIMESTAMP = 253_402_300_799
MAX_AD_GROUPS = 50
MAX_ADS = 50
MAX_ID_LENGTH = 64
CARD_BODY_MAX = 100

Frequency = Literal["daily", "weekly", "monthly", "quarterly", "yearly"]
PricingModel = Literal["cpm", "cpc"]
ChildStatus = Literal["active", "paused", "archived"]


def _no_nul(value: str) -> str:
    # PostgreSQL text cannot hold NUL; refusing it here keeps it a 400 instead of a driver error.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be all spaces")
    return _no_nul(value)


def _http_url(value: str) -> str:
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError:
        host = None
        parts = None
    if (
        parts is None
        or parts.scheme.lower() not in ("http", "https")
        or not host
        or any(c.isspace() or ord(c) < 32 for c in value)
    ):
        raise ValueError("must be an absolute http(s) URL")
    return value


Name = Annotated[str, Field(min_length=3, max_length=100), AfterValidator(_not_blank)]
NoNul = AfterValidator(_no_nul)
Description = Annotated[str, Field(max_length=1000), NoNul]
Timestamp = Annotated[int, Field(ge=0, le=MAX_TIMESTAMP, description="Unix seconds, UTC")]
Hint = Annotated[str, Field(min_length=1, max_length=100), NoNul]
TargetUrl = Annotated[str, Field(min_length=1, max_length=2048), AfterValidator(_http_url)]
ResourceId = Annotated[str, Field(min_length=1, max_length=MAX_ID_LENGTH), NoNul]
CountryText = Annotated[str, Field(min_length=1, max_length=16), NoNul]
Title = Annotated[str, Field(min_length=3, max_length=50), NoNul]
FileId = Annotated[str, Field(min_length=1, max_length=128), NoNul]
CtaText = Annotated[str, Field(min_length=1, max_length=20), NoNul]
Question = Annotated[str, Field(min_length=3, max_length=100), NoNul]
PollOption = Annotated[str, Field(min_length=1, max_length=25), NoNul]
# `status` is accepted by the parser only so the service can answer 400 use_status_action.
RejectedStatus = SkipJsonSchema[Any]


# --- targeting ---------------------------------------------------------------------------------


class LocationIn(StrictModel):
    """One country: ``country_code`` (ISO 3166-1 alpha-2, any case) or its alias ``id``."""

    country_code: CountryText | None = None
    id: CountryText | None = None
    type: Literal["country"] | None = None  # lets a client send back what it read


def _bare_code(value: Any) -> Any:
    # The quickstart sends bare strings ("US"); they mean {"country_code": "US"}.
    return {"country_code": value} if isinstance(value, str) else value


Location = Annotated[LocationIn, BeforeValidator(_bare_code, json_schema_input_type=str | LocationIn)]


class LocationsIn(StrictModel):
    include: list[Location] = Field(default_factory=list, max_length=300)


class TargetingIn(StrictModel):
    locations: LocationsIn | None = None


class BudgetIn(StrictModel):
    lifetime_spend_limit_micros: int = Field(ge=MIN_BUDGET_MICROS, le=MAX_BUDGET_MICROS)


class BiddingConfigIn(StrictModel):
    max_bid_micros: int | None = Field(default=None, ge=1, le=MAX_BID_MICROS)
    billing_event_type: Literal["impression"] | None = None


# --- creatives ---------------------------------------------------------------------------------


class ChatCardIn(StrictModel):
    type: Literal["chat_card"]
    # Optional only because auto_generate would write them; the service requires them otherwise.
    title: Title | None = None
    # Length checked in the service: kit.errors.format_loc drops every loc part named "body", so a
    # Pydantic error here would lose its param. (Declared for OpenAPI all the same.)
    body: str | None = Field(default=None, json_schema_extra={"minLength": 1, "maxLength": CARD_BODY_MAX})
    target_url: TargetUrl
    file_id: FileId | None = None
    cta_text: CtaText | None = None
    auto_generate: bool | None = None


class PollIn(StrictModel):
    type: Literal["poll"]
    question: Question
    options: list[PollOption] = Field(min_length=2, max_length=4)
    target_url: TargetUrl | None = None
    auto_generate: bool | None = None


CREATIVE_TYPES = ("chat_card", "poll")


def _creative_tag(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    # Pydantic reports a bad or missing tag at the creative itself; clients expect `creative.type`.
    if isinstance(value, dict) and value.get("type") not in CREATIVE_TYPES:
        detail: InitErrorDetails = {
            "type": "missing"
            if "type" not in value
            else PydanticCustomError("literal_error", "type must be one of: chat_card, poll"),
            "loc": ("type",),
            "input": value,
        }
        raise ValidationError.from_exception_data("creative", [detail])
    return handler(value)


CreativeIn = Annotated[ChatCardIn | PollIn, Field(discriminator="type"), WrapValidator(_creative_tag)]


# --- create bodies -----------------------------------------------------------------------------


class AdFields(StrictModel):
    name: Name | None = Field(default=None, description="Defaults to the card title or poll question.")
    status: Literal["active", "paused"] | None = None
    auto_generate: bool | None = None
    creative: CreativeIn


class AdCreate(AdFields):
    ad_group_id: ResourceId


class AdGroupFields(StrictModel):
    name: Name
    context_hints: list[Hint] = Field(default_factory=list, max_length=50)
    bidding_config: BiddingConfigIn | None = None
    status: Literal["active", "paused"] | None = None


class NestedAdGroup(AdGroupFields):
    ads: list[AdFields] = Field(min_length=1, max_length=MAX_ADS)


class AdGroupCreate(AdGroupFields):
    campaign_id: ResourceId
    ads: list[AdFields] = Field(default_factory=list, max_length=MAX_ADS)


class CampaignCreate(StrictModel):
    ad_account_id: ResourceId | None = None
    name: Name
    description: Description | None = None
    start_time: Timestamp | None = None
    end_time: Timestamp | None = None
    budget: BudgetIn
    recurring_frequency: Frequency = "daily"
    pricing_model: PricingModel = "cpm"
    targeting: TargetingIn | None = None
    ad_groups: list[NestedAdGroup] = Field(min_length=1, max_length=MAX_AD_GROUPS)
    status: RejectedStatus = None


# --- update bodies (only the fields sent are changed) --------------------------------------------


class CampaignUpdate(StrictModel):
    name: Name | None = None
    description: Description | None = None
    start_time: Timestamp | None = None
    end_time: Timestamp | None = None
    budget: BudgetIn | None = None
    targeting: TargetingIn | None = None
    recurring_frequency: Frequency | None = None
    pricing_model: PricingModel | None = None
    status: RejectedStatus = None


class AdGroupUpdate(StrictModel):
    name: Name | None = None
    context_hints: list[Hint] | None = Field(default=None, max_length=50)
    bidding_config: BiddingConfigIn | None = None
    status: ChildStatus | None = None


class AdUpdate(StrictModel):
    name: Name | None = None
    creative: CreativeIn | None = None
    status: ChildStatus | None = None


# --- responses ---------------------------------------------------------------------------------


class LocationOut(BaseModel):
    id: str
    type: Literal["country"]
    country_code: str


class LocationsOut(BaseModel):
    include: list[LocationOut]


class TargetingOut(BaseModel):
    locations: LocationsOut


class BudgetOut(BaseModel):
    lifetime_spend_limit_micros: int


class CampaignOut(BaseModel):
    id: str
    name: str
    description: str | None
    status: Literal["active", "paused", "archived"]
    review_status: Literal["in_review", "approved", "rejected"]
    rejection_reason: str | None
    start_time: int
    end_time: int | None
    budget: BudgetOut
    recurring_frequency: Frequency
    pricing_model: PricingModel
    targeting: TargetingOut
    created_at: int
    updated_at: int


class BiddingConfigOut(BaseModel):
    billing_event_type: Literal["impression"]
    max_bid_micros: int | None


class AdGroupOut(BaseModel):
    id: str
    campaign_id: str
    name: str
    context_hints: list[str]
    status: Literal["active", "paused"]
    bidding_config: BiddingConfigOut
    created_at: int
    updated_at: int


class ChatCardOut(BaseModel):
    type: Literal["chat_card"]
    title: str
    body: str
    target_url: str
    cta_text: str
    file_id: str | None
    image_url: str | None


class PollOut(BaseModel):
    type: Literal["poll"]
    question: str
    options: list[str]
    target_url: str | None


class AdOut(BaseModel):
    id: str
    campaign_id: str
    ad_group_id: str
    name: str
    status: Literal["active", "paused"]
    review_status: Literal["in_review", "approved", "rejected"]
    creative: Annotated[ChatCardOut | PollOut, Field(discriminator="type")]
    created_at: int
    updated_at: int


class CampaignList(BaseModel):
    object: Literal["list"]
    data: list[CampaignOut]
    count: int
    first_id: str | None
    last_id: str | None
    has_more: bool


class AdGroupList(BaseModel):
    object: Literal["list"]
    data: list[AdGroupOut]
    count: int
    first_id: str | None
    last_id: str | None
    has_more: bool


class AdList(BaseModel):
    object: Literal["list"]
    data: list[AdOut]
    count: int
    first_id: str | None
    last_id: str | None
    has_more: bool
