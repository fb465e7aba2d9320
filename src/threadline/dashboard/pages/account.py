"""Sign in, sign out, accept an invitation, change the password."""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from threadline.dashboard import csrf, people, sessions, throttle
from threadline.dashboard.web import call, ctx_of, page, posted, redirect, signed_in, text
from threadline.kit.errors import ApiError
from threadline.surfaces import DASHBOARD

router = APIRouter(prefix=DASHBOARD.prefixes[0].rstrip("/"), include_in_schema=False)
COOKIE: str = (DASHBOARD.credential.cookie if DASHBOARD.credential else None) or "tl_session"
SIGNIN_FAILED = "That email and password do not match an account."


def _safe_next(value: str) -> str:
    """Only a path on this site (no scheme, no host, no //evil): an open redirect is refused."""
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return ""
    return value


def _secure(request: Request) -> bool:
    return ctx_of(request).settings.public_base_url.startswith("https://")


def _signin_page(request: Request, status: int = 200, error: str = "", email: str = "") -> Response:
    token = csrf.new_presession_token()
    response = page(
        request,
        "signin.html",
        None,
        status=status,
        error=error,
        email=email,
        presession=token,
        next=_safe_next(request.query_params.get("next", "")),
    )
    response.set_cookie(
        csrf.PRESESSION_COOKIE, token, httponly=True, samesite="lax", secure=_secure(request), max_age=3600
    )
    return response


@router.get("/signin")
async def signin_form(request: Request) -> Response:
    return _signin_page(request)


@router.post("/signin")
async def signin(request: Request) -> Response:
    ctx = ctx_of(request)
    form = await request.form(max_files=0, max_fields=20)
    token = form.get(csrf.FIELD)
    csrf.check_presession(request, token if isinstance(token, str) else None)
    email = text(form, "email", 254)
    password = form.get("password")
    password = password[:256] if isinstance(password, str) else ""
    address = request.client.host if request.client else "unknown"
    try:
        throttle.count_attempt(ctx, email, address)
    except ApiError as err:
        return _signin_page(request, 429, err.message, email)
    person = await call(people.check_signin, ctx, email, password)
    if person is None:
        return _signin_page(request, 400, SIGNIN_FAILED, email)
    plain = await call(sessions.create_session, ctx, person.id)
    target = _safe_next(text(form, "next", 2048)) or (
        DASHBOARD.prefixes[0] + ("/ops/" if person.role == "operator" else "/")
    )
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(COOKIE, plain, httponly=True, samesite="lax", secure=_secure(request), path="/")
    response.delete_cookie(csrf.PRESESSION_COOKIE)
    return response


@router.post("/signout")
async def signout(request: Request) -> Response:
    principal = await signed_in(request)
    await posted(request, principal)
    await call(sessions.end_session, ctx_of(request), principal.session_hash)
    response = redirect("/signin")
    response.delete_cookie(COOKIE, path="/")
    return response


@router.get("/invite/{token}")
async def invitation_form(request: Request, token: str) -> Response:
    found = await call(people.pending_invitation, ctx_of(request), token)
    if found is None:
        raise ApiError(404, "invitation_not_found", "This invitation link was used already or has expired.")
    response = page(
        request, "invite.html", None, invitation=found, token=token, presession=_presession(request), error=""
    )
    return _with_presession(request, response)


def _presession(request: Request) -> str:
    token = request.cookies.get(csrf.PRESESSION_COOKIE) or csrf.new_presession_token()
    request.state.presession = token
    return token


def _with_presession(request: Request, response: Response) -> Response:
    response.set_cookie(
        csrf.PRESESSION_COOKIE,
        request.state.presession,
        httponly=True,
        samesite="lax",
        secure=_secure(request),
        max_age=3600,
    )
    return response


@router.post("/invite/{token}")
async def accept_invitation(request: Request, token: str) -> Response:
    ctx = ctx_of(request)
    form = await request.form(max_files=0, max_fields=20)
    value = form.get(csrf.FIELD)
    csrf.check_presession(request, value if isinstance(value, str) else None)
    found = await call(people.pending_invitation, ctx, token)
    if found is None:
        raise ApiError(404, "invitation_not_found", "This invitation link was used already or has expired.")
    password = form.get("password")
    try:
        await call(people.accept_invitation, ctx, token, password if isinstance(password, str) else "")
    except ApiError as err:
        response = page(
            request,
            "invite.html",
            None,
            status=err.status,
            invitation=found,
            token=token,
            presession=_presession(request),
            error=err.message,
        )
        return _with_presession(request, response)
    return redirect("/signin", notice="Your password is set. Sign in.")


@router.get("/account")
async def account(request: Request) -> Response:
    principal = await signed_in(request)
    return page(request, "account.html", principal, errors={}, notice=request.query_params.get("notice", ""))


@router.post("/account/password")
async def change_password(request: Request) -> Response:
    principal = await signed_in(request)
    form = await posted(request, principal)
    try:
        await call(
            people.change_password,
            ctx_of(request),
            principal.person_id,
            text(form, "current_password", 256),
            text(form, "new_password", 256),
        )
    except ApiError as err:
        field = "current_password" if err.param == "current_password" else "new_password"
        return page(
            request, "account.html", principal, status=err.status, errors={field: err.message}, notice=""
        )
    # Every session ended, this one too: sign in again with the new password.
    response = redirect("/signin", notice="Password changed. Sign in again.")
    response.delete_cookie(COOKIE, path="/")
    return response
