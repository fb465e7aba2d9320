"""The advertiser gate: key auth, per-key rate limits and Idempotency-Key handling for /v1/.

One ASGI middleware so that every /v1/ route gets the same treatment before any body parsing.
"""

from __future__ import annotations

from typing import Any

import anyio.to_thread
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from threadline.auth.keys import KeyPrincipal, bearer_token, invalid_api_key, resolve_key
from threadline.context import AppContext
from threadline.kit.asgi import header, read_body, replay_receive, send_json
from threadline.kit.bodylimit import BodyTooLarge
from threadline.kit.errors import ApiError, openai_body
from threadline.kit.ratelimit import RateDecision

UPLOAD_BUFFER_LIMIT = 5 * 1024 * 1024 + 65_536


def is_advertiser_path(path: str) -> bool:
    return path.startswith("/v1/") and not path.startswith("/v1/api/")


class AdvertiserGate:
    def __init__(self, app: ASGIApp, ctx: AppContext) -> None:
        self.app = app
        self.ctx = ctx
        s = ctx.settings
        self.hourly = ctx.limiter.per_hour(s.rate_limit_per_hour)
        self.create_hourly = ctx.limiter.per_hour(s.campaign_create_limit_per_hour)
        self.redis_limits = bool(s.redis_url)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_advertiser_path(scope["path"]):
            await self.app(scope, receive, send)
            return
        try:
            principal = await self._authenticate(scope)
        except ApiError as err:
            await send_json(send, err.status, openai_body(err), err.headers)
            return
        state = scope.setdefault("state", {})
        state["principal"] = principal
        state["org_id"] = principal.org_id

        decision = await self._rate_limit(scope, principal)
        rate_headers = decision.headers()
        if not decision.allowed:
            too_many = ApiError(429, "rate_limit_exceeded", "Rate limit exceeded. Retry later.")
            await send_json(send, 429, openai_body(too_many), rate_headers)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *message.get("headers", []),
                    *((k.lower().encode(), v.encode()) for k, v in rate_headers.items()),
                ]
            await send(message)

        key = header(scope, b"idempotency-key")
        if scope["method"] == "POST" and key is not None:
            await self._idempotent(scope, receive, send_with_headers, principal, key)
        else:
            await self.app(scope, receive, send_with_headers)

    async def _authenticate(self, scope: Scope) -> KeyPrincipal:
        ctx = self.ctx
        token = bearer_token(header(scope, b"authorization"))
        principal = await resolve_key(ctx.db, ctx.keys, ctx.clock, token, "advertiser")
        if principal is None or principal.org_id is None:
            raise invalid_api_key()
        return principal

    async def _rate_limit(self, scope: Scope, principal: KeyPrincipal) -> RateDecision:
        """The decision whose headers the response carries: the stricter create bucket on creates."""

        def check() -> RateDecision:
            limiter = self.ctx.limiter
            decision = limiter.hit(self.hourly, "adv", principal.key_id)
            if (
                decision.allowed
                and scope["method"] == "POST"
                and scope["path"].rstrip("/") == "/v1/campaigns"
            ):
                return limiter.hit(self.create_hourly, "adv-create", principal.key_id)
            return decision

        if self.redis_limits:
            return await anyio.to_thread.run_sync(check)
        return check()

    async def _idempotent(
        self, scope: Scope, receive: Receive, send: Send, principal: KeyPrincipal, key: str
    ) -> None:
        try:
            # Uploads bypass the generic body limit, so bound what we buffer for the fingerprint here.
            body = await read_body(receive, UPLOAD_BUFFER_LIMIT if scope["path"] == "/v1/upload" else None)
        except BodyTooLarge:
            if scope["path"] != "/v1/upload":
                raise  # the body-limit middleware answers 413
            err = ApiError(400, "file_too_large", "The image exceeds the 5 MB limit.", "file")
            await send_json(send, 400, openai_body(err))
            return
        store = self.ctx.idempotency
        assert principal.org_id is not None
        try:
            claim = await anyio.to_thread.run_sync(
                store.claim, principal.org_id, key, scope["method"], scope["path"], body
            )
        except ApiError as err:
            await send_json(send, err.status, openai_body(err), err.headers)
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
