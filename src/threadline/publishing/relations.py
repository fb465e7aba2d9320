"""Queries between posts and profiles: replies and conversations, follows, quotes, reposts, votes, views.

Every conversation read is one indexed query (``root_id`` or ``reply_to_id`` with the time-ordered id as
keyset), so reading a 1,000-reply tree costs the same number of queries as reading a 2-reply one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Select, delete, func, select
from sqlalchemy.orm import Session

from threadline.store.dialect import insert_for
from threadline.store.models import ThreadsFollow, ThreadsPageView, ThreadsPollVote, ThreadsPost


def live() -> Select[ThreadsPost]:
    """Posts that are readable: not deleted, not an expired ghost."""
    return select(ThreadsPost).where(
        ThreadsPost.deleted_at.is_(None), ThreadsPost.ghost_archived_at.is_(None)
    )


@dataclass(frozen=True)
class Page:
    """Keyset paging over the time-ordered id: ``after``/``before`` are ids from a previous page."""

    limit: int
    newest_first: bool
    after: int | None = None
    before: int | None = None


def paged(s: Session, q: Select[ThreadsPost], page: Page) -> list[ThreadsPost]:
    """Up to ``page.limit`` rows in the page's order (the caller asks one more to learn if more exist)."""
    forward_desc = page.newest_first
    if page.before is not None:
        # Walking back: the rows just before the cursor in display order, fetched the other way round.
        cond = ThreadsPost.id > page.before if forward_desc else ThreadsPost.id < page.before
        order = ThreadsPost.id.asc() if forward_desc else ThreadsPost.id.desc()
        rows = list(s.execute(q.where(cond).order_by(order).limit(page.limit)).scalars())
        rows.reverse()
        return rows
    if page.after is not None:
        q = q.where(ThreadsPost.id < page.after if forward_desc else ThreadsPost.id > page.after)
    order = ThreadsPost.id.desc() if forward_desc else ThreadsPost.id.asc()
    return list(s.execute(q.order_by(order).limit(page.limit)).scalars())


def direct_replies(post_id: int) -> Select[ThreadsPost]:
    return live().where(ThreadsPost.reply_to_id == post_id)


def conversation(root_id: int) -> Select[ThreadsPost]:
    return live().where(ThreadsPost.root_id == root_id)


def profile_replies(profile_id: int) -> Select[ThreadsPost]:
    return live().where(ThreadsPost.profile_id == profile_id, ThreadsPost.reply_to_id.is_not(None))


def conversation_ids(s: Session, root_id: int) -> list[tuple[int, int]]:
    """(id, reply_to_id) of every live reply under a root: the tree, without loading the rows."""
    rows = s.execute(
        select(ThreadsPost.id, ThreadsPost.reply_to_id).where(
            ThreadsPost.root_id == root_id,
            ThreadsPost.deleted_at.is_(None),
            ThreadsPost.ghost_archived_at.is_(None),
        )
    ).all()
    return [(int(i), int(r)) for i, r in rows if r is not None]


def count_by(s: Session, column: str, ids: list[int]) -> dict[int, int]:
    """Live posts whose ``column`` (reply_to_id, root_id, quote_post_id, repost_of_id) is one of ``ids``."""
    if not ids:
        return {}
    col = getattr(ThreadsPost, column)
    rows = s.execute(
        select(col, func.count())
        .where(col.in_(ids), ThreadsPost.deleted_at.is_(None), ThreadsPost.ghost_archived_at.is_(None))
        .group_by(col)
    ).all()
    return {int(k): int(n) for k, n in rows}


def posts_by_id(s: Session, ids: Iterable[int]) -> dict[int, ThreadsPost]:
    wanted = list(set(ids))
    if not wanted:
        return {}
    rows = s.execute(live().where(ThreadsPost.id.in_(wanted))).scalars()
    return {p.id: p for p in rows}


def reposts_of(s: Session, post_id: int) -> list[ThreadsPost]:
    return list(s.execute(live().where(ThreadsPost.repost_of_id == post_id)).scalars())


def repost_by(s: Session, profile_id: int, original_id: int) -> ThreadsPost | None:
    return s.execute(
        live().where(ThreadsPost.profile_id == profile_id, ThreadsPost.repost_of_id == original_id)
    ).scalar()


# --------------------------------------------------------------------------------------------- follows


def follow_row(s: Session, follower_id: int, followed_id: int) -> ThreadsFollow | None:
    return s.get(ThreadsFollow, (follower_id, followed_id))


