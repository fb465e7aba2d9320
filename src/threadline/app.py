"""create_app(settings) -> FastAPI: every surface's router, one error path, the middleware stack."""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import ModuleType
from typing import Any

import anyio
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from sqlalchemy import text
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Receive, Scope, Send

from threadline import __version__
from threadline.advertiser.gate import AdvertiserGate
from threadline.config import Settings
from threadline.context import AppContext, build_context
from threadline.kit.bodylimit import BodyLimitMiddleware, BodyTooLarge
from threadline.kit.clock import Clock
from threadline.kit.errors import OPENAI_SURFACE, ApiError, Surface, validation_to_api_error
from threadline.kit.heap import settle_heap
from threadline.kit.observability import Metrics, ObservabilityMiddleware, configure_logging
from threadline.kit.openapi import install_openapi

log = logging.getLogger("threadline")


def surface_for(app: FastAPI, path: str) -> Surface:
    registered: list[Surface] = app.state.surfaces
    for surface in registered:
        if surface.matches(path):
            return surface
    return OPENAI_SURFACE


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
    settings = settings or Settings()
    configure_logging()
    ctx = build_context(settings, clock)
    app = FastAPI(
        title="Threadline",
        version=__version__,
        description="Self-hostable, Thrad-compatible advertising platform for AI conversations.",
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.ctx = ctx
    app.state.surfaces = []
    metrics = Metrics()
    app.state.metrics = metrics

    _install_error_handlers(app)
    if os.environ.get("THREADLINE_BENCH_BARE_ENDPOINTS") == "1":
        # First in the route table: the baseline pays the least routing, so ratios err low, not high.
        _mount_bench_baselines(app)
    _mount_slices(app, ctx)
    _install_jobs(app, ctx)
    _mount_ops(app, ctx, metrics)
    install_openapi(app)
    _settle_heap_after_startup(app)

    async def reject_too_large(scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"]
        err = ApiError(413, "request_too_large", "The request body is too large.")
        request = Request(scope, receive)
        response = surface_for(app, path).render(err, request)
        await response(scope, receive, send)

    # Order matters: the outermost middleware is added last.
    app.add_middleware(AdvertiserGate, ctx=ctx)
    app.add_middleware(
        BodyLimitMiddleware,
        rules=[
            ("/v1/upload", None),  # the upload route streams and enforces its own 5 MB limit
            ("/v1/api/", settings.events_max_body_bytes),
            ("/api/collect", settings.events_max_body_bytes),
            ("/api/conversion", settings.events_max_body_bytes),
        ],
        default=settings.max_json_body_bytes,
        reject=reject_too_large,
    )
    app.add_middleware(ObservabilityMiddleware, metrics=metrics, log_requests=settings.log_requests)
    return app


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> Response:
        return surface_for(app, request.url.path).render(exc, request)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        surface = surface_for(app, request.url.path)
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
        return surface_for(app, request.url.path).render(err, request)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error", exc_info=exc)
        err = ApiError(500, "server_error", "The server had an error while processing your request.")
        err.type = "api_error"
        return surface_for(app, request.url.path).render(err, request)


def _mount_slices(app: FastAPI, ctx: AppContext) -> None:
    from threadline import events, insights, media, operator, publishing, serving
    from threadline.advertiser.routes import router as advertiser_router
    from threadline.billing.providers import make_provider

    ctx.services["payments"] = make_provider(ctx.settings, ctx.db, ctx.clock)

    def install(slice_: ModuleType) -> None:
        importlib.import_module(f"{slice_.__name__}.routes").install(app, ctx)

    # Requests are matched against routes in order, so the high-volume surfaces come first.
    install(events)
    app.include_router(advertiser_router)
    install(serving)  # its latency target is server-side time, which routing does not enter
    for slice_ in (media, insights, operator, publishing):
        install(slice_)


def _install_jobs(app: FastAPI, ctx: AppContext) -> None:
    """Every slice's job handlers; the in-server worker runs for the app's lifespan unless disabled."""
    from threadline.background import make_worker, register_job_handlers

    register_job_handlers(ctx)
    if not ctx.settings.jobs_worker_enabled:
        return
    worker = make_worker(ctx)
    ctx.services["job_worker"] = worker
    previous = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(application: FastAPI) -> AsyncIterator[Any]:
        # Inside the slices' lifespans: handlers may use their services, so it starts last, stops first.
        async with previous(application) as state:
            await anyio.to_thread.run_sync(worker.start)
            try:
                yield state
            finally:
                await anyio.to_thread.run_sync(worker.stop)

    app.router.lifespan_context = lifespan


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


def _settle_heap_after_startup(app: FastAPI) -> None:
    previous = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(application: FastAPI) -> AsyncIterator[Any]:
        async with previous(application) as state:
            settle_heap()
            yield state

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


def app_factory() -> FastAPI:
    """Entry point for `uvicorn --factory threadline.app:app_factory` (settings from the environment)."""
    return create_app()
