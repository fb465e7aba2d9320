"""/admin/v1 routes."""

from __future__ import annotations

from fastapi import FastAPI

from threadline.context import AppContext
from threadline.operator.admin_token import ensure_admin_token


def install(app: FastAPI, ctx: AppContext) -> None:
    ensure_admin_token(ctx)
