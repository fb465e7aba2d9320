"""Serving routes: the current bid request, the legacy serve-ad, and tracking (click, view, poll).

The two ad routes read the raw body themselves so the checks run in the documented order
(key → origin → rate → body → headers), then run the decision in the thread pool.
"""

from __future__ import annotations

import json
import zoneinfo
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeVar

import anyio.to_thread
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, ValidationError

from threadline.advertiser.countries import normalise_country
from threadline.auth.keys import KeyPrincipal, resolve_key
from threadline.context import AppContext
from threadline.kit.errors import ApiError, Surface, validation_to_api_error
from threadline.kit.ratelimit import RateDecision
from threadline.serving import tracking
from threadline.serving.frequency import FrequencyRule
from threadline.serving.index import PublisherInfo
from threadline.serving.relevance import threshold
from threadline.serving.schemas import (
    BidRequestBody,
    BidResponse,
    PollTallyResponse,
    ServeAdBody,
    ServeAdResponse,
    VoteBody,
    serving_errors,
)
from threadline.serving.service import (
    Decision,
    ServeRequest,
    ServingEngine,
    image_data_url,
    media_url,
    price_dollars,
    tracking_urls,
)

SERVING_PREFIXES = ("/api/v1/ssp/", "/developer/", "/t/", "/api/v1/tracking/")
LEGACY_API_VERSION = "1.0"
CORS_ALLOW_HEADERS = (
    "Content-Type, thrad-api-key, X-THRADS-API-KEY, X-User-Country, X-User-Device, X-User-Timezone, "
    "X-User-Region, X-User-City"
)
CORS_EXPOSE = "X-RateLimit-Remaining, X-RateLimit-Reset, X-Request-Id"
GIF_1X1 = bytes.fromhex(
    "47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b"
)
M = TypeVar("M", bound=BaseModel)


def request_id(request: Request) -> str:
    return str(getattr(request.state, "request_id", "") or "")


def render_serving(err: ApiError, request: Request) -> Response:
    """`{"status":"error","message","requestId"}`; the legacy path has no requestId; tracking adds `code`."""
    path = request.url.path
    body: dict[str, Any] = {"status": "error", "message": err.message}
    if not path.startswith("/developer/"):
        body["requestId"] = request_id(request)
    if path.startswith(("/t/", "/api/v1/tracking/")):
        body["code"] = err.code
    return JSONResponse(body, status_code=err.status, headers=err.headers)


def engine_of(ctx: AppContext) -> ServingEngine:
    engine: ServingEngine = ctx.services["serving"]
    return engine


