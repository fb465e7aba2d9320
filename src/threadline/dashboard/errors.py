"""The dashboard surface's error renderer: an HTML page, or the sign-in page for a missing session."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from threadline.kit.errors import ApiError


def render_dashboard_error(err: ApiError, request: Request) -> Response:
    from threadline.dashboard.templating import env, render_html

    if err.status == 401:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        signin = f"{env().globals['base']}/signin?next={quote(target, safe='')}"
        if request.headers.get("hx-request"):
            return Response(status_code=401, headers={"HX-Redirect": signin})
        return RedirectResponse(signin, status_code=303)
    return render_html(
        "error.html",
        status=err.status,
        headers=err.headers,
        status_code=err.status,
        message=err.message,
        principal=getattr(request.state, "principal", None),
        csrf="",
    )
