"""CSRF: every state-changing request carries its session's token (form field or htmx header).

Before sign-in there is no session, so the sign-in form uses a double-submit token: a random cookie and
the same value in the form.
"""

from __future__ import annotations

import secrets

from fastapi import Request

from threadline.auth.authenticator import DashboardPrincipal
from threadline.kit.errors import ApiError
from threadline.kit.secrets import constant_time_equal

FIELD = "csrf_token"
HEADER = "x-csrf-token"
PRESESSION_COOKIE = "tl_presession"


def csrf_refused() -> ApiError:
    return ApiError(403, "csrf_failed", "This form has expired. Reload the page and try again.")


def check(principal: DashboardPrincipal, request: Request, form_value: str | None) -> None:
    sent = request.headers.get(HEADER) or form_value or ""
    if not sent or not constant_time_equal(sent, principal.csrf_token):
        raise csrf_refused()


def new_presession_token() -> str:
    return secrets.token_urlsafe(24)


def check_presession(request: Request, form_value: str | None) -> None:
    cookie = request.cookies.get(PRESESSION_COOKIE) or ""
    if not cookie or not form_value or not constant_time_equal(cookie, form_value):
        raise csrf_refused()
