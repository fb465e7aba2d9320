"""insights routes."""

from __future__ import annotations

from fastapi import FastAPI

from threadline.context import AppContext


def install(app: FastAPI, ctx: AppContext) -> None:
    """Mount this slice's routers and register its error surface and long-lived services."""
