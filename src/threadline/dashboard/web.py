"""What every dashboard route does: find the signed-in person, check CSRF, render a page."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from threadline.auth.authenticator import DashboardPrincipal
from threadline.context import AppContext
from threadline.dashboard import csrf
from threadline.dashboard.templating import env, render_html
from threadline.kit.errors import ApiError, not_found, validation_to_api_error

T = TypeVar("T")


def ctx_of(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


async def signed_in(request: Request) -> DashboardPrincipal:
    """The person behind the session cookie, or the surface's 401 (a redirect to sign-in)."""
    from threadline.surfaces import DASHBOARD

    credential = DASHBOARD.credential
    assert credential is not None
    assert credential.cookie is not None
    principal = await ctx_of(request).authenticator.authenticate(
        credential, request.cookies.get(credential.cookie)
    )
    assert isinstance(principal, DashboardPrincipal)
    request.state.principal = principal
    return principal


async def advertiser(request: Request) -> tuple[DashboardPrincipal, str]:
    """A person of an org and that org's id; operators use the operator pages (404 here)."""
    principal = await signed_in(request)
    if principal.org_id is None:
        raise not_found("page")
    return principal, principal.org_id


async def operator(request: Request) -> DashboardPrincipal:
    principal = await signed_in(request)
    if not principal.is_operator:
        raise not_found("page")  # an advertiser learns nothing about the operator pages
    return principal


async def posted(request: Request, principal: DashboardPrincipal) -> FormData:
    """The form of a state-changing request, after its CSRF token is checked."""
    form = await request.form(max_files=4, max_fields=200)
    value = form.get(csrf.FIELD)
    csrf.check(principal, request, value if isinstance(value, str) else None)
    return form


def text(form: FormData, name: str, max_chars: int = 10_000) -> str:
    value = form.get(name)
    return value.strip()[:max_chars] if isinstance(value, str) else ""


def page(
    request: Request, template: str, principal: DashboardPrincipal | None, status: int = 200, **values: Any
) -> HTMLResponse:
    nav = request.url.path
    return render_html(
        template,
        status=status,
        principal=principal,
        csrf=principal.csrf_token if principal is not None else "",
        path=nav,
        **values,
    )


def redirect(path: str, **query: str) -> RedirectResponse:
    """303 to a dashboard path ("/campaigns" → /app/campaigns), with an optional notice."""
    from urllib.parse import urlencode

    url = f"{env().globals['base']}{path}"
    if query:
        url += "?" + urlencode(query)
    return RedirectResponse(url, status_code=303)


async def call(fn: Callable[..., T], *args: Any) -> T:
    """A service function (they block on the store) from the event loop."""
    return await run_in_threadpool(fn, *args)


def problem(err: Exception) -> str:
    """The message a form shows for a service's ApiError or a schema's ValidationError (the API's text)."""
    if isinstance(err, ValidationError):
        return validation_to_api_error(err.errors()).message
    return err.message if isinstance(err, ApiError) else str(err)


def field_errors(err: ApiError, known: dict[str, str]) -> dict[str, str]:
    """The API's message placed next to the form field its ``param`` names (else at the top: "")."""
    param = err.param or ""
    for prefix, field in known.items():
        if param == prefix or param.startswith((prefix + ".", prefix + "[")):
            return {field: err.message}
    return {"": err.message}
