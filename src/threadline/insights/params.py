"""Query-string parsing for the insights endpoints: every rule and error code of spec/50-insights.md."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Protocol

from pydantic import TypeAdapter, ValidationError

from threadline.insights.schemas import (
    MAX_TIMESTAMP,
    DateRangeIn,
    FilterIn,
    PresetIn,
    TimeRangeIn,
    TimeRangeSpec,
)
from threadline.kit.errors import ApiError, invalid

HOUR = 3600
DAY = 86400
MAX_RANGE_SECONDS = 366 * DAY
MAX_HOURLY_SECONDS = 25 * HOUR
DEFAULT_RANGE_SECONDS = 30 * DAY
DEFAULT_LIMIT = 1000
MAX_LIMIT = 10_000
MAX_PARAM_CHARS = 4096
MAX_REPEATS = 20  # time_ranges[] and filters[] each; bounds the work one request can ask for

LEVELS = ("ad_account", "campaign", "ad_group", "ad")  # shallow to deep
GRANULARITIES = ("hourly", "daily", "monthly", "none")
BREAKDOWNS = ("supply", "country")  # also the order of the breakdown columns and id segments
METRICS = (
    "impressions",
    "clicks",
    "spend",
    "ctr",
    "cpc",
    "cpm",
    "conversions",
    "conversion_value",
    "cpa",
    "roas",
    "viewable_impressions",
)
DEFAULT_FIELDS = ("impressions", "clicks", "spend")
# filter field -> rollup column
FILTER_COLUMNS = {
    "campaign.id": "campaign_id",
    "ad_group.id": "ad_group_id",
    "ad.id": "ad_id",
    "supply": "supply",
}
FILTER_OPERATORS = ("equals", "in")

_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
_time_range_adapter: TypeAdapter[DateRangeIn | TimeRangeIn | PresetIn] = TypeAdapter(TimeRangeSpec)


class QueryParams(Protocol):
    def getlist(self, key: str) -> list[str]: ...


@dataclass(frozen=True)
class Window:
    start: int  # Unix s, inclusive
    end: int  # Unix s, exclusive


@dataclass(frozen=True)
class Filter:
    column: str
    values: tuple[str, ...]


# (start_time, entity_id, supply, country, end_time): the order rows are listed in.
RowKey = tuple[int, str, str, str, int]


@dataclass(frozen=True)
class InsightsQuery:
    granularity: str
    level: str
    windows: tuple[Window, ...]
    fields: tuple[str, ...]
    filters: tuple[Filter, ...]
    breakdowns: tuple[str, ...]
    limit: int
    after: RowKey | None


def parse(params: QueryParams, scope: str, now: int) -> InsightsQuery:
    granularity = _single(params, "time_granularity") or "daily"
    if granularity not in GRANULARITIES:
        raise invalid(f"time_granularity must be one of {', '.join(GRANULARITIES)}.", "time_granularity")
    level = _parse_level(_single(params, "aggregation_level"), scope)
    windows = _parse_windows(_repeated(params, "time_ranges", MAX_REPEATS), granularity, now)
    fields = _parse_fields(_repeated(params, "fields", 50))
    filters = tuple(_parse_filter(raw) for raw in _repeated(params, "filters", MAX_REPEATS))
    breakdowns = _parse_breakdowns(_repeated(params, "breakdowns", 10))
    limit = _parse_limit(_single(params, "limit"))
    raw_after = _single(params, "after")
    after = None if raw_after is None else parse_row_id(raw_after, breakdowns)
    return InsightsQuery(granularity, level, windows, fields, filters, breakdowns, limit, after)


def _single(params: QueryParams, name: str) -> str | None:
    values = params.getlist(name)
    if not values:
        return None
    if len(values) > 1:
        raise invalid(f"{name} may be given only once.", name)
    if len(values[0]) > MAX_PARAM_CHARS:
        raise invalid(f"{name} is too long.", name)
    return values[0]


def _repeated(params: QueryParams, name: str, max_items: int) -> list[str]:
    param = f"{name}[]"
    values = params.getlist(param) + params.getlist(name)
    if len(values) > max_items:
        raise invalid(f"At most {max_items} {param} may be given.", param)
    if any(len(v) > MAX_PARAM_CHARS for v in values):
        raise invalid(f"A {param} value is too long.", param)
    return values


def _parse_level(raw: str | None, scope: str) -> str:
    if raw is None:
        return scope
    if raw not in LEVELS:
        raise invalid(f"aggregation_level must be one of {', '.join(LEVELS)}.", "aggregation_level")
    if LEVELS.index(raw) < LEVELS.index(scope):
        raise invalid(
            f"aggregation_level {raw} is above this endpoint's scope ({scope}).",
            "aggregation_level",
            "aggregation_level_too_high",
        )
    return raw


# ---- time ranges -----------------------------------------------------------------------------------


def day_start(ts: int) -> int:
    return ts - ts % DAY


def month_start(ts: int) -> int:
    d = date.fromordinal(_EPOCH_ORDINAL + ts // DAY)
    return _ts(date(d.year, d.month, 1))


def next_month(ts: int) -> int:
    """The start of the month after the one containing ts."""
    d = date.fromordinal(_EPOCH_ORDINAL + ts // DAY)
    year, month = (d.year + 1, 1) if d.month == 12 else (d.year, d.month + 1)
    return _ts(date(year, month, 1))


def _ts(d: date) -> int:
    return (d.toordinal() - _EPOCH_ORDINAL) * DAY


def _parse_windows(raws: Sequence[str], granularity: str, now: int) -> tuple[Window, ...]:
    param = "time_ranges[]"
    if not raws:
        # The last 30 days up to and including the current second: what was recorded a moment ago counts.
        windows = [Window(max(0, now + 1 - DEFAULT_RANGE_SECONDS), now + 1)]
    else:
        windows = [_parse_window(raw, now) for raw in raws]
    for w in windows:
        if w.end <= w.start:
            raise invalid("A time range must end after it starts.", param, "invalid_time_range")
        if w.end - w.start > MAX_RANGE_SECONDS:
            raise invalid("A time range may span at most 366 days.", param, "range_too_wide")
        if granularity == "hourly" and w.end - w.start > MAX_HOURLY_SECONDS:
            raise invalid(
                "With hourly granularity a time range may span at most 25 hours"
                + ("." if raws else " (the default range is 30 days: pass time_ranges[])."),
                param,
                "hourly_range_too_wide",
            )
    # Identical ranges would only repeat rows.
    return tuple(dict.fromkeys(windows))


def _parse_window(raw: str, now: int) -> Window:
    param = "time_ranges[]"
    try:
        spec = _time_range_adapter.validate_json(raw)
    except ValidationError:
        raise invalid(
            'Each time_ranges[] value must be a JSON object: {"type":"date_range","since":"YYYY-MM-DD",'
            '"until":"YYYY-MM-DD"}, {"type":"time_range","start_time":int,"end_time":int} or '
            '{"type":"preset","preset":"today|yesterday|last_7_days|last_30_days|this_month|last_month"}.',
            param,
        ) from None
    if isinstance(spec, DateRangeIn):
        since, until = _parse_date(spec.since), _parse_date(spec.until)
        return Window(_ts(since), _ts(until) + DAY)  # until is inclusive
    if isinstance(spec, PresetIn):
        return preset_window(spec.preset, now)
    return Window(spec.start_time, spec.end_time)


def _parse_date(raw: str) -> date:
    try:
        if not _DATE_RE.fullmatch(raw):
            raise ValueError
        d = date.fromisoformat(raw)
    except ValueError:
        raise invalid(f"Invalid date {raw!r}: expected YYYY-MM-DD.", "time_ranges[]") from None
    if d.year < 1970:
        raise invalid(f"Invalid date {raw!r}: dates start at 1970-01-01.", "time_ranges[]")
    return d


def preset_window(preset: str, now: int) -> Window:
    today = day_start(now)
    if preset == "today":
        return Window(today, today + DAY)
    if preset == "yesterday":
        return Window(today - DAY, today)
    if preset == "last_7_days":  # seven UTC days ending with today
        return Window(max(0, today - 6 * DAY), today + DAY)
    if preset == "last_30_days":
        return Window(max(0, today - 29 * DAY), today + DAY)
    this_month = month_start(now)
    if preset == "this_month":
        return Window(this_month, next_month(now))
    return Window(month_start(max(0, this_month - DAY)), this_month)  # last_month


# ---- fields, filters, breakdowns, paging ----------------------------------------------------------


def _parse_fields(raws: Sequence[str]) -> tuple[str, ...]:
    if not raws:
        return DEFAULT_FIELDS
    fields: list[str] = []
    for raw in raws:
        prefix, dot, metric = raw.rpartition(".")
        if (dot and prefix not in LEVELS) or metric not in METRICS:
            raise invalid(
                f"Unknown field {raw[:64]!r}. Fields: {', '.join(METRICS)}.", "fields[]", "unknown_field"
            )
        fields.append(metric)
    return tuple(dict.fromkeys(fields))


def _parse_filter(raw: str) -> Filter:
    param = "filters[]"
    try:
        obj = json.loads(raw)
    except ValueError:
        raise invalid("Each filters[] value must be a JSON object.", param) from None
    if not isinstance(obj, dict):
        raise invalid("Each filters[] value must be a JSON object.", param)
    name = obj.get("field")
    if isinstance(name, str) and name not in FILTER_COLUMNS:
        raise invalid(
            f"Unknown filter field {name[:64]!r}. Filter fields: {', '.join(FILTER_COLUMNS)}.",
            param,
            "invalid_filter",
        )
    operator = obj.get("operator")
    if isinstance(name, str) and isinstance(operator, str) and operator not in FILTER_OPERATORS:
        raise invalid(
            f"Operator {operator[:32]!r} is not allowed on {name}: use equals or in.",
            param,
            "invalid_filter_operator",
        )
    try:
        spec = FilterIn.model_validate(obj)
    except ValidationError:
        raise invalid(
            'A filter is {"field", "operator", "value"}: a string value for equals, a non-empty array of '
            "strings for in.",
            param,
        ) from None
    if spec.operator == "equals" and isinstance(spec.value, str):
        return Filter(FILTER_COLUMNS[spec.field], (spec.value,))
    if spec.operator == "in" and isinstance(spec.value, list):
        return Filter(FILTER_COLUMNS[spec.field], tuple(dict.fromkeys(spec.value)))
    raise invalid("The equals operator takes a string value; in takes an array of strings.", param)


def _parse_breakdowns(raws: Sequence[str]) -> tuple[str, ...]:
    for raw in raws:
        if raw not in BREAKDOWNS:
            raise invalid(f"Unknown breakdown {raw[:64]!r}. Breakdowns: supply, country.", "breakdowns[]")
    return tuple(b for b in BREAKDOWNS if b in raws)


def _parse_limit(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_LIMIT
    if not raw.isdigit() or len(raw) > 6 or not 1 <= int(raw) <= MAX_LIMIT:
        raise invalid(f"limit must be an integer from 1 to {MAX_LIMIT}.", "limit")
    return int(raw)


def row_id(key: RowKey, breakdowns: Sequence[str]) -> str:
    start, entity_id, supply, country, end = key
    out = f"start={start}:end={end}:entity_id={entity_id}"
    if "supply" in breakdowns:
        out += f":supply={supply}"
    if "country" in breakdowns:
        out += f":country={country}"
    return out


def parse_row_id(raw: str, breakdowns: Sequence[str]) -> RowKey:
    pattern = r"start=(\d{1,12}):end=(\d{1,12}):entity_id=([^:]{0,64})"
    pattern += r":supply=(.{0,64}?)" if "supply" in breakdowns else "()"
    pattern += r":country=([^:]{0,2})" if "country" in breakdowns else "()"
    match = re.fullmatch(pattern, raw)
    if match is None or int(match[1]) > MAX_TIMESTAMP or int(match[2]) > MAX_TIMESTAMP:
        raise ApiError(400, "invalid_value", "after must be the id of a row of this query.", "after")
    return (int(match[1]), match[3], match[4], match[5], int(match[2]))
