"""Permalink-page visitors: a signed visitor cookie, the vote token bound to it, views and poll votes.

Signed with ``kit.secrets.sign`` like serving's tracking tokens: a forged or altered cookie or token
reads as absent. A visitor is whoever holds the cookie, so one browser votes once and counts one view per
post and hour; clearing cookies makes a new visitor (documented in docs/publishing.md).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from threadline.context import AppContext
from threadline.kit.errors import ApiError
from threadline.kit.secrets import sign, unsign
from threadline.publishing import fields as F
from threadline.publishing import relations as rel
from threadline.publishing import repository as repo

COOKIE = "tl_visitor"
COOKIE_MAX_AGE = 365 * 86400
_VISITOR = "visitor"
_VOTE = "vote"
MAX_TOKEN = 512


@dataclass(frozen=True)
class Visitor:
    id: str
    cookie: str
    is_new: bool


def visitor(ctx: AppContext, cookie: str | None) -> Visitor:
    """The visitor of a genuine cookie, else a new one (whose cookie the response sets)."""
    found = read_visitor(ctx, cookie)
    if found is not None and cookie is not None:
        return Visitor(found, cookie, False)
    new_id = secrets.token_hex(16)
    return Visitor(new_id, sign(ctx.secret_key, f"{_VISITOR}|{new_id}".encode()), True)


def read_visitor(ctx: AppContext, cookie: str | None) -> str | None:
    return _claim(ctx, cookie, _VISITOR)


def vote_token(ctx: AppContext, post_id: int, visitor_id: str) -> str:
    return sign(ctx.secret_key, f"{_VOTE}|{post_id}:{visitor_id}".encode())


def _claim(ctx: AppContext, token: str | None, kind: str) -> str | None:
    if not token or len(token) > MAX_TOKEN:
        return None
    payload = unsign(ctx.secret_key, token)
    if payload is None:
        return None
    try:
        got_kind, value = payload.decode().split("|", 1)
    except (UnicodeDecodeError, ValueError):
        return None
    return value if got_kind == kind and value else None


def record_view(ctx: AppContext, post_id: int, profile_id: int, visitor_id: str) -> None:
    """One view per visitor, post and hour (the primary key drops repeats)."""
    hour = ctx.clock.now_s() // 3600 * 3600
    with ctx.db.write() as s:
        rel.add_view(s, post_id, profile_id, visitor_id, hour)


def vote(
    ctx: AppContext, username: str, code: str, cookie: str | None, token: str | None, option: str | None
) -> None:
    """Record a visitor's vote on a post's poll.

    400 for a missing or forged cookie or token (or a token of another post or visitor), 400 for an
    option the poll does not have, 409 for a second vote, 410 once the poll has closed (24 h).
    """
    visitor_id = read_visitor(ctx, cookie)
    bound = _claim(ctx, token, _VOTE)
    with ctx.db.write() as s:
        found = repo.post_by_shortcode(s, username[:30], code[:16]) if len(username) <= 30 else None
        if found is None:
            raise ApiError(404, "not_found", "This post does not exist.")
        post = found[0]
        poll = post.attrs.get("poll_attachment")
        if not poll:
            raise ApiError(404, "not_found", "This post has no poll.")
        if visitor_id is None or bound != f"{post.id}:{visitor_id}":
            raise ApiError(400, "invalid_token", "The vote token is missing, forged or not yours.", "token")
        if option is None or option not in poll:
            raise ApiError(400, "invalid_option", "option is not one of this poll's options.", "option")
        now = ctx.clock.now_s()
        if now >= post.created_at + F.POLL_SECONDS:
            raise ApiError(410, "poll_closed", "Voting on this poll has closed.")
        if not rel.add_vote(s, post.id, visitor_id, option, now):
            raise ApiError(409, "duplicate_vote", "You have already voted on this poll.")
