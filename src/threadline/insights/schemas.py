"""Insights wire shapes: the JSON objects inside query parameters, the row list, the OpenAPI parameters."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from threadline.kit.schemas import StrictModel

MAX_TIMESTAMP = 253_402_300_799  # 9999-12-31T23:59:59Z: anything later cannot be a date


class DateRangeIn(StrictModel):
    type: Literal["date_range"]
    since: str = Field(max_length=10)
    until: str = Field(max_length=10)


class TimeRangeIn(StrictModel):
    type: Literal["time_range"]
    start_time: int = Field(ge=0, le=MAX_TIMESTAMP)
    end_time: int = Field(ge=0, le=MAX_TIMESTAMP)


class PresetIn(StrictModel):
    type: Literal["preset"]
    preset: Literal["today", "yesterday", "last_7_days", "last_30_days", "this_month", "last_month"]


TimeRangeSpec = Annotated[DateRangeIn | TimeRangeIn | PresetIn, Field(discriminator="type")]


class FilterIn(StrictModel):
    field: str = Field(max_length=64)
    operator: str = Field(max_length=32)
    value: (
        Annotated[str, Field(max_length=200)]
        | Annotated[list[Annotated[str, Field(max_length=200)]], Field(min_length=1, max_length=1000)]
    )


class InsightsRowOut(BaseModel):
    """One row. Only the entity columns of the requested level, the requested breakdowns and the
    requested fields are present; this model lists every column a row can carry."""

    model_config = ConfigDict(extra="allow")
    id: str
    start_time: int
    end_time: int
    readable_time: str | None = Field(None, description="Absent when time_granularity is none.")
    timezone: Literal["UTC"]
    ad_account_id: str | None = None
    ad_account_name: str | None = None
    campaign_id: str | None = None
    campaign_name: str | None = None
    ad_group_id: str | None = None
    ad_group_name: str | None = None
    ad_id: str | None = None
    ad_name: str | None = None
    supply: str | None = None
    country: str | None = None
    impressions: int | None = None
    viewable_impressions: int | None = None
    clicks: int | None = None
    conversions: int | None = None
    spend: float | None = None
    conversion_value: float | None = None
    ctr: float | None = None
    cpc: float | None = None
    cpm: float | None = None
    cpa: float | None = None
    roas: float | None = None


class InsightsListOut(BaseModel):
    object: Literal["list"]
    data: list[InsightsRowOut]
    count: int
    first_id: str | None
    last_id: str | None
    has_more: bool


def _param(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema}


_STR = {"type": "string", "maxLength": 4096}
_STRS = {"type": "array", "items": _STR, "maxItems": 50}

# The route reads the query string itself (both `name[]=` and plain `name=` are accepted), so the
# parameters are declared here for /openapi.json rather than as function arguments.
QUERY_PARAMETERS: list[dict[str, Any]] = [
    _param(
        "time_granularity",
        "hourly | daily | monthly | none (default daily).",
        {"type": "string", "enum": ["hourly", "daily", "monthly", "none"]},
    ),
    _param(
        "aggregation_level",
        "ad_account | campaign | ad_group | ad, at or below the endpoint's scope (default: the scope).",
        {"type": "string", "enum": ["ad_account", "campaign", "ad_group", "ad"]},
    ),
    _param(
        "time_ranges[]",
        'JSON objects: {"type":"date_range","since","until"}, {"type":"time_range","start_time","end_time"}'
        ' or {"type":"preset","preset"}. Default: the trailing 30 days ending now.',
        _STRS,
    ),
    _param("fields[]", "Metrics (default impressions, clicks, spend); `level.metric` accepted.", _STRS),
    _param("filters[]", 'JSON objects {"field","operator","value"}.', _STRS),
    _param(
        "breakdowns[]",
        "supply and/or country.",
        {"type": "array", "items": {"type": "string", "enum": ["supply", "country"]}},
    ),
    _param(
        "limit", "Rows per page, 1-10000 (default 1000).", {"type": "integer", "minimum": 1, "maximum": 10000}
    ),
    _param("after", "A row id: return the rows after it.", {"type": "string", "maxLength": 512}),
]
