"""Mounts the dashboard: its pages, the consent screen, and its vendored static files."""

from __future__ import annotations

from functools import cache
from importlib import resources

from fastapi import APIRouter, FastAPI
from fastapi.responses import RedirectResponse, Response

from threadline.context import AppContext
from threadline.dashboard.pages import account, campaigns, consent, content, new_campaign, operator, settings
from threadline.kit.errors import not_found
from threadline.routing import mount
from threadline.surfaces import DASHBOARD

BASE = DASHBOARD.prefixes[0]
static_router = APIRouter(include_in_schema=False)
CONTENT_TYPES = {".js": "text/javascript", ".css": "text/css", ".txt": "text/plain; charset=utf-8"}


@cache
def _static(name: str) -> bytes | None:
    folder = resources.files("threadline.dashboard") / "static"
    entry = folder / name
    if "/" in name or name.startswith(".") or not entry.is_file():
        return None
    return entry.read_bytes()


@static_router.get(BASE + "/static/{name}")
def static(name: str) -> Response:
    body = _static(name[:100])
    if body is None:
        raise not_found("file")
    suffix = name[name.rfind(".") :]
    return Response(
        body,
        media_type=CONTENT_TYPES.get(suffix, "application/octet-stream"),
        headers={"Cache-Control": "public, max-age=3600"},
    )


root_router = APIRouter(include_in_schema=False)


@root_router.get(BASE)
def app_root() -> Response:
    return RedirectResponse(BASE + "/", status_code=307)


def install(app: FastAPI, ctx: AppContext) -> None:
    # Before publishing's routes: /v1.0/oauth/authorize would otherwise match GET /v1.0/{node}.
    mount(
        app,
        consent.router,
        static_router,
        root_router,
        account.router,
        new_campaign.router,
        campaigns.router,
        content.router,
        settings.router,
        operator.router,
    )
