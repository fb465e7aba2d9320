"""MCP over the same registry, quota and accounts: ``/mcp`` (streamable HTTP) and stdio.

The SDK's ``MCPServer`` serves the protocol; its two public tool hooks (``list_tools``/``call_tool``)
are answered from our registry, so each tool's JSON Schema comes from its argument model and every
call goes through ``tools.service.execute`` like a REST call.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI
from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from mcp_types import CallToolResult, TextContent, ToolAnnotations
from mcp_types import Tool as MCPTool
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from threadline import __version__
from threadline.context import AppContext
from threadline.kit.asgi import header, send_json
from threadline.kit.errors import ApiError
from threadline.surfaces import MCP_PATH
from threadline.tools import service
from threadline.tools.auth import ToolPrincipal, resolve_tool_key
from threadline.tools.catalog import registry
from threadline.tools.envelope import error_body
from threadline.tools.registry import Tool

log = logging.getLogger("threadline.tools.mcp")
PRINCIPAL_STATE = "tool_principal"
INSTRUCTIONS = (
    "Threadline: manage this organization's advertising (Thrad campaigns, TikTok assets) and Threads posts with "
    "tools. "
    "Call list_connected_accounts first; pass a platform's selector when several accounts are active. "
    "Write tools change real campaigns and spend money: confirm with the user first."
)


def mcp_tool(tool: Tool) -> MCPTool:
    return MCPTool(
        name=tool.name,
        description=tool.description,
        input_schema=tool.input_schema(),
        annotations=ToolAnnotations(
            title=tool.name.replace("_", " "),
            read_only_hint=tool.read_only,
            destructive_hint=tool.destructive,
            idempotent_hint=tool.idempotent or tool.read_only,
            open_world_hint=tool.platform not in (None, "thrad"),
        ),
    )


def error_result(tool: str, err: ApiError) -> CallToolResult:
    return CallToolResult(
        content=[TextContent(type="text", text=err.message)],
        structured_content=error_body(tool, err),
        is_error=True,
    )


class ThreadlineMCP(MCPServer[Any]):
    def __init__(self, ctx: AppContext, principal: ToolPrincipal | None = None) -> None:
        super().__init__(name="threadline", version=__version__, instructions=INSTRUCTIONS)
        self.ctx = ctx
        self.fixed_principal = principal  # stdio: the key given on the command line
        self.transport = "mcp"

    async def list_tools(self) -> list[MCPTool]:
        return [mcp_tool(t) for t in registry().all()]

    async def call_tool(self, name: str, arguments: dict[str, Any], context: Any = None) -> CallToolResult:  # type: ignore[override]
        principal = self.fixed_principal or _request_principal(context)
        if principal is None:
            return error_result(name, ApiError(401, "not_authenticated", "Not authenticated."))
        try:
            result = await service.execute(
                self.ctx, principal, name, arguments or {}, transport=self.transport
            )
        except ApiError as err:
            return error_result(name, err)
        except Exception:
            log.exception("tool %s failed", name)
            return error_result(
                name, ApiError(500, "server_error", "Internal error: the call failed; see the server log.")
            )
        return CallToolResult(
            content=[TextContent(type="text", text=result.text)],
            structured_content=result.structured,
            _meta={"threadline/quota": result.quota},
        )


def _request_principal(context: Any) -> ToolPrincipal | None:
    try:
        request = context.request_context.request
    except (AttributeError, ValueError):
        return None
    state = getattr(request, "scope", {}).get("state", {}) if request is not None else {}
    principal = state.get(PRINCIPAL_STATE)
    return principal if isinstance(principal, ToolPrincipal) else None


def transport_security(ctx: AppContext) -> TransportSecuritySettings:
    """Host/Origin checks (DNS rebinding): loopback plus the public base URL's host."""
    hosts = ["127.0.0.1", "127.0.0.1:*", "localhost", "localhost:*", "[::1]", "[::1]:*"]
    origins = ["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"]
    public = urlsplit(ctx.settings.public_base_url)
    if public.netloc:
        hosts += [public.netloc, f"{public.hostname}:*"]
        origins += [f"{public.scheme}://{public.netloc}"]
    hosts += ctx.settings.mcp_allowed_hosts
    return TransportSecuritySettings(allowed_hosts=hosts, allowed_origins=origins)


class McpEndpoint:
    """``/mcp``: the Bearer tool key first (the same 401 as REST), then the SDK's streamable HTTP app.

    The SDK app and its session manager are built anew each time the host app starts (``running``, in
    the app's lifespan): a session manager runs once per instance, and a host app may be started more
    than once (tests, the fuzzer).
    """

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self._app: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            principal = await resolve_tool_key(self.ctx, header(scope, b"authorization"))
        except ApiError as err:
            await send_json(send, err.status, error_body("", err), {"WWW-Authenticate": "Bearer"})
            return
        if self._app is None:
            raise RuntimeError("the MCP endpoint is served only while the app's lifespan runs")
        scope.setdefault("state", {})[PRINCIPAL_STATE] = principal
        inner = dict(scope)
        inner["path"] = "/"
        inner["raw_path"] = b"/"
        inner["root_path"] = scope.get("root_path", "") + MCP_PATH
        await self._app(inner, receive, send)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        server = ThreadlineMCP(self.ctx)
        app = server.streamable_http_app(
            streamable_http_path="/",
            stateless_http=True,  # any server process can answer any request: no session affinity needed
            json_response=True,
            transport_security=transport_security(self.ctx),
        )
        async with server.session_manager.run():
            self._app = app
            try:
                yield
            finally:
                self._app = None


def install(app: FastAPI, ctx: AppContext) -> None:
    """The /mcp route, and its session manager among the app's async services (app.py's lifespan)."""
    endpoint = McpEndpoint(ctx)
    app.router.routes.append(Route(MCP_PATH, endpoint))
    app.state.async_services.append(endpoint.running)


async def serve_stdio(ctx: AppContext, principal: ToolPrincipal) -> None:
    server = ThreadlineMCP(ctx, principal)
    server.transport = "stdio"
    await server.run_stdio_async()
