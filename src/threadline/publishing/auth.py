"""The Graph surface's credential: the Threads access token's principal, scopes and Graph refusals.

The lookup itself is a resolver of the one Authenticator (auth/authenticator.py: ThreadsTokenResolver,
querying publishing/repository.token_principal); :func:`resolve_token` turns its answer into Graph's
errors (190, 463 when expired).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from threadline.auth.authenticator import (
    THREADS_MAX_TOKEN_LENGTH,
    THREADS_TOKEN_PREFIX,
    ThreadsTokenPrincipal,
)
from threadline.publishing.errors import expired_token, invalid_token, no_permission

if TYPE_CHECKING:
    from threadline.context import AppContext

TOKEN_PREFIX = THREADS_TOKEN_PREFIX
MAX_TOKEN_LENGTH = THREADS_MAX_TOKEN_LENGTH
BASIC = "threads_basic"
PUBLISH = "threads_content_publish"
MANAGE_REPLIES = "threads_manage_replies"
READ_REPLIES = "threads_read_replies"
DELETE = "threads_delete"
INSIGHTS = "threads_manage_insights"
SCOPES = (BASIC, PUBLISH, MANAGE_REPLIES, READ_REPLIES, DELETE, INSIGHTS)


@dataclass(frozen=True)
class ThreadsPrincipal(ThreadsTokenPrincipal):
    """Who a valid Threads access token speaks for, with the Graph's scope check."""

    def require(self, *scopes: str) -> None:
        """Code 10 unless the token carries threads_basic and every scope named."""
        if BASIC not in self.scopes or any(s not in self.scopes for s in scopes):
            raise no_permission()


def presented_token(access_token: str | None, authorization: str | None) -> str | None:
    """The token from the ``access_token`` parameter, else from ``Authorization: Bearer``."""
    if access_token:
        return access_token
    if authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() in ("bearer", "oauth") and token.strip():
            return token.strip()
    return None


def _iso(ts: int) -> str:
    return time.strftime("%A, %d-%b-%y %H:%M:%S UTC", time.gmtime(ts))


def resolve_token(ctx: AppContext, presented: str | None) -> ThreadsPrincipal:
    """The principal for a presented token; code 190 (463 when expired) otherwise.

    The lookup is the Authenticator's ``threads`` resolver (hash lookup behind the shared key cache).
    Graph routes run in a worker thread, so this is synchronous.
    """
    principal = ctx.authenticator.lookup("threads", presented) if presented else None
    if not isinstance(principal, ThreadsPrincipal):
        raise invalid_token()
    if ctx.clock.now() >= principal.expires_at:
        raise expired_token(_iso(principal.expires_at))
    return principal
