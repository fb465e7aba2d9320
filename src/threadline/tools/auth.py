"""The tool surfaces' (REST and MCP) credential: the Authenticator's ``tool`` resolver with the tool 401."""

from __future__ import annotations

from threadline.auth.authenticator import ToolPrincipal
from threadline.context import AppContext
from threadline.kit.errors import ApiError
from threadline.surfaces import TOOLS
from threadline.tools.envelope import not_authenticated

__all__ = ["ToolPrincipal", "resolve_plain_key", "resolve_tool_key"]


async def resolve_tool_key(ctx: AppContext, authorization: str | None) -> ToolPrincipal:
    """The org a ``Bearer sk_live_...`` header speaks for, or the tool surface's 401."""
    assert TOOLS.credential is not None
    try:
        principal = await ctx.authenticator.authenticate(TOOLS.credential, authorization)
    except ApiError:
        raise not_authenticated() from None
    if not isinstance(principal, ToolPrincipal):
        raise not_authenticated()
    return principal


async def resolve_plain_key(ctx: AppContext, token: str) -> ToolPrincipal:
    principal = await ctx.authenticator.principal("tool", token)
    if not isinstance(principal, ToolPrincipal):
        raise not_authenticated()
    return principal
