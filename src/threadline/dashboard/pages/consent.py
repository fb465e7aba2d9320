"""The Threads OAuth consent screen: GET/POST /oauth/authorize (also under /v1.0/).

The signed-in person sees the app's name and the scopes asked for, picks one of the org's profiles, and
is sent back to the app's redirect_uri with ``code`` and ``state`` (or Meta's denial parameters). Until
the client_id and redirect_uri are known to match (exactly) a registered app, nothing redirects: an
error page is shown, so the screen can never send a person to an address the app did not register.
Codes are minted by publishing.accounts.create_code (single use, 10 minutes) and exchanged at
POST /oauth/access_token.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from threadline.auth.authenticator import DashboardPrincipal
from threadline.context import AppContext
from threadline.dashboard import threads
from threadline.dashboard.web import call, ctx_of, page, posted, signed_in, text
from threadline.kit.errors import ApiError
from threadline.publishing import accounts
from threadline.publishing.auth import BASIC, SCOPES
from threadline.publishing.schemas import CodeCreate
from threadline.surfaces import DASHBOARD, THREADS

router = APIRouter(include_in_schema=False)
PATHS = (DASHBOARD.prefixes[1], THREADS.prefixes[0] + DASHBOARD.prefixes[1].lstrip("/"))
SCOPE_TEXT = {
    "threads_basic": "Read your profile and posts",
    "threads_content_publish": "Publish posts for you",
    "threads_manage_replies": "Manage replies to your posts",
    "threads_read_replies": "Read replies to your posts",
    "threads_delete": "Delete your posts",
    "threads_manage_insights": "Read insights of your posts",
}


class ConsentProblem(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _app(ctx: AppContext, client_id: str, redirect_uri: str) -> tuple[str, str]:
    """(app id, app name) when client_id names a registered app and redirect_uri is one of its own."""
    try:
        app = accounts.get_app(ctx, client_id[:19])
    except ApiError:
        raise ConsentProblem("This app is not registered (unknown client_id).") from None
    if redirect_uri not in app.redirect_uris:
        raise ConsentProblem("The redirect_uri does not exactly match one registered for this app.")
    return app.client_id, app.name


def _back(redirect_uri: str, params: dict[str, str], fragment: str = "") -> RedirectResponse:
    joiner = "&" if "?" in redirect_uri else "?"
    return RedirectResponse(redirect_uri + joiner + urlencode(params) + fragment, status_code=303)


def _denied(redirect_uri: str, state: str) -> RedirectResponse:
    params = {
        "error": "access_denied",
        "error_reason": "user_denied",
        "error_description": "Permissions error",
    }
    if state:
        params["state"] = state
    return _back(redirect_uri, params, "#_")


def _scopes(raw: str) -> list[str] | None:
    asked = [s.strip() for s in raw.replace(" ", ",").split(",") if s.strip()] or [BASIC]
    if any(s not in SCOPES for s in asked):
        return None
    return list(dict.fromkeys([BASIC, *asked]))


def _problem_page(request: Request, principal: DashboardPrincipal | None, message: str) -> Response:
    return page(request, "consent_error.html", principal, status=400, message=message)


async def _check(request: Request, values: dict[str, str]) -> tuple[str, str, list[str]] | Response:
    ctx = ctx_of(request)
    try:
        app_id, app_name = await call(_app, ctx, values["client_id"], values["redirect_uri"])
    except ConsentProblem as problem:
        return _problem_page(request, None, problem.message)
    if values["response_type"] != "code":
        params = {"error": "unsupported_response_type", "error_description": "response_type must be code"}
        return _back(
            values["redirect_uri"], {**params, **({"state": values["state"]} if values["state"] else {})}
        )
    scopes = _scopes(values["scope"])
    if scopes is None:
        params = {"error": "invalid_scope", "error_description": "Unknown scope requested"}
        return _back(
            values["redirect_uri"], {**params, **({"state": values["state"]} if values["state"] else {})}
        )
    return app_id, app_name, scopes


def _values(source: Any) -> dict[str, str]:
    return {
        k: (source.get(k) if isinstance(source.get(k), str) else "")[:2048]
        for k in ("client_id", "redirect_uri", "scope", "response_type", "state")
    }


async def authorize(request: Request) -> Response:
    values = _values(request.query_params)
    checked = await _check(request, values)
    if isinstance(checked, Response):
        return checked
    _, app_name, scopes = checked
    try:
        principal = await signed_in(request)
    except ApiError:
        target = request.url.path + "?" + request.url.query
        return RedirectResponse(
            f"{DASHBOARD.prefixes[0]}/signin?next={quote(target, safe='')}", status_code=303
        )
    if principal.org_id is None:
        return _problem_page(
            request, principal, "Operators have no Threads profiles; sign in as an org member."
        )
    profiles = await call(threads.profiles, ctx_of(request), principal.org_id)
    return page(
        request,
        "consent.html",
        principal,
        app_name=app_name,
        scopes=[(s, SCOPE_TEXT.get(s, s)) for s in scopes],
        profiles=profiles,
        values=values,
        action=request.url.path,
    )


async def decide(request: Request) -> Response:
    principal = await signed_in(request)
    form = await posted(request, principal)
    values = _values(form)
    checked = await _check(request, values)
    if isinstance(checked, Response):
        return checked
    app_id, _, scopes = checked
    if text(form, "decision") != "allow":
        return _denied(values["redirect_uri"], values["state"])
    ctx = ctx_of(request)
    profile_id = text(form, "profile_id", 19)
    if principal.org_id is None:
        return _problem_page(request, principal, "Operators have no Threads profiles.")
    await call(threads.principal_for, ctx, principal.org_id, profile_id)  # the org's own profile, or 404
    body = CodeCreate.model_validate(
        {"profile_id": profile_id, "scopes": scopes, "redirect_uri": values["redirect_uri"]}
    )
    code = await call(accounts.create_code, ctx, app_id, body)
    params = {"code": code.code}
    if values["state"]:
        params["state"] = values["state"]
    return _back(values["redirect_uri"], params, "#_")


for _path in PATHS:
    router.add_api_route(_path, authorize, methods=["GET"], name=f"oauth_authorize_{_path.count('/')}")
    router.add_api_route(_path, decide, methods=["POST"], name=f"oauth_decide_{_path.count('/')}")
