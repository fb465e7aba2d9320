"""Refuse request bodies over a size limit while they stream in (never buffer an unbounded body)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyTooLarge(Exception):
    pass


Reject = Callable[[Scope, Receive, Send], Awaitable[None]]


async def limit_body(
    app: ASGIApp, scope: Scope, receive: Receive, send: Send, limit: int, reject: Reject
) -> None:
    """Run ``app`` with a body of at most ``limit`` bytes; ``reject`` answers a larger one."""
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                declared = int(value)
            except ValueError:
                declared = 0
            if declared > limit:
                scope.setdefault("state", {})["body_limit"] = limit
                await reject(scope, receive, send)
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
        await app(scope, limited_receive, tracking_send)
    except BodyTooLarge:
        if started:
            raise
        scope.setdefault("state", {})["body_limit"] = limit
        await reject(scope, receive, send)
