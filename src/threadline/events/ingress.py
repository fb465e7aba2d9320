"""The cheap front half of an event request, run in the event loop: key, rate limit, JSON body."""

from __future__ import annotations

import json
import math
from typing import Any, NoReturn, TypeVar

import anyio.to_thread
from fastapi import Request
from limits import RateLimitItem
from pydantic import BaseModel, ValidationError

from threadline.auth.keys import KeyPrincipal, bearer_token, invalid_api_key, resolve_key
from threadline.context import AppContext
from threadline.kit.bodylimit import BodyTooLarge
from threadline.kit.errors import ApiError, validation_to_api_error

M = TypeVar("M", bound=BaseModel)


async def event_principal(ctx: AppContext, request: Request) -> KeyPrincipal:
    """The event key's principal; a cache hit never leaves the event loop."""
    token = bearer_token(request.headers.get("authorization"))
    principal = await resolve_key(ctx.db, ctx.keys, ctx.clock, token, "event")
    if principal is None or principal.org_id is None:
        raise invalid_api_key()
    return principal


async def enforce_rate_limit(ctx: AppContext, limit: RateLimitItem, principal: KeyPrincipal) -> None:
    """Per event key. Redis round-trips go to a thread; the in-memory limiter answers inline."""
    if not ctx.limiter.enabled:
        return
    # Success responses carry no rate-limit headers: the window is read back only for a 429.
    if ctx.settings.redis_url:
        if await anyio.to_thread.run_sync(ctx.limiter.allow, limit, "events", principal.key_id):
            return
        decision = await anyio.to_thread.run_sync(ctx.limiter.peek, limit, "events", principal.key_id)
    else:
        if ctx.limiter.allow(limit, "events", principal.key_id):
            return
        decision = ctx.limiter.peek(limit, "events", principal.key_id)
    headers = decision.headers()
    headers.setdefault("Retry-After", str(decision.retry_after))  # refused, even if a slot just freed
    raise ApiError(429, "rate_limit_exceeded", "Rate limit exceeded. Retry later.", headers=headers)


def _no_constants(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e999 parses to inf
        raise ValueError("number out of range")
    return value


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
        obj = json.loads(body, parse_constant=_no_constants, parse_float=_finite)
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
        raise validation_to_api_error(exc.errors(), status=422) from None
