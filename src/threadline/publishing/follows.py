"""Follows between profiles (operator API and CLI): what reply_control's follow rules read."""

from __future__ import annotations

from threadline.context import AppContext
from threadline.kit.errors import invalid, not_found
from threadline.publishing import relations as rel
from threadline.publishing.accounts import profile_row
from threadline.publishing.schemas import FollowList, FollowOut
from threadline.store.models import ThreadsFollow


def follow(ctx: AppContext, follower: str, followed: str) -> FollowOut:
    """``follower`` follows ``followed`` (idempotent: following again keeps the first time)."""
    now = ctx.clock.now_s()
    with ctx.db.write() as s:
        a = profile_row(s, follower)
        b = profile_row(s, followed)
        if a.id == b.id:
            raise invalid("A profile cannot follow itself.", "profile_id")
        rel.add_follow(s, a.id, b.id, now)
        row = rel.follow_row(s, a.id, b.id)
        return _out(row)


def _out(row: ThreadsFollow | None) -> FollowOut:
    assert row is not None  # written in this transaction
    return FollowOut(
        follower_id=str(row.follower_id), followed_id=str(row.followed_id), created_at=row.created_at
    )


def unfollow(ctx: AppContext, follower: str, followed: str) -> None:
    with ctx.db.write() as s:
        a = profile_row(s, follower)
        b = profile_row(s, followed)
        if not rel.remove_follow(s, a.id, b.id):
            raise not_found("follow")


def following(ctx: AppContext, follower: str) -> FollowList:
    with ctx.db.read() as s:
        a = profile_row(s, follower)
        rows = rel.follow_rows(s, a.id)
    return FollowList(data=[_out(r) for r in rows])
