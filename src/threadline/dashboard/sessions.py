"""Server-side sessions: the cookie holds a random token, the store its SHA-256, the person and the CSRF token.

A session ends after ``dashboard_session_idle_seconds`` without a request or ``dashboard_session_max_seconds``
after sign-in, whichever comes first, on sign-out, and for every session of a person whose password changes.
"""

from __future__ import annotations

import secrets

from sqlalchemy import delete, select, update

from threadline.auth.authenticator import SESSION_PREFIX, DashboardPrincipal
from threadline.context import AppContext
from threadline.kit.secrets import hash_key
from threadline.store.models import DashboardSession, Person

# last_seen_at is written at most this often: a page view is a read, not a write, most of the time.
TOUCH_EVERY_SECONDS = 60


def create_session(ctx: AppContext, person_id: str) -> str:
    """A new session for the person; the plain token (for the cookie) is returned once."""
    plain = SESSION_PREFIX + secrets.token_urlsafe(32)
    now = ctx.clock.now_s()
    with ctx.db.write() as s:
        # Expired sessions of this person are cleared on the way (nothing else needs to sweep them).
        s.execute(
            delete(DashboardSession).where(
                DashboardSession.person_id == person_id,
                (DashboardSession.expires_at <= now)
                | (DashboardSession.last_seen_at <= now - ctx.settings.dashboard_session_idle_seconds),
            )
        )
        s.add(
            DashboardSession(
                token_hash=hash_key(plain),
                person_id=person_id,
                csrf_token=secrets.token_urlsafe(32),
                created_at=now,
                last_seen_at=now,
                expires_at=now + ctx.settings.dashboard_session_max_seconds,
            )
        )
    return plain


def lookup_session(ctx: AppContext, token: str) -> DashboardPrincipal | None:
    """The principal of a live session, sliding its idle window; None when unknown or expired."""
    digest = hash_key(token)
    now = ctx.clock.now_s()
    with ctx.db.read() as s:
        row = s.execute(
            select(DashboardSession, Person)
            .join(Person, Person.id == DashboardSession.person_id)
            .where(DashboardSession.token_hash == digest)
        ).first()
    if row is None:
        return None
    session, person = row
    idle_limit = ctx.settings.dashboard_session_idle_seconds
    if session.expires_at <= now or session.last_seen_at + idle_limit <= now:
        end_session(ctx, digest)
        return None
    if now - session.last_seen_at >= TOUCH_EVERY_SECONDS:
        with ctx.db.write() as s:
            s.execute(
                update(DashboardSession).where(DashboardSession.token_hash == digest).values(last_seen_at=now)
            )
    return DashboardPrincipal(
        person_id=person.id,
        email=person.email,
        role=person.role,
        org_id=person.org_id,
        session_hash=digest,
        csrf_token=session.csrf_token,
    )


def end_session(ctx: AppContext, session_hash: str) -> None:
    with ctx.db.write() as s:
        s.execute(delete(DashboardSession).where(DashboardSession.token_hash == session_hash))
