"""The cheap front half of an event request, run in the event loop: the JSON body and its validation.

The key and the rate limit come from the events surface declaration (gate.authenticate, gate.rate_limit).
"""

from __future__ import annotations

import json
import math
from typing import Any, NoReturn, TypeVar

from fastapi import Request
from pydantic import BaseModel, ValidationError

from threadline.kit.bodylimit import BodyTooLarge
from threadline.kit.errors import ApiError, validation_to_api_error
from threadline.surfaces import EVENTS

M = TypeVar("M", bound=BaseModel)


def _no_constants(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e999 parses to inf
        raise ValueError("number out of range")
    return value


# json.loads with hooks builds a new decoder per call; one decoder, the same answers.
_DECODER = json.JSONDecoder(parse_constant=_no_constants, parse_float=_finite)


async def json_object(request: Request) -> dict[str, Any]:
    """The body as a JSON object, or a 400 (``invalid_json``) / 413 in the events error shape."""
    try:
        body = await request.body()
    except BodyTooLarge:
        # A chunked body without Content-Length crosses the limit while we read it.
        raise ApiError(413, "request_too_large", "The request body is too large.") from None
    if not body.strip():
        raise ApiError(400, "invalid_json", "A JSON object request body is required.")
    try:
        # As json.loads does for bytes: detect UTF-8/16/32 (a UnicodeDecodeError is a ValueError).
        obj = _DECODER.decode(body.decode(json.detect_encoding(body), "surrogatepass"))
    except RecursionError:
        raise ApiError(400, "invalid_json", "The request body is nested too deeply.") from None
    except ValueError:  # JSONDecodeError, UnicodeDecodeError, NaN/Infinity, oversized integers
        raise ApiError(400, "invalid_json", "The request body is not valid JSON.") from None
    if not isinstance(obj, dict):
        raise ApiError(400, "invalid_json", "The request body must be a JSON object.")
    return obj


def validate(model: type[M], obj: dict[str, Any], now: int) -> M:
    try:
        return model.model_validate(obj, context={"now": now})
    except ValidationError as exc:
        raise validation_to_api_error(exc.errors(), status=EVENTS.validation_status) from None
