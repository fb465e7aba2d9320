"""All credential resolution of the Graph surface: a Threads access token into a ThreadsPrincipal.

One function (``resolve_token``) so that it can move into the shared authenticator unchanged.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import select

from threadline.context import AppContext
from threadline.kit.secrets import hash_key
from threadline.publishing.errors import expired_token, invalid_token, no_permission
from threadline.store.models import Org, ThreadsProfile, ThreadsToken

TOKEN_PREFIX = "TH"
MAX_TOKEN_LENGTH = 512
BASIC = "threads_basic"
PUBLISH = "threads_content_publish"
MANAGE_REPLIES = "threads_manage_replies"
READ_REPLIES = "threads_read_replies"
DELETE = "threads_delete"
INSIGHTS = "threads_manage_insights"
SCOPES = (BASIC, PUBLISH, MANAGE_REPLIES, READ_REPLIES, DELETE, INSIGHTS)


@dataclass(frozen=True)
class ThreadsPrincipal:
    """Who a valid Threads access token speaks for."""

    token_id: int
    profile_id: int
    org_id: str
    username: str
    scopes: frozenset[str]
    app_id: int | None
    lifetime: str
    created_at: int
    expires_at: int

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
    """The principal for a presented token; code 190 (463 when expired) otherwise."""
    if not presented or not presented.startswith(TOKEN_PREFIX) or len(presented) > MAX_TOKEN_LENGTH:
        raise invalid_token()
    with ctx.db.read() as s:
        row = s.execute(
            select(ThreadsToken, ThreadsProfile.username, Org.deleted_at, ThreadsProfile.org_id)
            .join(ThreadsProfile, ThreadsProfile.id == ThreadsToken.profile_id)
            .join(Org, Org.id == ThreadsProfile.org_id)
            .where(ThreadsToken.token_hash == hash_key(presented))
        ).first()
    if row is None:
        raise invalid_token()
    token, username, org_deleted_at, org_id = row
    if token.revoked_at is not None or org_deleted_at is not None:
        raise invalid_token()
    if ctx.clock.now() >= token.expires_at:
        raise expired_token(_iso(token.expires_at))
    return ThreadsPrincipal(
        token_id=token.id,
        profile_id=token.profile_id,
        org_id=org_id,
        username=username,
        scopes=frozenset(token.scopes),
        app_id=token.app_id,
        lifetime=token.lifetime,
        created_at=token.created_at,
        expires_at=token.expires_at,
    )