def ctx_of(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


# -- the shared front half of both ad routes ---------------------------------------------------------


@dataclass(frozen=True)
class Caller:
    publisher: PublisherInfo
    headers: dict[str, str]  # rate-limit and CORS headers every answer carries


async def _principal(ctx: AppContext, token: str | None, invalid: ApiError) -> KeyPrincipal:
    if not token:
        raise invalid
    principal = await resolve_key(ctx.db, ctx.keys, ctx.clock, token, "publisher")
    if principal is None or principal.publisher_id is None:
        raise invalid
    return principal


def _admit(ctx: AppContext, principal: KeyPrincipal, origin: str | None, invalid: ApiError) -> Caller:
    """Publisher lookup, CORS allow-list and the per-key rate limit (may touch the DB or Redis)."""
    assert principal.publisher_id is not None
    publisher = engine_of(ctx).index.publisher(principal.publisher_id)
    if publisher is None:
        raise invalid
    headers: dict[str, str] = {}
    if origin is not None:
        if origin not in publisher.allowed_origins and "*" not in publisher.allowed_origins:
            raise ApiError(403, "origin_not_allowed", "Origin not allowed for this publisher.")
        headers.update(
            {
                "Access-Control-Allow-Origin": origin,
                "Vary": "Origin",
                "Access-Control-Expose-Headers": CORS_EXPOSE,
            }
        )
    limit = ctx.limiter.per_second(ctx.settings.serving_rate_limit_per_second)
    decision: RateDecision = ctx.limiter.hit(limit, "serve", principal.key_id)
    headers["X-RateLimit-Remaining"] = str(decision.remaining)
    headers["X-RateLimit-Reset"] = str(decision.reset_at)
    if not decision.allowed:
        raise ApiError(429, "rate_limit_exceeded", "Rate limit exceeded.", headers=headers)
    return Caller(publisher, headers)


def _parse(model: type[M], raw: bytes) -> M:
    try:
        return model.model_validate_json(raw or b"null")
    except ValidationError as exc:
        raise validation_to_api_error(exc.errors(include_url=False)) from None


async def _run(func: Callable[..., Response], *args: Any) -> Response:
    return await anyio.to_thread.run_sync(func, *args)


def _with_headers(err: ApiError, headers: dict[str, str]) -> ApiError:
    err.headers = {**headers, **err.headers}
    return err


# -- POST /api/v1/ssp/bid-request -------------------------------------------------------------------

INVALID_PK = ApiError(401, "invalid_api_key", "Invalid API key.")


@lru_cache(maxsize=1024)
def _is_timezone(name: str | None) -> bool:
    if not name or len(name) > 64:
        return False
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _user_country(request: Request) -> str:
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


def _bid_request(
    ctx: AppContext, request: Request, raw: bytes, principal: KeyPrincipal, t0: float
) -> Response:
    caller = _admit(ctx, principal, request.headers.get("origin"), INVALID_PK)
    try:
        body = _parse(BidRequestBody, raw)
        country = _user_country(request)
    except ApiError as err:
        raise _with_headers(err, caller.headers) from None
    formats = body.ad_formats or (
        ["sponsored_message"] if body.request_type == "contextual" else ["sponsored_prompt"]
    )
    cfg = body.config
    rule = None
    if body.chatId is not None and (cfg.ad_offset or cfg.max_frequency):
        rule = FrequencyRule(body.chatId, cfg.ad_offset or 0, cfg.max_frequency or 0, body.turn_number)
    req = ServeRequest(
        publisher=caller.publisher,
        user_id=body.userId,
        chat_id=body.chatId,
        messages=[m.content for m in body.messages],
        formats=frozenset(formats),
        country=country,
        threshold=threshold("high"),
        sandbox=not body.production,
        rule=rule,
    )
    decision = engine_of(ctx).serve(req)
    now = ctx.clock.now_s()
    payload = {
        "requestId": request_id(request),
        "timestamp": now,
        "totalTime": _elapsed_ms(ctx, t0),
        "status": "success",
        "message": "Bid returned." if decision.served else "No bid.",
        "data": {
            "bid": _bid_payload(ctx, decision, cfg.max_headline_chars, cfg.image_enabled, now),
            "reason": decision.reason,
        },
    }
    return JSONResponse(payload, headers=caller.headers)


def _elapsed_ms(ctx: AppContext, t0: float) -> float:
    return round((ctx.clock.monotonic() - t0) * 1000, 3)


def _headline(title: str, limit: int | None) -> str:
    if limit is None or len(title) <= limit:
        return title
    return title[: limit - 1].rstrip() + "…"


def _bid_payload(
    ctx: AppContext, decision: Decision, max_chars: int | None, image_enabled: bool, now: int
) -> dict[str, Any] | None:
    served = decision.served
    if served is None:
        return None
    ad = served.ad
    urls = tracking_urls(ctx, served.bid_id, now)
    image = media_url(ctx, ad.file_id) if ad.file_id and image_enabled else None
    bid: dict[str, Any] = {
        "bidId": served.bid_id,
        "ad_format": ad.ad_format,
        "price": price_dollars(served.price_micros),
        "advertiser": ad.advertiser,
        "domain": ad.domain,
        "headline": _headline(ad.title, max_chars),
        "description": ad.body,
        "cta_text": ad.cta_text,
        "url": urls["click"] if ad.target_url else None,
        "placement": "image" if image else "text",
        "image_url": image,
        "view_url": urls["view"],
    }
    if ad.ad_format == "sponsored_poll":
        base = ctx.settings.public_base_url.rstrip("/") + "/api/v1/tracking/sponsored-polls"
        bid["poll"] = {
            "question": ad.title,
            "options": [{"id": str(i), "text": t} for i, t in enumerate(ad.poll_options, start=1)],
            "vote_url": f"{base}/vote?token={urls['poll']}",
            "results_url": f"{base}/results?token={urls['poll']}",
        }
    return bid


# -- POST /developer/serve-ad/ (legacy thrads-sdk) ---------------------------------------------------

INVALID_LEGACY_KEY = ApiError(401, "invalid_api_key", "Invalid API key")


def _serve_ad(ctx: AppContext, request: Request, raw: bytes, principal: KeyPrincipal, t0: float) -> Response:
    caller = _admit(ctx, principal, request.headers.get("origin"), INVALID_LEGACY_KEY)
    try:
        body = _parse(ServeAdBody, raw)
    except ApiError as err:
        raise _with_headers(err, caller.headers) from None
    country = (normalise_country(body.userRegion) or "") if body.userRegion else ""
    rule = None
    if body.production or body.force is False:
        rule = FrequencyRule(body.chatId, body.conversationOffset, body.adFrequencyLimit, None, body.force)
    req = ServeRequest(
        publisher=caller.publisher,
        user_id=body.userId,
        chat_id=body.chatId,
        messages=[body.content.user, body.content.chatbot],
        formats=frozenset({"sponsored_message"}),
        country=country,
        threshold=threshold(body.adAggressiveness),
        sandbox=not body.production,
        rule=rule,
    )
    decision = engine_of(ctx).serve(req)
    now = ctx.clock.now_s()
    data = None
    if decision.served is not None:
        ad = decision.served.ad
        data = {
            "creative": ad.body,
            "prod_name": ad.title,
            "prod_url": tracking_urls(ctx, decision.served.bid_id, now)["click"],
            "img_url": image_data_url(ctx, ad.file_id),
        }
    payload = {
        "status": "success",
        "requestId": request_id(request),
        "totalTime": _elapsed_ms(ctx, t0),
        "apiVersion": LEGACY_API_VERSION,
        "timestamp": now,
        "adStatus": "served" if data else "not_served",
        "data": data,
    }
    return JSONResponse(payload, headers=caller.headers)


# -- the router ------------------------------------------------------------------------------------


def _preflight(request: Request) -> Response:
    """Browsers send no key on a preflight, so it is answered openly; the real request is checked."""
    origin = request.headers.get("origin")
    headers = {
        "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
        "Access-Control-Allow-Headers": request.headers.get("access-control-request-headers")
        or CORS_ALLOW_HEADERS,
        "Access-Control-Max-Age": "600",
    }
    if origin:
        headers.update({"Access-Control-Allow-Origin": origin, "Vary": "Origin"})
    return Response(status_code=204, headers=headers)


def build_router() -> APIRouter:
    router = APIRouter(tags=["serving"])

    @router.post(
        "/api/v1/ssp/bid-request",
        response_model=BidResponse,
        responses=serving_errors(400, 401, 403, 429),
        openapi_extra={
            "requestBody": {"content": {"application/json": {"schema": BidRequestBody.model_json_schema()}}}
        },
    )
    async def bid_request(request: Request) -> Response:
        ctx = ctx_of(request)
        t0 = ctx.clock.monotonic()
        principal = await _principal(ctx, request.headers.get("thrad-api-key"), INVALID_PK)
        raw = await request.body()
        return await _run(_bid_request, ctx, request, raw, principal, t0)

    @router.post(
        "/developer/serve-ad/",
        response_model=ServeAdResponse,
        responses=serving_errors(400, 401, 403, 429),
        openapi_extra={
            "requestBody": {"content": {"application/json": {"schema": ServeAdBody.model_json_schema()}}}
        },
    )
    async def serve_ad(request: Request) -> Response:
        ctx = ctx_of(request)
        t0 = ctx.clock.monotonic()
        principal = await _principal(ctx, request.headers.get("x-thrads-api-key"), INVALID_LEGACY_KEY)
        raw = await request.body()
        return await _run(_serve_ad, ctx, request, raw, principal, t0)

    router.add_api_route("/api/v1/ssp/bid-request", _preflight, methods=["OPTIONS"], include_in_schema=False)
    router.add_api_route("/developer/serve-ad/", _preflight, methods=["OPTIONS"], include_in_schema=False)
    router.add_api_route(
        "/api/v1/tracking/sponsored-polls/vote", _preflight, methods=["OPTIONS"], include_in_schema=False
    )

    @router.get(
        "/t/c/{token}",
        status_code=302,
        responses={302: {"description": "Redirect to the landing page"}, **serving_errors(404)},
    )
    def click(token: str, request: Request) -> Response:
        ctx = ctx_of(request)
        location = tracking.click(ctx, engine_of(ctx).index, token)
        return RedirectResponse(location, status_code=302, headers={"Cache-Control": "no-store"})

    @router.get(
        "/t/v/{token}", status_code=204, responses={204: {"description": "Counted"}, **serving_errors(404)}
    )
    def view(token: str, request: Request) -> Response:
        tracking.view(ctx_of(request), token)
        headers = {"Cache-Control": "no-store", "Access-Control-Allow-Origin": "*"}
        if "image/" in request.headers.get("accept", ""):
            return Response(GIF_1X1, media_type="image/gif", headers=headers)
        return Response(status_code=204, headers=headers)

    @router.post(
        "/api/v1/tracking/sponsored-polls/vote",
        response_model=PollTallyResponse,
        responses=serving_errors(400, 401, 409),
        openapi_extra={
            "requestBody": {"content": {"application/json": {"schema": VoteBody.model_json_schema()}}}
        },
    )
    async def vote(request: Request) -> Response:
        ctx = ctx_of(request)
        body = _vote_body(await request.body())
        tally = await anyio.to_thread.run_sync(tracking.vote, ctx, body.token, _option(body.option_id))
        return JSONResponse(tally.body(), headers={"Access-Control-Allow-Origin": "*"})

    @router.get(
        "/api/v1/tracking/sponsored-polls/results",
        response_model=PollTallyResponse,
        responses=serving_errors(400, 401),
    )
    def results(request: Request, token: str | None = None) -> Response:
        tally = tracking.results(ctx_of(request), token)
        return JSONResponse(tally.body(), headers={"Access-Control-Allow-Origin": "*"})

    return router


def _vote_body(raw: bytes) -> VoteBody:
    try:
        data = json.loads(raw or b"{}")
    except ValueError:
        raise ApiError(400, "invalid_json", "The request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise ApiError(400, "invalid_json", "A JSON object request body is required.")
    token = data.get("token")
    option = data.get("option_id")
    return VoteBody(
        token=token if isinstance(token, str) else None,
        option_id=option if isinstance(option, str | int) and not isinstance(option, bool) else None,
    )


def _option(value: str | int | None) -> str | None:
    return None if value is None else str(value)[:16]


def install(app: FastAPI, ctx: AppContext) -> None:
    """Mount this slice's routers and register its error surface and long-lived services."""
    app.state.surfaces.append(Surface(SERVING_PREFIXES, render_serving))
    engine = ServingEngine(ctx)
    ctx.services["serving"] = engine
    app.include_router(build_router())

    previous = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(application: FastAPI) -> AsyncIterator[Any]:
        try:
            async with previous(application) as state:
                yield state
        finally:
            await anyio.to_thread.run_sync(engine.stop)

    app.router.lifespan_context = lifespan
