"""Admin authentication for /admin/v1, checked before the body or path is even parsed."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from threadline.app_deps import get_ctx
from threadline.context import AppContext
from threadline.gate import authenticate

# Declared for the OpenAPI document; AdminRoute does the real check first.
bearer = HTTPBearer(auto_error=False, description="Operator token: `Bearer <admin token>`")


def _documented_bearer(_creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> None:
    return None


class AdminRoute(APIRoute):
    """Authenticates before FastAPI reads the body, so an anonymous caller learns nothing from a 400."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def authorized(request: Request) -> Response:
            request.state.principal = await authenticate(request)  # the operator surface's credential
            return await handler(request)

        return authorized


AdminAuth = Depends(_documented_bearer)
Ctx = Annotated[AppContext, Depends(get_ctx)]
