"""The cheap front half of an event request, run in the event loop: the JSON body and its validation.

The key and the rate limit come from the events surface declaration (gate.authenticate, gate.rate_limit).
"""

from __future__ import annotations

import json
import math
from typing import Any, NoReturn, TypeVar

import msgspec
from fastapi import Request
from pydantic import BaseModel, ValidationError

from threadline.events.schemas import MAX_AHEAD_SECONDS, MAX_NESTING, CollectFast, CollectIn
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
_FAST_COLLECT = msgspec.json.Decoder(CollectFast)


async def body_bytes(request: Request) -> bytes:
    try:
        return await request.body()
    except BodyTooLarge:
        # A chunked body without Content-Length crosses the limit while we read it.
        raise ApiError(413, "request_too_large", "The request body is too large.") from None


def parse_object(body: bytes) -> dict[str, Any]:
    """The body as a JSON object, or a 400 (``invalid_json``) in the events error shape."""
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


async def json_object(request: Request) -> dict[str, Any]:
    """The body as a JSON object, or a 400 (``invalid_json``) / 413 in the events error shape."""
    return parse_object(await body_bytes(request))


def validate(model: type[M], obj: dict[str, Any], now: int) -> M:
    try:
        return model.model_validate(obj, context={"now": now})
    except ValidationError as exc:
        raise validation_to_api_error(exc.errors(), status=EVENTS.validation_status) from None


def fast_collect(body: bytes, now: int) -> CollectFast | None:
    """A well-formed collect body decoded and validated in one pass, or None: then ``CollectIn`` decides.

    msgspec already refuses invalid UTF-8, lone surrogates, NaN/Infinity, out-of-range numbers, integers
    past Python's digit limit and trailing data, as the stdlib path does. What it would let through and
    ``CollectIn`` would not is checked here: a ``\\u0000`` escape (NUL is refused in text), nesting deeper
    than ``MAX_NESTING`` (bounded by counting every bracket) and a timestamp ahead of the clock.
    """
    if b"\\u0000" in body or body.count(b"{") + body.count(b"[") > MAX_NESTING:
        return None
    try:
        event = _FAST_COLLECT.decode(body)
    except msgspec.MsgspecError:
        return None
    if event.timestamp is not None and event.timestamp > now + MAX_AHEAD_SECONDS:
        return None
    return event


async def collect_body(request: Request, now: int) -> CollectIn | CollectFast:
    body = await body_bytes(request)
    return fast_collect(body, now) or validate(CollectIn, parse_object(body), now)
