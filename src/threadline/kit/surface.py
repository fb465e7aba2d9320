"""What a surface is: the declaration every cross-cutting layer reads (no prefixes here; see surfaces.py).

A surface is one public API with one wire contract: its path prefixes, the credential it accepts, how
its errors look, what its validation errors' status is, its rate-limit, idempotency, body-limit and CORS
policies. Authentication, rate limiting, idempotency, body limits, error rendering and routing all look
the request's surface up once (:class:`SurfaceTable`) and read these fields, so a new surface is one
declaration plus its routes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from threadline.kit.errors import Renderer

# Where the credential is checked. "gate": in middleware before routing and body parsing (an unknown
# path under the surface still answers 401); "route": by the matched route (unknown paths answer 404;
# the route decides the order of key, rate limit and body checks its contract documents).
AuthStage = Literal["gate", "route"]


@dataclass(frozen=True)
class Credential:
    """The credential a surface accepts and where it is read from."""

    kind: str  # a kind the Authenticator has a resolver for: advertiser, event, publisher, operator, ...
    header: str = "authorization"
    bearer: bool = True  # "Authorization: Bearer <token>" (False: the raw header value is the token)
    # Where else the token may come from when the header is absent (route stage only): a query
    # parameter (Graph's ?access_token=) or a cookie (dashboard sessions).
    query: str | None = None
    cookie: str | None = None
    scopes: frozenset[str] = frozenset()  # all must be held by the principal
    invalid_message: str = "Invalid API key."
    stage: AuthStage = "route"


@dataclass(frozen=True)
class RatePolicy:
    """A per-principal limit. ``setting`` names the Settings field holding the number."""

    bucket: str  # key namespace: surfaces sharing a bucket share the budget
    setting: str
    per: Literal["second", "hour"] = "hour"
    # Which X-RateLimit-* headers answers carry: "all" (Limit, Remaining, Reset on every answer),
    # "remaining_reset" (those two on every answer), "refusal" (only the 429 carries them).
    headers: Literal["all", "remaining_reset", "refusal"] = "all"
    message: str = "Rate limit exceeded. Retry later."
    # A stricter extra bucket for one (method, path) of the surface, counted after this one allows.
    routes: tuple[tuple[str, str, RatePolicy], ...] = ()


@dataclass(frozen=True)
class Cors:
    allow_headers: str
    expose_headers: str
    methods: str = "GET, POST, OPTIONS"
    max_age: int = 600


@dataclass(eq=False)
class Surface:
    name: str
    prefixes: tuple[str, ...]
    render: Renderer
    validation_status: int = 400
    credential: Credential | None = None
    rate_limit: RatePolicy | None = None
    # POST requests with an Idempotency-Key are claimed, replayed and settled by the gate.
    idempotency: bool = False
    body_limit: str = "max_json_body_bytes"  # a Settings field
    # Paths that stream their body and enforce their own limit (the generic limit does not apply).
    streams: tuple[str, ...] = ()
    cors: Cors | None = None
    # Answer a path that differs from a route only by a trailing slash with a 307 to that route (the
    # behaviour clients of the existing surfaces know). New surfaces should leave it off: a 404 is cheaper.
    redirect_slashes: bool = False

    def matches(self, path: str) -> bool:
        return any(path.startswith(p) for p in self.prefixes)


@dataclass
class SurfaceTable:
    """Finds a path's surface by its first segment, then the longest matching prefix.

    The cost of a lookup depends on how many prefixes share a first segment, not on how many surfaces
    exist, so adding a surface costs the others nothing.
    """

    default: Surface
    surfaces: Sequence[Surface] = ()
    _by_segment: dict[str, list[tuple[str, Surface]]] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        for surface in self.surfaces:
            self._add(surface)

    def add(self, surface: Surface) -> None:
        self.surfaces = (*self.surfaces, surface)
        self._add(surface)

    def _add(self, surface: Surface) -> None:
        for prefix in surface.prefixes:
            if not prefix.startswith("/") or prefix == "/":
                raise ValueError(f"surface {surface.name}: prefix {prefix!r} must be a path under /")
            bucket = self._by_segment.setdefault(_first_segment(prefix), [])
            if any(p == prefix for p, _ in bucket):
                raise ValueError(f"surface {surface.name}: prefix {prefix!r} is already declared")
            bucket.append((prefix, surface))
            bucket.sort(key=lambda entry: -len(entry[0]))

    def lookup(self, path: str) -> Surface:
        for prefix, surface in self._by_segment.get(_first_segment(path), ()):
            if path.startswith(prefix):
                return surface
        return self.default

    def all(self) -> Iterable[Surface]:
        yield from self.surfaces
        yield self.default


def _first_segment(path: str) -> str:
    end = path.find("/", 1)
    return path[1:] if end < 0 else path[1:end]
