"""Serving routes: the current bid request, the legacy serve-ad, and tracking (click, view, poll).

The two ad routes read the raw body themselves so the checks run in the documented order
(key → origin → rate → body → headers, see admission.py), then run the in-memory decision in the event
loop (it is pure Python: a worker thread would only add hand-offs of the GIL) and await its write from the
serving batch writer; tracking writes go through the same writer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from threadline.advertiser.countries import normalise_country
from threadline.auth.keys import KeyPrincipal
from threadline.context import AppContext
from threadline.gate import authenticate_key, surface_of
from threadline.kit.errors import ApiError
from threadline.routing import RawRoute, mount
from threadline.serving import tracking
from threadline.serving.admission import Caller, admit, parse, user_country, with_headers
from threadline.serving.frequency import FrequencyRule
from threadline.serving.presenters import (
    GIF_1X1,
    LEGACY_API_VERSION,
    bid_payload,
    elapsed_ms,
    json_response,
    legacy_ad,
    request_id,
)
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
from threadline.serving.service import Decision, Plan, ServeRequest
from threadline.surfaces import SERVING, SERVING_BID_PATH, TRACKING_CLICK, TRACKING_VIEW


def ctx_of(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


# -- POST /api/v1/ssp/bid-request -------------------------------------------------------------------


@dataclass(frozen=True)
class _Planned:
    caller: Caller
    plan: Plan
    config: Any = None  # the bid request's `config`


async def _decide(ctx: AppContext, planned: _Planned) -> Decision:
    try:
        return await ctx.serving.commit(planned.plan)
    except ApiError as err:
        raise with_headers(err, planned.caller.headers) from None


async def _plan_bid_request(
    ctx: AppContext, request: Request, raw: bytes, principal: KeyPrincipal
) -> _Planned:
    caller = await admit(ctx, request, principal)
    try:
        body = parse(BidRequestBody, raw)
        country = user_country(request)
    except ApiError as err:
        raise with_headers(err, caller.headers) from None
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
    return _Planned(caller, await ctx.serving.plan_async(req), cfg)


def _bid_response(
    ctx: AppContext, request: Request, planned: _Planned, decision: Decision, t0: float
) -> Response:
    cfg = planned.config
    now = ctx.clock.now_s()
    payload = {
        "requestId": request_id(request),
        "timestamp": now,
        "totalTime": elapsed_ms(ctx, t0),
        "status": "success",
        "message": "Bid returned." if decision.served else "No bid.",
        "data": {
            "bid": bid_payload(ctx, decision, cfg.max_headline_chars, cfg.image_enabled, now),
            "reason": decision.reason,
        },
    }
    return json_response(payload, planned.caller.headers)


# -- POST /developer/serve-ad/ (legacy thrads-sdk) ---------------------------------------------------


async def _plan_serve_ad(ctx: AppContext, request: Request, raw: bytes, principal: KeyPrincipal) -> _Planned:
    caller = await admit(ctx, request, principal)
    try:
        body = parse(ServeAdBody, raw)
    except ApiError as err:
        raise with_headers(err, caller.headers) from None
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
    return _Planned(caller, await ctx.serving.plan_async(req))


def _serve_ad_response(
    ctx: AppContext, request: Request, planned: _Planned, decision: Decision, t0: float
) -> Response:
    now = ctx.clock.now_s()
    data = legacy_ad(ctx, decision, now)
    payload = {
        "status": "success",
        "requestId": request_id(request),
        "totalTime": elapsed_ms(ctx, t0),
        "apiVersion": LEGACY_API_VERSION,
        "timestamp": now,
        "adStatus": "served" if data else "not_served",
        "data": data,
    }
    return json_response(payload, planned.caller.headers)


# -- the router ------------------------------------------------------------------------------------


def _preflight(request: Request) -> Response:
    """Browsers send no key on a preflight, so it is answered openly; the real request is checked."""
    cors = surface_of(request.scope).cors or SERVING.cors
    assert cors is not None
    origin = request.headers.get("origin")
    headers = {
        "Access-Control-Allow-Methods": cors.methods,
        "Access-Control-Allow-Headers": request.headers.get("access-control-request-headers")
        or cors.allow_headers,
        "Access-Control-Max-Age": str(cors.max_age),
    }
    if origin:
        headers.update({"Access-Control-Allow-Origin": origin, "Vary": "Origin"})
    return Response(status_code=204, headers=headers)


def build_router() -> APIRouter:
    router = APIRouter(tags=["serving"])

    async def bid_request(request: Request) -> Response:
        ctx = ctx_of(request)
        t0 = ctx.clock.monotonic()
        principal = await authenticate_key(request)
        raw = await request.body()
        planned = await _plan_bid_request(ctx, request, raw, principal)
        return _bid_response(ctx, request, planned, await _decide(ctx, planned), t0)

    async def serve_ad(request: Request) -> Response:
        ctx = ctx_of(request)
        t0 = ctx.clock.monotonic()
        principal = await authenticate_key(request)
        raw = await request.body()
        planned = await _plan_serve_ad(ctx, request, raw, principal)
        return _serve_ad_response(ctx, request, planned, await _decide(ctx, planned), t0)

    # The two ad routes are the hot path: RawRoute skips FastAPI's per-request dependency solving.
    for path, endpoint, model, body in (
        (SERVING_BID_PATH, bid_request, BidResponse, BidRequestBody),
        ("/developer/serve-ad/", serve_ad, ServeAdResponse, ServeAdBody),
    ):
        router.add_api_route(
            path,
            endpoint,
            methods=["POST"],
            route_class_override=RawRoute,
            response_model=model,
            responses=serving_errors(400, 401, 403, 429, 503),
            openapi_extra={
                "requestBody": {"content": {"application/json": {"schema": body.model_json_schema()}}}
            },
        )

    router.add_api_route(SERVING_BID_PATH, _preflight, methods=["OPTIONS"], include_in_schema=False)
    router.add_api_route("/developer/serve-ad/", _preflight, methods=["OPTIONS"], include_in_schema=False)
    router.add_api_route(
        "/api/v1/tracking/sponsored-polls/vote", _preflight, methods=["OPTIONS"], include_in_schema=False
    )

    @router.get(
        TRACKING_CLICK + "{token}",
        status_code=302,
        responses={302: {"description": "Redirect to the landing page"}, **serving_errors(404, 503)},
    )
    async def click(token: str, request: Request) -> Response:
        ctx = ctx_of(request)
        location = await tracking.click(ctx, ctx.serving.index, token)
        return RedirectResponse(location, status_code=302, headers={"Cache-Control": "no-store"})

    @router.get(
        TRACKING_VIEW + "{token}",
        status_code=204,
        responses={204: {"description": "Counted"}, **serving_errors(404, 503)},
    )
    async def view(token: str, request: Request) -> Response:
        await tracking.view(ctx_of(request), token)
        headers = {"Cache-Control": "no-store", "Access-Control-Allow-Origin": "*"}
        if "image/" in request.headers.get("accept", ""):
            return Response(GIF_1X1, media_type="image/gif", headers=headers)
        return Response(status_code=204, headers=headers)

    @router.post(
        "/api/v1/tracking/sponsored-polls/vote",
        response_model=PollTallyResponse,
        responses=serving_errors(400, 401, 409, 503),
        openapi_extra={
            "requestBody": {"content": {"application/json": {"schema": VoteBody.model_json_schema()}}}
        },
    )
    async def vote(request: Request) -> Response:
        ctx = ctx_of(request)
        body = _vote_body(await request.body())
        tally = await tracking.vote(ctx, body.token, _option(body.option_id))
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
    """Mount this slice's routes (its surfaces are declared in surfaces.py, its engine is ctx.serving)."""
    mount(app, build_router())
