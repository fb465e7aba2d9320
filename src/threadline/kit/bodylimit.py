"""Refuse request bodies over a size limit while they stream in (never buffer an unbounded body)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyTooLarge(Exception):
    pass


# (path prefix, byte limit or None for "the route streams and limits itself")
Rule = tuple[str, int | None]
Reject = Callable[[Scope, Receive, Send], Awaitable[None]]


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, rules: Sequence[Rule], default: int, reject: Reject) -> None:
        self.app = app
        self.rules = sorted(rules, key=lambda r: -len(r[0]))
        self.default = default
        self.reject = reject

    def _limit_for(self, path: str) -> int | None:
        for prefix, limit in self.rules:
            if path.startswith(prefix):
                return limit
        return self.default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        limit = self._limit_for(scope["path"])
        if limit is None:
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > limit:
                    scope.setdefault("state", {})["body_limit"] = limit
                    await self.reject(scope, receive, send)
                    return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if started:
                raise
            scope.setdefault("state", {})["body_limit"] = limit
            await self.reject(scope, receive, send)
