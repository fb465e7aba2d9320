"""create_app(settings) -> FastAPI: every surface's router, one error path, the middleware stack."""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from sqlalchemy import text
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from threadline import __version__
from threadline.config import Settings
from threadline.context import AppContext, build_context
from threadline.gate import SURFACE_KEY, SurfaceGate
from threadline.kit.bodylimit import BodyTooLarge
from threadline.kit.clock import Clock
from threadline.kit.errors import ApiError, validation_to_api_error
from threadline.kit.heap import settle_heap
from threadline.kit.observability import Metrics, ObservabilityMiddleware, configure_logging
from threadline.kit.openapi import install_openapi
from threadline.kit.surface import Surface, SurfaceTable
from threadline.routing import install_dispatcher
from threadline.surfaces import surface_table

log = logging.getLogger("threadline")


def surface_for(request: Request) -> Surface:
    surface: Surface | None = request.scope.get(SURFACE_KEY)
    if surface is None:  # an error raised before the gate ran
        table: SurfaceTable = request.app.state.surfaces
        surface = table.lookup(request.url.path)
    return surface


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
    """The ASGI app. Building it has no side effects; components start in its lifespan."""
    settings = settings or Settings()
    configure_logging()
    ctx = build_context(settings, clock)
    app = FastAPI(
        title="Threadline",
        version=__version__,
        description="Self-hostable, Thrad-compatible advertising platform for AI conversations.",
        docs_url="/docs",
        redoc_url=None,
        redirect_slashes=False,
        # Our own observability (kit/observability.py) measures requests; FastAPI's OpenTelemetry hook
        # would re-check for a configured provider on every request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    table = surface_table()
    app.state.ctx = ctx
    app.state.surfaces = table
    metrics = Metrics()
    app.state.metrics = metrics
    if ctx.job_worker is not None:
        ctx.job_worker.on_outcome = lambda o: metrics.observe_job(o.job.kind, o.state, o.seconds)

    # Async context managers slices run in the app's event loop for its lifetime (tools: the MCP
    # session manager), entered after the components start and left before they stop.
    app.state.async_services = []
    _install_error_handlers(app)
    if os.environ.get("THREADLINE_BENCH_BARE_ENDPOINTS") == "1":
        # First in the route table: the baseline pays the least routing, so ratios err low, not high.
        _mount_bench_baselines(app)
    _mount_slices(app, ctx)
    _mount_ops(app, ctx, metrics)
    install_dispatcher(app, table)
    install_openapi(app)
    _run_components(app, ctx)

    # Order matters: the outermost middleware is added last.
    app.add_middleware(SurfaceGate, ctx=ctx, table=table)
    app.add_middleware(ObservabilityMiddleware, metrics=metrics, log_requests=settings.log_requests)
    return app


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> Response:
        return surface_for(request).render(exc, request)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        surface = surface_for(request)
        err = validation_to_api_error(exc.errors(), status=surface.validation_status)
        return surface.render(err, request)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if isinstance(exc.__cause__, BodyTooLarge):  # raised while FastAPI read a chunked body
            err = ApiError(413, "request_too_large", "The request body is too large.")
        elif exc.status_code == 404:
            err = ApiError(404, "not_found", "Unknown request path.")
        elif exc.status_code == 405:
            err = ApiError(405, "method_not_allowed", "Method not allowed on this path.")
        else:
            err = ApiError(exc.status_code, "invalid_request", str(exc.detail))
        return surface_for(request).render(err, request)

    @app.exception_handler(ClientDisconnect)
    async def _client_gone(request: Request, exc: ClientDisconnect) -> Response:
        # The client closed its connection before its body arrived (a load generator stopping, a tab
        # closed): no one reads an answer and it is not the server's error, so no traceback. 499 is the
        # status proxies log for it.
        log.info("client disconnected before its request body arrived: %s", request.url.path)
        return Response(status_code=499)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error", exc_info=exc)
        err = ApiError(500, "server_error", "The server had an error while processing your request.")
        err.type = "api_error"
        return surface_for(request).render(err, request)


def _mount_slices(app: FastAPI, ctx: AppContext) -> None:
    from threadline import (
        advertiser,
        dashboard,
        events,
        insights,
        media,
        operator,
        publishing,
        serving,
        tools,
    )

    # dashboard before publishing: its /v1.0/oauth/authorize must match before /v1.0/{node}.
    for slice_ in (events, advertiser, serving, media, insights, operator, dashboard, publishing, tools):
        importlib.import_module(f"{slice_.__name__}.routes").install(app, ctx)


def _mount_ops(app: FastAPI, ctx: AppContext, metrics: Metrics) -> None:
    @app.get("/healthz", include_in_schema=False)
    def healthz() -> Response:
        try:
            with ctx.db.read() as s:
                s.execute(text("SELECT 1"))
        except Exception:
            return JSONResponse({"status": "error", "store": "unreachable"}, status_code=503)
        return JSONResponse({"status": "ok", "store": "ok"})

    @app.get("/metrics", include_in_schema=False)
    def prometheus() -> Response:
        body, content_type = metrics.render()
        return PlainTextResponse(body, media_type=content_type)


def _run_components(app: FastAPI, ctx: AppContext) -> None:
    """The lifespan: start every component, settle the heap, and stop them all when the app ends."""
    previous = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(application: FastAPI) -> AsyncIterator[Any]:
        await anyio.to_thread.run_sync(ctx.start)
        try:
            async with AsyncExitStack() as services:
                for service in application.state.async_services:
                    await services.enter_async_context(service())
                async with previous(application) as state:
                    settle_heap()
                    yield state
        finally:
            # Everything already queued is committed and answered, and no component thread is left.
            await anyio.to_thread.run_sync(ctx.stop)

    app.router.lifespan_context = lifespan


def _mount_bench_baselines(app: FastAPI) -> None:
    """Endpoints that do nothing, for benchmarks: the ceiling of our HTTP stack on the same server."""

    @app.get("/bench/bare-json", include_in_schema=False)
    async def bare_json() -> Response:
        return JSONResponse({"ok": True})

    @app.post("/bench/bare-204", include_in_schema=False)
    async def bare_204() -> Response:
        return Response(status_code=204)

    @app.post("/bench/bare-json", include_in_schema=False)
    async def bare_post_json() -> Response:
        return JSONResponse({"ok": True})

    # Ahead of FastAPI's own /openapi.json and /docs routes too.
    routes = app.router.routes
    routes[:] = routes[-3:] + routes[:-3]


def app_factory() -> FastAPI:
    """Entry point for `uvicorn --factory threadline.app:app_factory` (settings from the environment)."""
    return create_app()
