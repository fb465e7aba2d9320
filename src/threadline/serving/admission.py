"""The front half of both ad routes, in the documented order: key → origin → rate → body → headers."""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from functools import lru_cache
from typing import TypeVar

import anyio.to_thread
from fastapi import Request
from pydantic import BaseModel, ValidationError

from threadline.advertiser.countries import normalise_country
from threadline.auth.keys import KeyPrincipal
from threadline.context import AppContext
from threadline.gate import rate_limit, surface_of
from threadline.kit.errors import ApiError, validation_to_api_error
from threadline.serving.index import PublisherInfo

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Caller:
    publisher: PublisherInfo
    headers: dict[str, str]  # rate-limit and CORS headers every answer carries


async def admit(ctx: AppContext, request: Request, principal: KeyPrincipal) -> Caller:
    """Publisher lookup, CORS allow-list and the per-key rate limit, in the event loop: only a publisher
    cache miss (the store) and a Redis limiter go to a thread."""
    surface = surface_of(request.scope)
    assert principal.publisher_id is not None
    assert surface.credential is not None
    index = ctx.serving.index
    known, publisher = index.cached_publisher(principal.publisher_id)
    if not known:
        publisher = await anyio.to_thread.run_sync(index.publisher, principal.publisher_id)
    if publisher is None:
        raise ApiError(401, "invalid_api_key", surface.credential.invalid_message)
    headers: dict[str, str] = {}
    origin = request.headers.get("origin")
    if origin is not None:
        if origin not in publisher.allowed_origins and "*" not in publisher.allowed_origins:
            raise ApiError(403, "origin_not_allowed", "Origin not allowed for this publisher.")
        assert surface.cors is not None
        headers.update(
            {
                "Access-Control-Allow-Origin": origin,
                "Vary": "Origin",
                "Access-Control-Expose-Headers": surface.cors.expose_headers,
            }
        )
    assert surface.rate_limit is not None
    try:
        headers.update(await rate_limit(ctx, surface.rate_limit, principal.key_id))
    except ApiError as err:
        err.headers = {**headers, **err.headers}
        raise
    return Caller(publisher, headers)


def parse(model: type[M], raw: bytes) -> M:
    try:
        return model.model_validate_json(raw or b"null")
    except ValidationError as exc:
        raise validation_to_api_error(exc.errors(include_url=False)) from None


def with_headers(err: ApiError, headers: dict[str, str]) -> ApiError:
    err.headers = {**headers, **err.headers}
    return err


@lru_cache(maxsize=1024)
def _is_timezone(name: str | None) -> bool:
    if not name or len(name) > 64:
        return False
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


def user_country(request: Request) -> str:
    """The end user's country from the context headers (400 on a missing or malformed one)."""
    headers = request.headers
    if not headers.get("user-agent"):
        raise ApiError(400, "missing_header", "The User-Agent header is required.")
    if not headers.get("x-forwarded-for"):
        raise ApiError(400, "missing_header", "The X-Forwarded-For header is required.")
    raw = headers.get("x-user-country")
    if raw is None:
        return ""  # no geo-IP database here: the request matches untargeted campaigns only
    country = normalise_country(raw) if len(raw) == 2 else None
    if country is None:
        raise ApiError(400, "invalid_header", "X-User-Country must be an ISO 3166-1 alpha-2 code.")
    if headers.get("x-user-device") not in ("mobile", "desktop"):
        raise ApiError(
            400, "invalid_header", "X-User-Device (mobile|desktop) is required with X-User-Country."
        )
    if not _is_timezone(headers.get("x-user-timezone")):
        raise ApiError(400, "invalid_header", "X-User-Timezone (IANA) is required with X-User-Country.")
    return country
