"""Events API routes (`/v1/api/collect`, `/v1/api/conversion`, and the `/api/...` aliases).

The handlers are ``async``: key check, rate limit, JSON parsing and validation are cheap and run in the
event loop; the row goes to the batching writer and the handler awaits its committed outcome.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response

from threadline.context import AppContext
from threadline.events import admin, service
from threadline.events.ingress import collect_body, json_object, validate
from threadline.events.schemas import CollectIn, ConversionIn, ConversionStatus
from threadline.gate import authenticate_key, rate_limit
from threadline.kit.schemas import error_responses
from threadline.routing import RawRoute, mount
from threadline.surfaces import EVENTS_MOUNTS, EVENTS_RATE

_OK = b'{"status":"ok"}'
_DUPLICATE = b'{"status":"duplicate"}'

# Documented in OpenAPI only (see _document_event_key): a FastAPI security dependency would cost a
# dependency-solving pass per request on the hot path, and event_principal reads the header anyway.
EVENT_KEY_SCHEME = {"type": "http", "scheme": "bearer", "description": "Event key: `Bearer ek_...`"}


def _body_doc(
    model: type[CollectIn] | type[ConversionIn], extra_params: list[dict[str, Any]]
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": model.model_json_schema()}},
        },
        "security": [{"EventKey": []}],
    }
    if extra_params:
        doc["parameters"] = extra_params
    return doc


_IDEMPOTENCY_PARAM = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "maxLength": 1024},
    "description": (
        "Dedupe key for retries; wins over `event_id`. A conversion with an `order_id` is also a"
        " duplicate when the same (`click_id`, `event_type`, `order_id`) was already stored."
    ),
}


_RATE = EVENTS_RATE


async def collect(request: Request) -> Response:
    ctx: AppContext = request.app.state.ctx
    principal = await authenticate_key(request)
    await rate_limit(ctx, _RATE, principal.key_id)
    now = ctx.clock.now()
    event = await collect_body(request, int(now))
    headers = request.headers
    pending = service.collect_event(principal, event, headers.get("origin"), headers.get("referer"), now)
    await ctx.event_writer.submit(pending)
    return Response(status_code=204)


async def conversion(request: Request) -> Response:
    ctx: AppContext = request.app.state.ctx
    principal = await authenticate_key(request)
    await rate_limit(ctx, _RATE, principal.key_id)
    now = ctx.clock.now()
    conv = validate(ConversionIn, await json_object(request), int(now))
    pending = service.conversion_event(principal, conv, request.headers.get("idempotency-key"), now)
    outcome = await ctx.event_writer.submit(pending)
    return Response(_OK if outcome == "ok" else _DUPLICATE, media_type="application/json")


def _router() -> APIRouter:
    router = APIRouter(tags=["events"])
    for prefix in EVENTS_MOUNTS:
        router.add_api_route(
            f"{prefix}/collect",
            collect,
            methods=["POST"],
            route_class_override=RawRoute,
            status_code=204,
            response_class=Response,
            responses={
                204: {"description": "Stored (committed)."},
                **error_responses(400, 401, 413, 422, 429),
            },
            openapi_extra=_body_doc(CollectIn, []),
            summary="Server-to-server event",
        )
        router.add_api_route(
            f"{prefix}/conversion",
            conversion,
            methods=["POST"],
            route_class_override=RawRoute,
            response_model=ConversionStatus,
            responses=error_responses(400, 401, 404, 413, 422, 429),
            openapi_extra=_body_doc(ConversionIn, [_IDEMPOTENCY_PARAM]),
            summary="Server-to-server conversion",
        )
    return router


def _document_event_key(app: FastAPI) -> None:
    build = app.openapi

    def openapi() -> dict[str, Any]:
        schema = build()
        schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
        schemes.setdefault("EventKey", EVENT_KEY_SCHEME)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def install(app: FastAPI, ctx: AppContext) -> None:
    """Mount this slice's routes (its surface is declared in surfaces.py, its writer is ctx.event_writer)."""
    mount(app, _router(), admin.router)
    _document_event_key(app)
