"""Request dependencies for routes behind an advertiser key (the gate has already authenticated it).

Here rather than in the advertiser slice because routes of other slices (media's /v1/upload, insights)
sit on the same surface and must not import the advertiser slice for it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from threadline.auth.keys import KeyPrincipal
from threadline.kit.errors import ApiError

# Declared for the OpenAPI document only; AdvertiserGate does the real check before routing.
bearer = HTTPBearer(auto_error=False, description="Advertiser API key: `Bearer ak_...`")


def principal_org_id(request: Request) -> str:
    """The org of the key AdvertiserGate authenticated for this request."""
    principal: KeyPrincipal | None = getattr(request.state, "principal", None)
    if principal is None or principal.org_id is None:
        raise ApiError(401, "invalid_api_key", "Invalid API key.")
    return principal.org_id


async def current_principal(
    request: Request, _creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> KeyPrincipal:
    principal_org_id(request)
    principal: KeyPrincipal = request.state.principal
    return principal


async def current_org_id(principal: Annotated[KeyPrincipal, Depends(current_principal)]) -> str:
    assert principal.org_id is not None
    return principal.org_id


OrgId = Annotated[str, Depends(current_org_id)]
