"""The dependency that hands routes the AppContext (kept apart from app.py to avoid import cycles)."""

from __future__ import annotations

from fastapi import Request

from threadline.context import AppContext


async def get_ctx(request: Request) -> AppContext:
    # async: a plain def dependency would cost a thread-pool round trip on every request
    ctx: AppContext = request.app.state.ctx
    return ctx
