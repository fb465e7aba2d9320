"""Admin authentication for /admin/v1, checked before the body or path is even parsed."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from threadline.app_deps import get_ctx
from threadline.auth.keys import bearer_token, invalid_api_key
from threadline.context import AppContext
from threadline.operator.admin_token import check_admin_token

# Declared for the OpenAPI document; AdminRoute does the real check first.
bearer = HTTPBearer(auto_error=False, description="Operator token: `Bearer <admin token>`")


def _documented_bearer(_creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> None:
    return None


def authorize(ctx: AppContext, authorization: str | None) -> None:
    """Raise the advertiser-shaped 401 unless ``authorization`` carries the admin token."""
    if not check_admin_token(ctx, bearer_token(authorization)):
        raise invalid_api_key()


class AdminRoute(APIRoute):
    """Authenticates before FastAPI reads the body, so an anonymous caller learns nothing from a 400."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def authorized(request: Request) -> Response:
            # The check may read the stored token hash, so it must not block the event loop.
            await run_in_threadpool(authorize, request.app.state.ctx, request.headers.get("authorization"))
            return await handler(request)

        return authorized


AdminAuth = Depends(_documented_bearer)
Ctx = Annotated[AppContext, Depends(get_ctx)]
