"""One authenticator for every credential kind: a header in, a typed principal out (or the 401).

Each credential kind has a resolver; a surface's declaration (kit/surface.py ``Credential``) names the
kind it accepts, so a key of another kind is refused on that surface exactly like an unknown key.
Kinds today: ak_/ek_/pk_ keys, ``sk_live_`` tool keys, Threads access tokens, the operator token.
To add a kind (dashboard sessions): write a resolver with ``kind``, ``claims``, ``lookup`` and
``resolve``, add its principal type to :data:`Principal` and register it in :func:`build_authenticator`.

Surfaces whose refusals are not the OpenAI 401 (Graph's code 190/463, the tool envelope) call
:meth:`Authenticator.lookup` / :meth:`Authenticator.principal` and raise their own error on None.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

import anyio.to_thread
from sqlalchemy.orm import Session

from threadline.auth.keys import (
    MAX_TOKEN_LENGTH,
    PREFIX_BY_KIND,
    KeyCache,
    KeyPrincipal,
    authenticate,
    resolve_key,
)
from threadline.kit.clock import Clock
from threadline.kit.errors import ApiError
from threadline.kit.secrets import hash_key
from threadline.kit.surface import Credential
from threadline.store.db import Database

THREADS_TOKEN_PREFIX = "TH"
THREADS_MAX_TOKEN_LENGTH = 512


@dataclass(frozen=True)
class OperatorPrincipal:
    """The server's operator (the admin token)."""

    kind: str = "operator"
    scopes: frozenset[str] = frozenset()


@dataclass(frozen=True)
class ToolPrincipal:
    """The org an ``sk_live_`` tool key speaks for (tool REST surface and MCP)."""

    org_id: str
    key_id: str
    label: str
    kind: str = "tool"
    scopes: frozenset[str] = frozenset()


@dataclass(frozen=True)
class ThreadsTokenPrincipal:
    """Who a Threads access token speaks for. publishing/auth.py's ThreadsPrincipal extends it with the
    Graph's scope check; the publishing slice owns the token table and builds these."""

    token_id: int
    profile_id: int
    org_id: str
    username: str
    scopes: frozenset[str]
    app_id: int | None
    lifetime: str
    created_at: int
    expires_at: int
    kind = "threads"


# The owner's query: the principal of the token with this SHA-256 (expired or not), or None.
ThreadsTokenLookup = Callable[[Session, str], ThreadsTokenPrincipal | None]


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
Principal = KeyPrincipal | ToolPrincipal | ThreadsTokenPrincipal | OperatorPrincipal | DashboardPrincipal


class Resolver(Protocol):
    kind: str

    def claims(self, token: str) -> bool:
        """Cheap syntactic check (a prefix): tokens this kind can never be are refused without a lookup."""
        ...

    def lookup(self, token: str) -> Principal | None:
        """Blocking resolution (may query the store): for callers already off the event loop."""
        ...

    async def resolve(self, token: str) -> Principal | None:
        """Event-loop resolution: a cache hit never leaves the loop."""
        ...


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

    def lookup(self, token: str) -> Principal | None:
        if not self.claims(token) or len(token) > MAX_TOKEN_LENGTH:
            return None
        return self._owned(authenticate(self._db, self._cache, self._clock, token, self.kind))

    async def resolve(self, token: str) -> Principal | None:
        return self._owned(await resolve_key(self._db, self._cache, self._clock, token, self.kind))

    def _owned(self, principal: KeyPrincipal | None) -> Principal | None:
        if principal is None:
            return None
        # A key that lost its owner (org or publisher) speaks for no one.
        owner = principal.publisher_id if self.kind == "publisher" else principal.org_id
        return principal if owner is not None else None


class ToolKeyResolver(KeyResolver):
    """``sk_live_`` keys: an api_keys row like the others, handed to the tools as a ToolPrincipal."""

    def __init__(self, db: Database, cache: KeyCache, clock: Clock) -> None:
        super().__init__("tool", db, cache, clock)

    def _owned(self, principal: KeyPrincipal | None) -> Principal | None:
        if principal is None or principal.org_id is None:
            return None
        return ToolPrincipal(principal.org_id, principal.key_id, principal.label)


