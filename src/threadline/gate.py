"""The surface gate: every request's surface is looked up once, and its declaration is applied.

One ASGI middleware, before routing: it finds the surface (kept in the scope for the error handlers and
the router), applies the surface's body limit, and for surfaces whose credential is checked at the gate
(the advertiser API) authenticates, rate-limits and runs the Idempotency-Key protocol before any body
parsing. Surfaces that check their credential in the route call :func:`authenticate` and
:func:`rate_limit` in the order their contract documents.
"""

from __future__ import annotations

from typing import Any

import anyio.to_thread
from fastapi import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from threadline.auth.authenticator import Principal
from threadline.auth.keys import KeyPrincipal
from threadline.context import AppContext
from threadline.kit.asgi import header, read_body, replay_receive, send_json
from threadline.kit.bodylimit import BodyTooLarge, limit_body
from threadline.kit.errors import ApiError
from threadline.kit.ratelimit import Limit
from threadline.kit.surface import RatePolicy, Surface, SurfaceTable

SURFACE_KEY = "threadline.surface"
# Streaming routes bypass the generic body limit, so the gate bounds what it buffers for a fingerprint.
STREAM_BUFFER_LIMIT = 5 * 1024 * 1024 + 65_536
_UNLIMITED_METHODS = frozenset(("GET", "HEAD", "OPTIONS"))


def surface_of(scope: Scope) -> Surface:
    surface: Surface = scope[SURFACE_KEY]
    return surface


async def render(surface: Surface, err: ApiError, scope: Scope, receive: Receive, send: Send) -> None:
    response = surface.render(err, Request(scope, receive))
    await response(scope, receive, send)


# -- authentication --------------------------------------------------------------------------------


async def authenticate(request: Request) -> Principal:
    """The principal of a request to a route-stage surface (its declared credential), or its 401."""
    surface = surface_of(request.scope)
    credential = surface.credential
    assert credential is not None, f"surface {surface.name} declares no credential"
    ctx: AppContext = request.app.state.ctx
    value = request.headers.get(credential.header)
    if value is None and credential.query is not None and credential.query in request.query_params:
        token = request.query_params[credential.query]
        value = f"Bearer {token}" if credential.bearer else token
    if value is None and credential.cookie is not None and credential.cookie in request.cookies:
        token = request.cookies[credential.cookie]
        value = f"Bearer {token}" if credential.bearer else token
    return await ctx.authenticator.authenticate(credential, value)


async def authenticate_key(request: Request) -> KeyPrincipal:
    principal = await authenticate(request)
    assert isinstance(principal, KeyPrincipal)
    return principal


# -- rate limits -----------------------------------------------------------------------------------


def _item(ctx: AppContext, policy: RatePolicy) -> Limit:
    items: dict[RatePolicy, Limit] = ctx.rate_items
    item = items.get(policy)
    if item is None:
        amount = int(getattr(ctx.settings, policy.setting))
        limiter = ctx.limiter
        item = limiter.per_second(amount) if policy.per == "second" else limiter.per_hour(amount)
        items[policy] = item
    return item


def check_rate(
    ctx: AppContext, policy: RatePolicy, identity: str, method: str = "", path: str = ""
) -> dict[str, str]:
    """Count one request against ``policy``: the headers the answer carries, or the 429 (ApiError).

    May touch Redis: async callers use :func:`rate_limit`.
    """
    limiter = ctx.limiter
    item = _item(ctx, policy)
    if policy.headers == "refusal":
        if not limiter.enabled or limiter.allow(item, policy.bucket, identity):
            return {}  # success answers carry no headers, so the window is read back only for a 429
        decision = limiter.peek(item, policy.bucket, identity)
        headers = decision.headers()
        headers.setdefault("Retry-After", str(decision.retry_after))  # refused, even if a slot just freed
        raise ApiError(429, "rate_limit_exceeded", policy.message, headers=headers)
    decision = limiter.hit(item, policy.bucket, identity)
    if decision.allowed:
        for route_method, route_path, stricter in policy.routes:
            if method == route_method and path.rstrip("/") == route_path:
                decision = limiter.hit(_item(ctx, stricter), stricter.bucket, identity)
                break
    if policy.headers == "all":
        headers = decision.headers()
    else:
        headers = {
            "X-RateLimit-Remaining": str(decision.remaining),
            "X-RateLimit-Reset": str(decision.reset_at),
        }
    if not decision.allowed:
        raise ApiError(429, "rate_limit_exceeded", policy.message, headers=headers)
    return headers


async def rate_limit(
    ctx: AppContext, policy: RatePolicy, identity: str, method: str = "", path: str = ""
) -> dict[str, str]:
    """:func:`check_rate` for the event loop: the in-process limiter answers inline, Redis in a thread."""
    if ctx.limiter.blocking and ctx.limiter.enabled:  # a disabled limiter answers without Redis
        return await anyio.to_thread.run_sync(check_rate, ctx, policy, identity, method, path)
    return check_rate(ctx, policy, identity, method, path)


