"""One authenticator for every credential kind: a header in, a typed principal out (or the 401).

Each credential kind has a resolver; a surface's declaration (kit/surface.py ``Credential``) names the
kind it accepts, so a key of another kind is refused on that surface exactly like an unknown key.
To add a kind (Threads access tokens, ``sk_live_`` tool keys, dashboard sessions): write a resolver
with ``kind``, ``claims`` and ``resolve`` and register it in :func:`build_authenticator`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

import anyio.to_thread

from threadline.auth.keys import MAX_TOKEN_LENGTH, PREFIX_BY_KIND, KeyCache, KeyPrincipal, resolve_key
from threadline.kit.clock import Clock
from threadline.kit.errors import ApiError
from threadline.kit.surface import Credential
from threadline.store.db import Database


@dataclass(frozen=True)
class OperatorPrincipal:
    """The server's operator (the admin token)."""

    kind: str = "operator"
    scopes: frozenset[str] = frozenset()


@dataclass(frozen=True)
class DashboardPrincipal:
    """A person signed in to the dashboard (a live server-side session)."""

    person_id: str
    email: str
    role: str  # owner | member | operator
    org_id: str | None  # None for operators
    session_hash: str
    csrf_token: str
    kind: str = "dashboard"
    scopes: frozenset[str] = frozenset()

    @property
    def is_operator(self) -> bool:
        return self.role == "operator"


# Every principal a surface can hand its routes. Add new principal types to this union.
Principal = KeyPrincipal | OperatorPrincipal | DashboardPrincipal


class Resolver(Protocol):
    kind: str

    def claims(self, token: str) -> bool:
        """Cheap syntactic check (a prefix): tokens this kind can never be are refused without a lookup."""
        ...

    async def resolve(self, token: str) -> Principal | None: ...


class KeyResolver:
    """ak_ / ek_ / pk_ keys: SHA-256 lookup behind the short in-memory cache (auth/keys.py)."""

    def __init__(self, kind: str, db: Database, cache: KeyCache, clock: Clock) -> None:
        self.kind = kind
        self._prefix = PREFIX_BY_KIND[kind] + "_"
        self._db = db
        self._cache = cache
        self._clock = clock

    def claims(self, token: str) -> bool:
        return token.startswith(self._prefix)

    async def resolve(self, token: str) -> Principal | None:
        principal = await resolve_key(self._db, self._cache, self._clock, token, self.kind)
        if principal is None:
            return None
        # A key that lost its owner (org or publisher) speaks for no one.
        owner = principal.publisher_id if self.kind == "publisher" else principal.org_id
        return principal if owner is not None else None


class OperatorTokenResolver:
    """The admin token (THREADLINE_ADMIN_TOKEN, or the generated one stored hashed)."""

    kind = "operator"

    def __init__(self, check: Callable[[str], bool]) -> None:
        self._check = check

    def claims(self, token: str) -> bool:
        return True  # an operator-chosen token has no fixed prefix

    async def resolve(self, token: str) -> Principal | None:
        # The check may read the stored token hash, so it must not block the event loop.
        ok = await anyio.to_thread.run_sync(self._check, token)
        return OperatorPrincipal() if ok else None


SESSION_PREFIX = "tls_"


class SessionResolver:
    """Dashboard session cookies. The lookup (dashboard/sessions.py) checks idle and absolute expiry."""

    kind = "dashboard"

    def __init__(self, lookup: Callable[[str], DashboardPrincipal | None]) -> None:
        self._lookup = lookup

    def claims(self, token: str) -> bool:
        return token.startswith(SESSION_PREFIX) and len(token) <= MAX_TOKEN_LENGTH

    async def resolve(self, token: str) -> Principal | None:
        return await anyio.to_thread.run_sync(self._lookup, token)


def auth_required() -> ApiError:
    return ApiError(401, "auth_required", "Authentication credentials were not provided.")


def invalid_credential(credential: Credential) -> ApiError:
    return ApiError(401, "invalid_api_key", credential.invalid_message)


class Authenticator:
    def __init__(self, resolvers: Iterable[Resolver] = ()) -> None:
        self._resolvers: dict[str, Resolver] = {}
        for resolver in resolvers:
            self.register(resolver)

    def register(self, resolver: Resolver) -> None:
        if resolver.kind in self._resolvers:
            raise ValueError(f"a resolver for {resolver.kind!r} credentials is already registered")
        self._resolvers[resolver.kind] = resolver

    def token(self, credential: Credential, value: str | None) -> str:
        """The token in the header value, or the surface's 401."""
        if not credential.bearer:
            if not value:
                raise invalid_credential(credential)
            return value
        if value is None:
            raise auth_required()
        scheme, _, token = value.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token or len(token) > MAX_TOKEN_LENGTH:
            raise invalid_credential(credential)
        return token

    async def authenticate(self, credential: Credential, value: str | None) -> Principal:
        """The principal for the header ``value`` of a request to a surface accepting ``credential``."""
        token = self.token(credential, value)
        resolver = self._resolvers[credential.kind]
        principal = await resolver.resolve(token) if resolver.claims(token) else None
        if principal is None or not credential.scopes <= principal.scopes:
            raise invalid_credential(credential)
        return principal


def build_authenticator(
    db: Database,
    cache: KeyCache,
    clock: Clock,
    check_operator: Callable[[str], bool],
    lookup_session: Callable[[str], DashboardPrincipal | None] | None = None,
) -> Authenticator:
    return Authenticator(
        [
            KeyResolver("advertiser", db, cache, clock),
            KeyResolver("event", db, cache, clock),
            KeyResolver("publisher", db, cache, clock),
            KeyResolver("tool", db, cache, clock),
            OperatorTokenResolver(check_operator),
            *([SessionResolver(lookup_session)] if lookup_session is not None else []),
        ]
    )
