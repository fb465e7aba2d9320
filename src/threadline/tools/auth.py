"""All credential resolution of the tool surfaces (REST and MCP) in one place.

When the shared authenticator lands this becomes its ``sk_live_`` entry.
"""

from __future__ import annotations

from dataclasses import dataclass

from threadline.auth.keys import MAX_TOKEN_LENGTH, resolve_key
from threadline.context import AppContext
from threadline.tools.envelope import not_authenticated


@dataclass(frozen=True)
class ToolPrincipal:
    org_id: str
    key_id: str
    label: str


async def resolve_tool_key(ctx: AppContext, authorization: str | None) -> ToolPrincipal:
    """The org a ``Bearer sk_live_...`` header speaks for, or the tool surface's 401."""
    if authorization is None:
        raise not_authenticated()
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > MAX_TOKEN_LENGTH:
        raise not_authenticated()
    return await resolve_plain_key(ctx, token)


async def resolve_plain_key(ctx: AppContext, token: str) -> ToolPrincipal:
    principal = await resolve_key(ctx.db, ctx.keys, ctx.clock, token, "tool")
    if principal is None or principal.org_id is None:
        raise not_authenticated()
    return ToolPrincipal(principal.org_id, principal.key_id, principal.label)
