"""REST surface of the tools: ``POST /api/v1/tools/{tool}/execute`` and ``GET /api/v1/tools``; install()
also mounts the operator routes and the MCP endpoint, and documents one OpenAPI path per tool."""

from __future__ import annotations

import json
from typing import Any

import anyio.to_thread
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response

from threadline import routing
from threadline.context import AppContext
from threadline.kit.errors import ApiError
from threadline.kit.idempotency import Claim
from threadline.routing import RawRoute
from threadline.surfaces import TOOLS_PATH as TOOLS_PREFIX
from threadline.tools import admin_routes, mcp_server, openapi, service
from threadline.tools.auth import resolve_tool_key
from threadline.tools.catalog import registry
from threadline.tools.envelope import ToolError, error_body
from threadline.tools.schemas import ToolInfo, ToolList

router = APIRouter(tags=["tools"])
MAX_BODY_BYTES = 1_048_576
# Outcomes a replay may return: the same arguments give the same answer. A 402/429/5xx is a state of
# the moment, so a retry with the same key runs again.
_REPLAYABLE = (200, 400)


def _tool_info() -> list[ToolInfo]:
    return [
        ToolInfo(
            name=t.name,
            description=t.description,
            category=t.category,
            platform=t.platform,
            selector=t.selector,
            read_only=t.read_only,
            destructive=t.destructive,
            quota_free=t.quota_free,
            idempotent=t.idempotent,
            input_schema=t.input_schema(),
        )
        for t in registry().all()
    ]


@router.get(
    TOOLS_PREFIX, response_model=ToolList, summary="List every tool with its argument schema and flags"
)
async def list_tools() -> ToolList:
    return ToolList(data=_tool_info())


def parse_body(body: bytes) -> dict[str, Any]:
    """The ``arguments`` object of an execute body, or a 400 in the tool envelope."""
    try:
        obj = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ToolError(400, "invalid_json", "The request body is not valid JSON.") from None
    if not isinstance(obj, dict):
        raise ToolError(400, "invalid_json", 'The request body must be a JSON object: {"arguments": {...}}.')
    for name in obj:
        if name != "arguments":
            raise ToolError(
                400, "unknown_param", f'Unknown field: {str(name)[:100]}. Send {{"arguments": {{...}}}}.'
            )
    if "arguments" not in obj:
        raise ToolError(
            400,
            "missing_param",
            "Missing required field: arguments (an object; {} for tools without inputs).",
        )
    arguments = obj["arguments"]
    if not isinstance(arguments, dict):
        raise ToolError(
            400, "invalid_value", "arguments must be a JSON object ({} for tools without inputs)."
        )
    return arguments


async def execute(request: Request) -> Response:
    tool_name: str = request.path_params["tool_name"]
    ctx: AppContext = request.app.state.ctx
    principal = await resolve_tool_key(ctx, request.headers.get("authorization"))
    service.find_tool(tool_name)
    arguments = parse_body(await request.body())
    key = request.headers.get("idempotency-key")
    claim: Claim | None = None
    if key is not None:
        canonical = json.dumps(arguments, sort_keys=True, separators=(",", ":")).encode()
        try:
            claim = await anyio.to_thread.run_sync(
                ctx.idempotency.claim, f"tool:{principal.org_id}", key, "POST", request.url.path, canonical
            )
        except ApiError as err:
            if err.status != 409:
                raise ToolError(err.status, err.code, err.message, err.param) from None
            message = (
                "This Idempotency-Key was already used with different arguments."
                if err.code == "idempotency_key_reused"
                else err.message
            )
            raise ToolError(409, err.code, message, err.param, headers=err.headers) from None
        if claim.replay is not None:
            return Response(
                claim.replay.body,
                claim.replay.status,
                media_type="application/json",
                headers={"Idempotent-Replayed": "true"},
            )
    try:
        result = await service.execute(
            ctx, principal, tool_name, arguments, transport="rest", idempotency_key=key
        )
        status, body, headers = 200, result.body(), {}
    except ApiError as err:
        if err.status not in _REPLAYABLE:
            if claim is not None:
                await anyio.to_thread.run_sync(ctx.idempotency.release, claim.record_id)
            raise  # rendered by the surface's renderer
        status, body, headers = err.status, error_body(tool_name, err), err.headers
    except BaseException:
        if claim is not None:
            await anyio.to_thread.run_sync(ctx.idempotency.release, claim.record_id)
        raise
    payload = json.dumps(body, separators=(",", ":")).encode()
    if claim is not None:
        await anyio.to_thread.run_sync(
            ctx.idempotency.complete, claim.record_id, status, payload, "application/json"
        )
    return Response(payload, status, media_type="application/json", headers=headers)


# A raw route: FastAPI's per-request parameter solving was a third of get_usage_status's CPU. The
# OpenAPI document has one path per tool instead (tools/openapi.py).
router.add_api_route(
    f"{TOOLS_PREFIX}/{{tool_name}}/execute",
    execute,
    methods=["POST"],
    include_in_schema=False,
    route_class_override=RawRoute,
)


def install(app: FastAPI, ctx: AppContext) -> None:
    routing.mount(app, router, admin_routes.router)
    openapi.register(app)
    mcp_server.install(app, ctx)
