"""Request dependencies every slice's routes share (kept apart from app.py to avoid import cycles)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from threadline.context import AppContext


async def get_ctx(request: Request) -> AppContext:
    # async: a plain def dependency would cost a thread-pool round trip on every request
    ctx: AppContext = request.app.state.ctx
    return ctx


Ctx = Annotated[AppContext, Depends(get_ctx)]
