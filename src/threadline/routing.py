"""Routing by surface first: a request is matched only against its own surface's routes.

FastAPI's ``include_router`` keeps each included router as a lazy wrapper that is re-checked on every
request, and Starlette tests routes in order, so every surface would pay for every other surface's
routes (and ``redirect_slashes`` scans the whole table again on a miss). Instead routes are added flat
(:func:`mount`) and :func:`install_dispatcher` replaces the app router's matching loop with one that
takes the surface the gate found for the path and walks that surface's routes only. The app keeps one
route list, so /openapi.json, the exception handlers and the lifespan work as before.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterable
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response
from fastapi.routing import APIRoute
from starlette.datastructures import URL
from starlette.responses import RedirectResponse
from starlette.routing import BaseRoute, Match
from starlette.types import Receive, Scope, Send

from threadline.gate import SURFACE_KEY
from threadline.kit.surface import Surface, SurfaceTable


class RawRoute(APIRoute):
    """A hot endpoint ``async def f(request) -> Response``: FastAPI's per-request dependency solving is
    skipped (there is nothing to solve), while OpenAPI still documents the route as declared."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        endpoint: Callable[[Request], Coroutine[Any, Any, Response]] = self.endpoint
        return endpoint


def mount(app: FastAPI, *routers: APIRouter) -> None:
    """Add the routers' routes to the app without FastAPI's per-router wrapper."""
    for router in routers:
        for route in router.routes:
            if not hasattr(route, "path"):  # an include_router() wrapper: register routes directly
                raise TypeError(f"mount() takes routers with routes of their own, not {type(route).__name__}")
            app.router.routes.append(route)


def _literal_prefix(path: str) -> str:
    end = path.find("{")
    return path if end < 0 else path[:end]


def route_tables(routes: Iterable[BaseRoute], table: SurfaceTable) -> dict[Surface, list[BaseRoute]]:
    """Each route under the surface its path belongs to (order kept: it is the match order)."""
    prefixes = [(p, s) for s in table.surfaces for p in s.prefixes]
    tables: dict[Surface, list[BaseRoute]] = {s: [] for s in table.all()}
    for route in routes:
        path = str(getattr(route, "path", ""))
        literal = _literal_prefix(path)
        surface = table.lookup(literal)
        for prefix, other in prefixes:
            # A parameter before the end of another surface's prefix could match that surface's paths.
            if other is not surface and prefix.startswith(literal) and prefix != literal:
                raise ValueError(f"route {path} would also match surface {other.name} ({prefix})")
        tables[surface].append(route)
    return tables


def install_dispatcher(app: FastAPI, table: SurfaceTable) -> None:
    """Replace the router's route loop; call after every route is added."""
    router = app.router
    router.redirect_slashes = False
    tables = route_tables(router.routes, table)

    async def dispatch(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await router.lifespan(scope, receive, send)
            return
        if "router" not in scope:
            scope["router"] = router
        surface: Surface = scope.get(SURFACE_KEY) or table.lookup(scope["path"])
        routes = tables[surface]
        partial = None
        for route in routes:
            match, child_scope = route.matches(scope)
            if match is Match.FULL:
                scope.update(child_scope)
                await route.handle(scope, receive, send)
                return
            if match is Match.PARTIAL and partial is None:
                partial = (route, child_scope)
        if partial is not None:
            scope.update(partial[1])
            await partial[0].handle(scope, receive, send)
            return
        redirect = surface.redirect_slashes and scope["type"] == "http" and scope["path"] != "/"
        if redirect and await _redirect_slash(routes, scope, receive, send):
            return
        await router.default(scope, receive, send)

    # Router.__call__ runs middleware_stack, which is the route loop when the router has no middleware.
    router.middleware_stack = dispatch


async def _redirect_slash(routes: list[BaseRoute], scope: Scope, receive: Receive, send: Send) -> bool:
    """Starlette's redirect_slashes, limited to the surface's own routes (only reached on a miss)."""
    other = dict(scope)
    path: str = scope["path"]
    other["path"] = path.rstrip("/") if path.endswith("/") else path + "/"
    for route in routes:
        match, _ = route.matches(other)
        if match is not Match.NONE:
            await RedirectResponse(url=str(URL(scope=other)))(scope, receive, send)
            return True
    return False
