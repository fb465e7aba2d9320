"""Wire shapes of the serving API (current bid request, legacy serve-ad, poll tracking).

Request models are strict about types and bounds but ignore unknown fields: publishers' SDKs send
fields from newer API versions, and refusing them would break integrations for no gain.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

MAX_TEXT = 20_000
MAX_INT = 1_000_000_000

AdFormat = Literal["sponsored_message", "sponsored_poll", "sponsored_prompt", "carousel"]


class Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)


class ChatMessage(Lenient):
    role: Literal["user", "assistant"]
    content: str = Field(max_length=MAX_TEXT)


class BidConfig(Lenient):
    max_headline_chars: int | None = Field(default=None, ge=30, le=MAX_INT)
    ad_offset: int | None = Field(default=None, ge=0, le=MAX_INT)
    max_frequency: int | None = Field(default=None, ge=0, le=MAX_INT)
    image_enabled: bool = True
    restricted_click_area: bool | None = None


class BidRequestBody(Lenient):
    userId: str = Field(min_length=1, max_length=256)
    chatId: str | None = Field(default=None, min_length=1, max_length=256)
    messages: list[ChatMessage] = Field(min_length=2, max_length=200)
    request_type: Literal["contextual", "opener"] = "contextual"
    ad_formats: list[AdFormat] | None = Field(default=None, min_length=1, max_length=10)
    config: BidConfig = Field(default_factory=BidConfig)
    turn_number: int | None = Field(default=None, ge=0, le=MAX_INT)
    production: bool = True
    client_id: str | None = Field(default=None, max_length=256)


class PollOption(BaseModel):
    id: str
    text: str


class PollPayload(BaseModel):
    question: str
    options: list[PollOption]
    vote_url: str
    results_url: str


class BidPayload(BaseModel):
    bidId: str
    ad_format: str
    price: float
    advertiser: str
    domain: str
    headline: str
    description: str
    cta_text: str
    url: str | None
    placement: Literal["image", "text"]
    image_url: str | None
    view_url: str
    poll: PollPayload | None = None


class BidData(BaseModel):
    bid: BidPayload | None
    reason: str | None


class BidResponse(BaseModel):
    requestId: str
    timestamp: int
    totalTime: float
    status: Literal["success"]
    message: str
    data: BidData


class LegacyContent(Lenient):
    user: str = Field(max_length=MAX_TEXT)
    chatbot: str = Field(max_length=MAX_TEXT)


class ServeAdBody(Lenient):
    userId: str = Field(min_length=1, max_length=256)
    chatId: str = Field(min_length=1, max_length=256)
    content: LegacyContent
    production: bool = False
    userRegion: str | None = Field(default=None, max_length=64)
    metaData: dict[str, Any] | None = None
    conversationOffset: int = Field(default=2, ge=0, le=MAX_INT)
    adFrequencyLimit: int = Field(default=5, ge=0, le=MAX_INT)
    adAggressiveness: Literal["low", "medium", "high"] = "high"
    force: bool | None = None


class LegacyAd(BaseModel):
    creative: str
    prod_name: str
    prod_url: str
    img_url: str


class ServeAdResponse(BaseModel):
    status: Literal["success"]
    requestId: str
    totalTime: float
    apiVersion: str
    timestamp: int
    adStatus: Literal["served", "not_served"]
    data: LegacyAd | None


class VoteBody(BaseModel):
    # Parsed leniently by hand: a missing token must answer 400 missing_token, not a validation error.
    token: str | None = None
    option_id: str | int | None = None


class PollOptionTally(BaseModel):
    id: str
    text: str
    votes: int
    percentage: float


class PollTallyResponse(BaseModel):
    sponsored_poll_id: str
    selected_option_id: str | None
    total_votes: int
    options: list[PollOptionTally]


class ServingError(BaseModel):
    status: Literal["error"]
    message: str
    requestId: str | None = None
    code: str | None = None


def serving_errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {s: {"model": ServingError, "description": "Error"} for s in statuses}