class ThreadsTokenResolver:
    """Threads access tokens (``TH...``): SHA-256 lookup (``lookup_token``: the publishing slice's query,
    it owns the table) behind the shared key cache, so a Graph call does not query the token per request.

    ``lookup`` hands back an expired token's principal too: the Graph tells an expired token (463) from an
    unknown one (190), so publishing/auth.py checks ``expires_at``; ``resolve`` refuses it.
    """

    kind = "threads"

    def __init__(self, db: Database, cache: KeyCache, clock: Clock, lookup_token: ThreadsTokenLookup) -> None:
        self._db = db
        self._cache = cache
        self._clock = clock
        self._lookup_token = lookup_token

    def claims(self, token: str) -> bool:
        return token.startswith(THREADS_TOKEN_PREFIX) and len(token) <= THREADS_MAX_TOKEN_LENGTH

    def _cached(self, digest: str) -> tuple[bool, ThreadsTokenPrincipal | None]:
        hit, cached = self._cache.get(digest, self._clock.monotonic())
        return hit, cached if isinstance(cached, ThreadsTokenPrincipal) else None

    def _load(self, digest: str) -> ThreadsTokenPrincipal | None:
        mono = self._clock.monotonic()
        with self._db.read() as session:
            principal = self._lookup_token(session, digest)
        self._cache.put(digest, principal, mono)
        return principal

    def lookup(self, token: str) -> Principal | None:
        if not self.claims(token):
            return None
        digest = hash_key(token)
        hit, principal = self._cached(digest)
        return principal if hit else self._load(digest)

    async def resolve(self, token: str) -> Principal | None:
        if not self.claims(token):
            return None
        digest = hash_key(token)
        hit, principal = self._cached(digest)
        if not hit:
            principal = await anyio.to_thread.run_sync(self._load, digest)
        if principal is None or self._clock.now() >= principal.expires_at:
            return None
        return principal


class OperatorTokenResolver:
    """The admin token (THREADLINE_ADMIN_TOKEN, or the generated one stored hashed)."""

    kind = "operator"

    def __init__(self, check: Callable[[str], bool]) -> None:
        self._check = check

    def claims(self, token: str) -> bool:
        return True  # an operator-chosen token has no fixed prefix

    def lookup(self, token: str) -> Principal | None:
        return OperatorPrincipal() if self._check(token) else None

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

    def lookup(self, token: str) -> Principal | None:
        return self._lookup(token) if self.claims(token) else None

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

    def lookup(self, kind: str, token: str) -> Principal | None:
        """The principal of a bare ``token`` of ``kind`` (blocking; None when refused)."""
        resolver = self._resolvers[kind]
        return resolver.lookup(token) if resolver.claims(token) else None

    async def principal(self, kind: str, token: str) -> Principal | None:
        """:meth:`lookup` for the event loop."""
        resolver = self._resolvers[kind]
        return await resolver.resolve(token) if resolver.claims(token) else None

    async def authenticate(self, credential: Credential, value: str | None) -> Principal:
        """The principal for the header ``value`` of a request to a surface accepting ``credential``."""
        token = self.token(credential, value)
        principal = await self.principal(credential.kind, token)
        if principal is None or not credential.scopes <= principal.scopes:
            raise invalid_credential(credential)
        return principal


def build_authenticator(
    db: Database,
    cache: KeyCache,
    clock: Clock,
    check_operator: Callable[[str], bool],
    threads_tokens: ThreadsTokenLookup,
    lookup_session: Callable[[str], DashboardPrincipal | None] | None = None,
) -> Authenticator:
    """Every resolver. Queries of tables another slice owns come in as that slice's named function."""
    return Authenticator(
        [
            KeyResolver("advertiser", db, cache, clock),
            KeyResolver("event", db, cache, clock),
            KeyResolver("publisher", db, cache, clock),
            ToolKeyResolver(db, cache, clock),
            ThreadsTokenResolver(db, cache, clock, threads_tokens),
            OperatorTokenResolver(check_operator),
            *([SessionResolver(lookup_session)] if lookup_session is not None else []),
        ]
    )
