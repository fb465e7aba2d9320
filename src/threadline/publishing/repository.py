"""Queries of the publishing slice."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Select, func, or_, select, update
from sqlalchemy.orm import Session

from threadline.publishing.auth import ThreadsPrincipal
from threadline.store.models import (
    Org,
    ThreadsContainer,
    ThreadsPost,
    ThreadsProfile,
    ThreadsQuotaEvent,
    ThreadsToken,
)

QUOTA_WINDOW = 86400


def token_principal(s: Session, token_hash: str) -> ThreadsPrincipal | None:
    """Who the access token with this SHA-256 speaks for (expired or not); None if unknown, revoked or
    its org is deleted. The Authenticator's ``threads`` resolver is the caller."""
    row = s.execute(
        select(ThreadsToken, ThreadsProfile.username, Org.deleted_at, ThreadsProfile.org_id)
        .join(ThreadsProfile, ThreadsProfile.id == ThreadsToken.profile_id)
        .join(Org, Org.id == ThreadsProfile.org_id)
        .where(ThreadsToken.token_hash == token_hash)
    ).first()
    if row is None:
        return None
    token, username, org_deleted_at, org_id = row
    if token.revoked_at is not None or org_deleted_at is not None:
        return None
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


def lock_profile(s: Session, profile_id: int) -> ThreadsProfile | None:
    """The profile row, locked until commit (PostgreSQL; SQLite writers are serialised already).

    Every publish and delete of a profile takes this lock first, so quota checks and the one-post-per-
    container rule see each other's commits.
    """
    return s.execute(select(ThreadsProfile).where(ThreadsProfile.id == profile_id).with_for_update()).scalar()


def quota_used(s: Session, profile_id: int, bucket: str, now: int) -> int:
    return int(
        s.execute(
            select(func.count())
            .select_from(ThreadsQuotaEvent)
            .where(
                ThreadsQuotaEvent.profile_id == profile_id,
                ThreadsQuotaEvent.bucket == bucket,
                ThreadsQuotaEvent.at > now - QUOTA_WINDOW,
            )
        ).scalar_one()
    )


def count_quota(s: Session, profile_id: int, bucket: str, now: int) -> None:
    s.add(ThreadsQuotaEvent(profile_id=profile_id, bucket=bucket, at=now))


def containers(s: Session, ids: Iterable[int]) -> dict[int, ThreadsContainer]:
    wanted = list(ids)
    if not wanted:
        return {}
    rows = s.execute(select(ThreadsContainer).where(ThreadsContainer.id.in_(wanted))).scalars()
    return {c.id: c for c in rows}


def claim_children(s: Session, child_ids: list[int], carousel_id: int) -> int:
    """Mark items as used by one carousel; the count claimed (fewer: another carousel was first)."""
    result = s.execute(
        update(ThreadsContainer)
        .where(ThreadsContainer.id.in_(child_ids), ThreadsContainer.carousel_id.is_(None))
        .values(carousel_id=carousel_id)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def live_post(s: Session, post_id: int) -> ThreadsPost | None:
    post = s.get(ThreadsPost, post_id)
    return post if post is not None and post.deleted_at is None else None


def own_posts(s: Session, profile_id: int, post_ids: Iterable[int]) -> dict[int, ThreadsPost]:
    """The live posts of ``profile_id`` among ``post_ids`` (carousel items included), by id."""
    wanted = list(post_ids)
    if not wanted:
        return {}
    rows = s.execute(
        select(ThreadsPost).where(
            ThreadsPost.id.in_(wanted),
            ThreadsPost.profile_id == profile_id,
            ThreadsPost.deleted_at.is_(None),
        )
    ).scalars()
    return {p.id: p for p in rows}


def profiles(s: Session, profile_ids: Iterable[int]) -> dict[int, ThreadsProfile]:
    wanted = set(profile_ids)
    if not wanted:
        return {}
    rows = s.execute(select(ThreadsProfile).where(ThreadsProfile.id.in_(wanted))).scalars()
    return {p.id: p for p in rows}


def profile_posts(profile_id: int, *, since: int | None, until: int | None, now: int) -> Select[ThreadsPost]:
    """A profile's listed posts: top level, live, not an expired ghost (the expiry job archives them;
    the time test covers the moments before it runs)."""
    q = select(ThreadsPost).where(
        ThreadsPost.profile_id == profile_id,
        ThreadsPost.deleted_at.is_(None),
        ThreadsPost.reply_to_id.is_(None),
        ThreadsPost.parent_id.is_(None),
        ThreadsPost.ghost_archived_at.is_(None),
        or_(ThreadsPost.ghost_expires_at.is_(None), ThreadsPost.ghost_expires_at > now),
    )
    if since is not None:
        q = q.where(ThreadsPost.created_at >= since)
    if until is not None:
        q = q.where(ThreadsPost.created_at <= until)
    return q


def usernames(s: Session, profile_ids: Iterable[int]) -> dict[int, str]:
    wanted = set(profile_ids)
    if not wanted:
        return {}
    rows = s.execute(select(ThreadsProfile.id, ThreadsProfile.username).where(ThreadsProfile.id.in_(wanted)))
    return dict(rows.tuples().all())


def post_by_shortcode(s: Session, username: str, shortcode: str) -> tuple[ThreadsPost, ThreadsProfile] | None:
    row = s.execute(
        select(ThreadsPost, ThreadsProfile)
        .join(ThreadsProfile, ThreadsProfile.id == ThreadsPost.profile_id)
        .where(
            ThreadsPost.shortcode == shortcode,
            ThreadsProfile.username == username,
            ThreadsPost.deleted_at.is_(None),
        )
    ).first()
    return (row[0], row[1]) if row is not None else None


def child_posts(s: Session, parent_id: int) -> list[ThreadsPost]:
    return list(
        s.execute(
            select(ThreadsPost).where(ThreadsPost.parent_id == parent_id).order_by(ThreadsPost.id)
        ).scalars()
    )
