"""The cheap front half of an event request, run in the event loop: key, rate limit, JSON body."""

from __future__ import annotations

import json
import math
from typing import Any, NoReturn, TypeVar

import anyio.to_thread
from fastapi import Request
from limits import RateLimitItem
from pydantic import BaseModel, ValidationError

from threadline.auth.keys import KeyPrincipal, authenticate
from threadline.context import AppContext
from threadline.kit.bodylimit import BodyTooLarge
from threadline.kit.errors import ApiError, validation_to_api_error
from threadline.kit.secrets import hash_key

M = TypeVar("M", bound=BaseModel)

AUTH_REQUIRED = "Authentication credentials were not provided."
INVALID_KEY = "Invalid API key."
MAX_TOKEN_LENGTH = 200


async def event_principal(ctx: AppContext, request: Request) -> KeyPrincipal:
    """The event key's principal; a cache hit never leaves the event loop."""
    auth = request.headers.get("authorization")
    if auth is None:
        raise ApiError(401, "auth_required", AUTH_REQUIRED)
    scheme, _, token = auth.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token.startswith("ek_") or len(token) > MAX_TOKEN_LENGTH:
        raise ApiError(401, "invalid_api_key", INVALID_KEY)
    hit, _ = ctx.keys.get(hash_key(token), ctx.clock.monotonic())
    if hit:
        principal = authenticate(ctx.db, ctx.keys, ctx.clock, token, "event")
    else:
        principal = await anyio.to_thread.run_sync(authenticate, ctx.db, ctx.keys, ctx.clock, token, "event")
    if principal is None or principal.org_id is None:
        raise ApiError(401, "invalid_api_key", INVALID_KEY)
    return principal


async def enforce_rate_limit(ctx: AppContext, limit: RateLimitItem, principal: KeyPrincipal) -> None:
    """Per event key. Redis round-trips go to a thread; the in-memory limiter answers inline."""
    if not ctx.limiter.enabled:
        return
    if ctx.settings.redis_url:
        decision = await anyio.to_thread.run_sync(ctx.limiter.hit, limit, "events", principal.key_id)
    else:
        decision = ctx.limiter.hit(limit, "events", principal.key_id)
    if not decision.allowed:
        raise ApiError(
            429, "rate_limit_exceeded", "Rate limit exceeded. Retry later.", headers=decision.headers()
        )


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
