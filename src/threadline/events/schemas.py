"""Request and response shapes of the Events API (seed 002) and the operator's event listing."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    field_validator,
)

MIN_TIMESTAMP = 946_684_800  # 2000-01-01T00:00:00Z
MAX_AHEAD_SECONDS = 3600
MAX_CONVERSION_VALUE = 1e12  # keeps value * 1e6 micros (and rollup sums) inside a BIGINT
MAX_NESTING = 32
BIGINT_MAX = 2**63 - 1


def _column_safe(value: str) -> str:
    # Both stores refuse NUL in text columns and strings that are not encodable (lone surrogates).
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text") from None
    return value


Text = Annotated[str, Field(max_length=2048), AfterValidator(_column_safe)]
Name = Annotated[str, Field(min_length=1, max_length=128), AfterValidator(_column_safe)]


def encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates such as "\ud800" parse from JSON but cannot be served back
        return False
    return True


def _storable_object(value: dict[str, Any] | None) -> dict[str, Any] | None:
    """Bounded nesting and only encodable text (keys and values) in a free-form object."""
    if value is None:
        return None
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_NESTING:
            raise ValueError(f"must not be nested more than {MAX_NESTING} levels deep")
        if isinstance(node, dict):
            for key, child in node.items():
                if not encodable(key):
                    raise ValueError("must contain only valid Unicode text")
                stack.append((child, depth + 1))
        elif isinstance(node, list):
            stack.extend((child, depth + 1) for child in node)
        elif isinstance(node, str) and not encodable(node):
            raise ValueError("must contain only valid Unicode text")
    return value


FreeObject = Annotated[dict[str, Any], AfterValidator(_storable_object)]


def _within_clock(value: int, info: ValidationInfo) -> int:
    now = (info.context or {}).get("now")
    if value < MIN_TIMESTAMP or (now is not None and value > now + MAX_AHEAD_SECONDS):
        raise ValueError("must be between 2000-01-01 and one hour ahead of the server clock")
    return value


def parse_iso_time(value: str) -> int:
    """Unix seconds of an ISO-8601 time that carries a timezone (``Z`` or an offset)."""
    if len(value) > 64:
        raise ValueError("must be an ISO-8601 date-time with a timezone")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError("must be an ISO-8601 date-time with a timezone") from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise ValueError("must include a timezone (Z or an offset such as +00:00)")
    try:
        return int(parsed.timestamp())
    except (OverflowError, ValueError):
        raise ValueError("must be between 2000-01-01 and one hour ahead of the server clock") from None


class CollectIn(BaseModel):
    """``POST /v1/api/collect``. Unknown top-level fields are kept, sanitized, under ``params.extra``."""

    model_config = ConfigDict(strict=True, extra="allow")

    event_name: Name
    tag_id: Text | None = None
    event_id: Text | None = None
    timestamp: Annotated[int, Field(ge=MIN_TIMESTAMP, le=BIGINT_MAX)] | None = None
    page_url: Text | None = None
    referrer: Text | None = None
    user_agent: Text | None = None
    channel: Text | None = Field(None, description="Ignored: stored as `server`.")
    session_id: Text | None = None
    client_id: Text | None = None
    attribution_type: Literal["click", "view", "organic"] | None = None
    impression_id: Text | None = None
    click_id: Text | None = None
    bid_id: Text | None = None
    impression_state: Literal["rendered", "in_view", "viewable", "view_end"] | None = None
    view_time_ms: Annotated[int, Field(ge=0, le=BIGINT_MAX)] | None = None
    consent: FreeObject | None = None
    params: FreeObject | None = None

    @field_validator("timestamp")
    @classmethod
    def _timestamp_range(cls, value: int | None, info: ValidationInfo) -> int | None:
        return None if value is None else _within_clock(value, info)


_FastText = Annotated[str, msgspec.Meta(max_length=2048)]


class CollectFast(msgspec.Struct, forbid_unknown_fields=True):
    """The fields of :class:`CollectIn` as a msgspec struct: the one-pass decode of a well-formed body.

    It may only accept what ``CollectIn`` accepts, with the same values; whatever it refuses goes
    through ``CollectIn``, which gives the documented error. So it is stricter, never looser: unknown
    fields (kept under ``params.extra``), NUL escapes, deep nesting and clock checks are left to the
    Pydantic path (see ingress.collect_body). tests/events/test_fast_decode.py holds the two in step.
    """

    event_name: Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
    tag_id: _FastText | None = None
    event_id: _FastText | None = None
    timestamp: Annotated[int, msgspec.Meta(ge=MIN_TIMESTAMP, le=BIGINT_MAX)] | None = None
    page_url: _FastText | None = None
    referrer: _FastText | None = None
    user_agent: _FastText | None = None
    channel: _FastText | None = None
    session_id: _FastText | None = None
    client_id: _FastText | None = None
    attribution_type: Literal["click", "view", "organic"] | None = None
    impression_id: _FastText | None = None
    click_id: _FastText | None = None
    bid_id: _FastText | None = None
    impression_state: Literal["rendered", "in_view", "viewable", "view_end"] | None = None
    view_time_ms: Annotated[int, msgspec.Meta(ge=0, le=BIGINT_MAX)] | None = None
    consent: dict[str, Any] | None = None
    params: dict[str, Any] | None = None


class ConversionIn(BaseModel):
    """``POST /v1/api/conversion``. Unknown top-level fields are kept, sanitized, under ``params.extra``."""

    model_config = ConfigDict(strict=True, extra="allow")

    click_id: Annotated[str, Field(min_length=1, max_length=2048), AfterValidator(_column_safe)]
    conversion_time: Annotated[
        str,
        Field(max_length=64, json_schema_extra={"format": "date-time"}, examples=["2026-02-19T18:00:00Z"]),
    ]
    conversion_value: Annotated[float, Field(ge=0, le=MAX_CONVERSION_VALUE, allow_inf_nan=False)]
    currency: Annotated[str, Field(min_length=3, max_length=3, pattern="^[A-Za-z]{3}$")]
    event_type: Name | None = Field(None, description="Defaults to `purchase_completed`.")
    order_id: Text | None = None
    event_id: Text | None = None
    page_url: Text | None = None
    referrer: Text | None = None
    user_agent: Text | None = None
    channel: Text | None = Field(None, description="Defaults to `server`.")
    session_id: Text | None = None
    client_id: Text | None = None
    tag_id: Text | None = None

    _conversion_ts: int = PrivateAttr(0)

    @field_validator("conversion_time")
    @classmethod
    def _time(cls, value: str, info: ValidationInfo) -> str:
        _within_clock(parse_iso_time(value), info)
        return value

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        return value.upper()

    def model_post_init(self, __context: Any) -> None:
        self._conversion_ts = parse_iso_time(self.conversion_time)

    @property
    def conversion_ts(self) -> int:
        return self._conversion_ts


class ConversionStatus(BaseModel):
    status: Literal["ok", "duplicate"]


class EventRow(BaseModel):
    """One stored collect event or conversion, fields under their API names."""

    model_config = ConfigDict(extra="allow")

    id: str
    object: Literal["collect_event", "conversion"]
    dedupe_key: str | None
    received_at: float


class EventList(BaseModel):
    object: Literal["list"] = "list"
    data: list[EventRow]
    count: int
    first_id: str | None
    last_id: str | None
    has_more: bool