# -- the middleware --------------------------------------------------------------------------------


class SurfaceGate:
    def __init__(self, app: ASGIApp, ctx: AppContext, table: SurfaceTable) -> None:
        self.app = app
        self.ctx = ctx
        self.table = table
        self.body_limits = {s: int(getattr(ctx.settings, s.body_limit)) for s in table.all()}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        surface = self.table.lookup(path)
        scope[SURFACE_KEY] = surface
        gated = surface.credential is not None and surface.credential.stage == "gate"
        inner = self._gate if gated else self.app
        if scope["method"] in _UNLIMITED_METHODS or (surface.streams and path.startswith(surface.streams)):
            await inner(scope, receive, send)
            return

        async def too_large(scope: Scope, receive: Receive, send: Send) -> None:
            err = ApiError(413, "request_too_large", "The request body is too large.")
            await render(surface, err, scope, receive, send)

        await limit_body(inner, scope, receive, send, self.body_limits[surface], too_large)

    async def _gate(self, scope: Scope, receive: Receive, send: Send) -> None:
        surface = surface_of(scope)
        credential = surface.credential
        assert credential is not None
        ctx = self.ctx
        try:
            principal = await ctx.authenticator.authenticate(
                credential, header(scope, credential.header.encode())
            )
            state = scope.setdefault("state", {})
            state["principal"] = principal
            state["org_id"] = getattr(principal, "org_id", None)
            policy = surface.rate_limit
            rate_headers = (
                await rate_limit(ctx, policy, _identity(principal), scope["method"], scope["path"])
                if policy is not None
                else {}
            )
        except ApiError as err:
            await render(surface, err, scope, receive, send)
            return

        if rate_headers:
            send = _with_headers(send, [(k.lower().encode(), v.encode()) for k, v in rate_headers.items()])

        key = header(scope, b"idempotency-key") if surface.idempotency else None
        if scope["method"] == "POST" and key is not None:
            await self._idempotent(surface, scope, receive, send, principal, key)
        else:
            await self.app(scope, receive, send)

    async def _idempotent(
        self, surface: Surface, scope: Scope, receive: Receive, send: Send, principal: Principal, key: str
    ) -> None:
        streams = bool(surface.streams) and scope["path"].startswith(surface.streams)
        try:
            body = await read_body(receive, STREAM_BUFFER_LIMIT if streams else None)
        except BodyTooLarge:
            if not streams:
                raise  # the body limit answers 413
            err = ApiError(400, "file_too_large", "The image exceeds the 5 MB limit.", "file")
            await render(surface, err, scope, receive, send)
            return
        store = self.ctx.idempotency
        org_id = getattr(principal, "org_id", None)
        assert isinstance(org_id, str), "idempotency records belong to an org"
        try:
            claim = await anyio.to_thread.run_sync(
                store.claim, org_id, key, scope["method"], scope["path"], body
            )
        except ApiError as err:
            await render(surface, err, scope, receive, send)
            return
        if claim.replay is not None:
            r = claim.replay
            await send_json(send, r.status, None, {"Idempotent-Replayed": "true"}, raw=r.body)
            return
        state: dict[str, Any] = scope["state"]
        state["idempotency_key"] = key
        state["idempotency_resumed"] = claim.resumed
        captured: dict[str, Any] = {"status": 500, "content_type": "application/json", "body": []}
        # Held back until the record is settled: a client that retries the moment it has the answer
        # must get the replay, not 409 idempotency_request_in_progress.
        held: list[Message] = []

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                captured["status"] = message["status"]
                for k, v in message.get("headers", []):
                    if k == b"content-type":
                        captured["content_type"] = v.decode("latin-1")
            elif message["type"] == "http.response.body":
                captured["body"].append(message.get("body", b""))
            held.append(message)

        try:
            await self.app(scope, replay_receive(body, receive), capture)
        except BaseException:
            await anyio.to_thread.run_sync(store.release, claim.record_id)
            raise
        status = int(captured["status"])
        if status >= 500:
            await anyio.to_thread.run_sync(store.release, claim.record_id)
        else:
            await anyio.to_thread.run_sync(
                store.complete, claim.record_id, status, b"".join(captured["body"]), captured["content_type"]
            )
        for message in held:
            await send(message)


def _with_headers(send: Send, extra: list[tuple[bytes, bytes]]) -> Send:
    async def send_with_headers(message: Message) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [*message.get("headers", []), *extra]
        await send(message)

    return send_with_headers


def _identity(principal: Principal) -> str:
    """What a rate-limit budget is counted against: the key (so rotation starts a fresh budget)."""
    key_id = getattr(principal, "key_id", None)
    return key_id if isinstance(key_id, str) else principal.kind
