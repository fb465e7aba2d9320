"""Jinja2 for the dashboard: one environment, autoescaped, with the helpers every page uses."""

from __future__ import annotations

import time
from functools import cache
from typing import Any

from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, select_autoescape


def dollars(micros: int | float | None) -> str:
    if micros is None:
        return "—"
    return f"${micros / 1_000_000:,.2f}"


def utc(ts: int | float | None) -> str:
    if ts is None:
        return "—"
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(ts))


def number(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.4f}".rstrip("0").rstrip(".") if value % 1 else f"{value:,.0f}"
    return f"{value:,}"


@cache
def env() -> Environment:
    from threadline.surfaces import DASHBOARD

    e = Environment(loader=PackageLoader("threadline.dashboard", "templates"), autoescape=select_autoescape())
    e.filters.update(dollars=dollars, utc=utc, number=number)
    e.globals["base"] = DASHBOARD.prefixes[0].rstrip("/")  # "/app"
    return e


def render_html(
    template: str, status: int = 200, headers: dict[str, str] | None = None, **values: Any
) -> HTMLResponse:
    html = env().get_template(template).render(**values)
    return HTMLResponse(html, status_code=status, headers=headers)