def follows(s: Session, follower_id: int, followed_id: int) -> bool:
    return follow_row(s, follower_id, followed_id) is not None


def add_follow(s: Session, follower_id: int, followed_id: int, now: int) -> None:
    ins = insert_for(s, ThreadsFollow.__table__)
    s.execute(
        ins.values(follower_id=follower_id, followed_id=followed_id, created_at=now).on_conflict_do_nothing(
            index_elements=["follower_id", "followed_id"]
        )
    )


def remove_follow(s: Session, follower_id: int, followed_id: int) -> bool:
    result = s.execute(
        delete(ThreadsFollow).where(
            ThreadsFollow.follower_id == follower_id, ThreadsFollow.followed_id == followed_id
        )
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def followers_count(s: Session, profile_id: int) -> int:
    return int(
        s.execute(
            select(func.count()).select_from(ThreadsFollow).where(ThreadsFollow.followed_id == profile_id)
        ).scalar_one()
    )


def follow_rows(s: Session, follower_id: int) -> list[ThreadsFollow]:
    return list(
        s.execute(
            select(ThreadsFollow)
            .where(ThreadsFollow.follower_id == follower_id)
            .order_by(ThreadsFollow.created_at, ThreadsFollow.followed_id)
        ).scalars()
    )


# ---------------------------------------------------------------------------------------- votes, views


def add_vote(s: Session, post_id: int, visitor_id: str, option: str, now: int) -> bool:
    """True when this visitor's vote was recorded; False when the visitor had already voted."""
    ins = insert_for(s, ThreadsPollVote.__table__)
    inserted = s.execute(
        ins.values(post_id=post_id, visitor_id=visitor_id, option=option, created_at=now)
        .on_conflict_do_nothing(index_elements=["post_id", "visitor_id"])
        .returning(ThreadsPollVote.post_id)
    ).first()
    return inserted is not None


def vote_of(s: Session, post_id: int, visitor_id: str) -> str | None:
    vote = s.get(ThreadsPollVote, (post_id, visitor_id))
    return vote.option if vote is not None else None


def vote_counts(s: Session, post_ids: list[int]) -> dict[int, dict[str, int]]:
    if not post_ids:
        return {}
    rows = s.execute(
        select(ThreadsPollVote.post_id, ThreadsPollVote.option, func.count())
        .where(ThreadsPollVote.post_id.in_(post_ids))
        .group_by(ThreadsPollVote.post_id, ThreadsPollVote.option)
    ).all()
    out: dict[int, dict[str, int]] = {}
    for post_id, option, n in rows:
        out.setdefault(int(post_id), {})[str(option)] = int(n)
    return out


def add_view(s: Session, post_id: int, profile_id: int, visitor_id: str, hour: int) -> None:
    ins = insert_for(s, ThreadsPageView.__table__)
    s.execute(
        ins.values(
            post_id=post_id, visitor_id=visitor_id, hour=hour, profile_id=profile_id
        ).on_conflict_do_nothing(index_elements=["post_id", "visitor_id", "hour"])
    )


def post_views(s: Session, post_id: int) -> int:
    return int(
        s.execute(
            select(func.count()).select_from(ThreadsPageView).where(ThreadsPageView.post_id == post_id)
        ).scalar_one()
    )


def profile_views_by_hour(s: Session, profile_id: int, start_hour: int, end_hour: int) -> dict[int, int]:
    """Views of a profile's posts per hour in [start_hour, end_hour) (hours as Unix seconds)."""
    rows = s.execute(
        select(ThreadsPageView.hour, func.count())
        .where(
            ThreadsPageView.profile_id == profile_id,
            ThreadsPageView.hour >= start_hour,
            ThreadsPageView.hour < end_hour,
        )
        .group_by(ThreadsPageView.hour)
    ).all()
    return {int(h): int(n) for h, n in rows}


def profile_counts(s: Session, profile_id: int, column: str, since: int, until: int) -> int:
    """Live posts made in [since, until] whose ``column`` names a post of ``profile_id``."""
    col = getattr(ThreadsPost, column)
    target = select(ThreadsPost.id).where(ThreadsPost.profile_id == profile_id).scalar_subquery()
    return int(
        s.execute(
            select(func.count())
            .select_from(ThreadsPost)
            .where(
                col.in_(target),
                ThreadsPost.deleted_at.is_(None),
                ThreadsPost.created_at >= since,
                ThreadsPost.created_at <= until,
            )
        ).scalar_one()
    )
