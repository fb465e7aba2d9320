"""Minting, rotating, revoking and checking keys. Only SHA-256 hashes are stored."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import anyio.to_thread
from sqlalchemy import ColumnElement, select, update
from sqlalchemy.orm import Session

from threadline.kit.clock import Clock
from threadline.kit.errors import ApiError
from threadline.kit.ids import new_id
from threadline.kit.secrets import generate_key, hash_key
from threadline.kit.single_flight import SingleFlight
from threadline.store.db import Database
from threadline.store.models import ApiKey, Org

PREFIX_BY_KIND = {"advertiser": "ak", "event": "ek", "publisher": "pk", "tool": "sk_live"}


@dataclass(frozen=True)
class KeyPrincipal:
    """Who a valid key speaks for."""

    key_id: str
    kind: str
    org_id: str | None
    publisher_id: str | None
    label: str
    expires_at: int | None
    scopes: frozenset[str] = frozenset()  # keys carry none today; tool keys will


def mint_key(
    session: Session,
    clock: Clock,
    *,
    kind: str,
    org_id: str | None = None,
    publisher_id: str | None = None,
    label: str = "",
) -> tuple[ApiKey, str]:
    """Create a key row; returns it and the plain secret (shown once)."""
    plain = generate_key(PREFIX_BY_KIND[kind])
    row = ApiKey(
        id=new_id(),
        kind=kind,
        key_hash=hash_key(plain),
        org_id=org_id,
        publisher_id=publisher_id,
        label=label,
        created_at=clock.now_s(),
    )
    session.add(row)
    return row, plain


def _owned_by(org_id: str | None, publisher_id: str | None) -> ColumnElement[bool]:
    """Keys belong to an org (advertiser, event, tool) or to a publisher, never both."""
    if (org_id is None) == (publisher_id is None):
        raise ValueError("name exactly one owner: org_id or publisher_id")
    return ApiKey.org_id == org_id if org_id is not None else ApiKey.publisher_id == publisher_id


def expire_live_keys(
    session: Session, *, kind: str, org_id: str | None = None, publisher_id: str | None = None, at: int
) -> None:
    """Give every live key of this kind an expiry of ``at`` (rotation grace window)."""
    session.execute(
        update(ApiKey)
        .where(
            ApiKey.kind == kind,
            _owned_by(org_id, publisher_id),
            ApiKey.revoked_at.is_(None),
            (ApiKey.expires_at.is_(None)) | (ApiKey.expires_at > at),
        )
        .values(expires_at=at)
    )


def live_keys(
    session: Session,
    *,
    kind: str,
    org_id: str | None = None,
    publisher_id: str | None = None,
    now: int | None = None,
) -> list[ApiKey]:
    """The owner's unrevoked keys of this kind, oldest first; with ``now``, only those still answering (a
    rotated key past its grace window is left out)."""
    stmt = select(ApiKey).where(
        _owned_by(org_id, publisher_id), ApiKey.kind == kind, ApiKey.revoked_at.is_(None)
    )
    if now is not None:
        stmt = stmt.where((ApiKey.expires_at.is_(None)) | (ApiKey.expires_at > now))
    return list(session.execute(stmt.order_by(ApiKey.created_at)).scalars())


def revoke_keys(
    session: Session,
    *,
    kind: str,
    org_id: str | None = None,
    publisher_id: str | None = None,
    at: int,
    key_id: str | None = None,
) -> int:
    stmt = update(ApiKey).where(
        ApiKey.kind == kind, _owned_by(org_id, publisher_id), ApiKey.revoked_at.is_(None)
    )
    if key_id is not None:
        stmt = stmt.where(ApiKey.id == key_id)
    return int(session.execute(stmt.values(revoked_at=at)).rowcount)  # type: ignore[attr-defined]


def rotate_keys(
    session: Session,
    clock: Clock,
    *,
    kind: str,
    org_id: str | None = None,
    publisher_id: str | None = None,
    grace_seconds: int,
) -> tuple[str, int]:
    """A new key for the owner; its previous live keys keep answering until the grace window ends.
    Returns the plain secret (shown once) and that end."""
    expires_at = clock.now_s() + grace_seconds
    expire_live_keys(session, kind=kind, org_id=org_id, publisher_id=publisher_id, at=expires_at)
    _, plain = mint_key(session, clock, kind=kind, org_id=org_id, publisher_id=publisher_id, label="rotated")
    return plain, expires_at


def lookup(session: Session, plain: str) -> tuple[ApiKey, Org | None] | None:
    row = session.execute(
        select(ApiKey, Org).outerjoin(Org, Org.id == ApiKey.org_id).where(ApiKey.key_hash == hash_key(plain))
    ).first()
    if row is None:
        return None
    return row[0], row[1]


class KeyCache:
    """A short-lived cache of hash -> principal, so the hot path does not query per request.

    Every credential kind shares it (keys, Threads access tokens): hashes of different kinds never
    collide because their prefixes differ, and one ``clear()`` after a revocation or an org deletion
    covers them all. Revocation in this process clears it at once; other processes see it within
    ``ttl`` seconds.
    """

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[float, object]] = {}
        self.loads: SingleFlight[object] = SingleFlight()

    def get(self, key_hash: str, now_mono: float) -> tuple[bool, object]:
        entry = self._entries.get(key_hash)
        if entry is None or entry[0] < now_mono:
            return False, None
        return True, entry[1]

    def put(self, key_hash: str, principal: object, now_mono: float) -> None:
        with self._lock:
            if len(self._entries) > 50_000:
                self._entries.clear()
            self._entries[key_hash] = (now_mono + self.ttl, principal)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def authenticate(
    db: Database, cache: KeyCache, clock: Clock, plain: str, kind: str, digest: str | None = None
) -> KeyPrincipal | None:
    """The principal for a presented key of ``kind``, or None if unknown, revoked, expired or orphaned."""
    digest = digest or hash_key(plain)
    mono = clock.monotonic()
    hit, cached = cache.get(digest, mono)
    if hit:
        return _usable(cached, kind, clock)
    return _usable(_load(db, cache, clock, plain, digest, mono), kind, clock)


def _load(db: Database, cache: KeyCache, clock: Clock, plain: str, digest: str, mono: float) -> object:
    """Query the key, cache what was found (a principal, or None for unknown/unusable), return it."""
    principal = None
    with db.read() as session:
        found = lookup(session, plain)
    if found is not None:
        key, org = found
        orphaned = key.org_id is not None and (org is None or org.deleted_at is not None)
        if key.revoked_at is None and not orphaned:
            principal = KeyPrincipal(
                key_id=key.id,
                kind=key.kind,
                org_id=key.org_id,
                publisher_id=key.publisher_id,
                label=key.label,
                expires_at=key.expires_at,
            )
    cache.put(digest, principal, mono)
    return principal


def _usable(principal: object, kind: str, clock: Clock) -> KeyPrincipal | None:
    """The cached or loaded principal if it is a live key of ``kind``."""
    if not isinstance(principal, KeyPrincipal) or principal.kind != kind:
        return None
    if principal.expires_at is not None and clock.now() >= principal.expires_at:
        return None
    return principal


MAX_TOKEN_LENGTH = 200


def bearer_token(authorization: str | None) -> str:
    """The token of an ``Authorization: Bearer <token>`` header, or the two uniform 401s."""
    if authorization is None:
        raise ApiError(401, "auth_required", "Authentication credentials were not provided.")
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > MAX_TOKEN_LENGTH:
        raise invalid_api_key()
    return token


def invalid_api_key() -> ApiError:
    return ApiError(401, "invalid_api_key", "Invalid API key.")


async def resolve_key(
    db: Database, cache: KeyCache, clock: Clock, token: str, kind: str
) -> KeyPrincipal | None:
    """:func:`authenticate` for async callers: a cache hit never leaves the event loop."""
    if not token.startswith(PREFIX_BY_KIND[kind] + "_") or len(token) > MAX_TOKEN_LENGTH:
        return None
    digest = hash_key(token)
    mono = clock.monotonic()
    hit, cached = cache.get(digest, mono)
    if hit:  # the hot path: no thread hop, no second cache read
        return _usable(cached, kind, clock)
    principal = await cache.loads.run(
        digest, lambda: anyio.to_thread.run_sync(_load, db, cache, clock, token, digest, mono)
    )
    return _usable(principal, kind, clock)
