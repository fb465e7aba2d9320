"""Outbound HTTP of the publishing slice (webhook callbacks, upstream Threads servers), all through the
SSRF-safe fetcher: public addresses only (or the test allow-list), pinned connections, no redirects,
bounded time and size."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from threadline.config import Settings
from threadline.kit.http_fetch import FetchPolicy, FetchResult, call_api

MAX_ANSWER_BYTES = 1_048_576


def policy(settings: Settings, *, timeout: float, subject: str) -> FetchPolicy:
    return FetchPolicy(
        allow_private_hosts=frozenset(h.lower() for h in settings.allow_private_fetch_hosts),
        connect_timeout=min(settings.fetch_connect_timeout, timeout),
        total_timeout=timeout,
        max_bytes=MAX_ANSWER_BYTES,
        subject=subject,
        accept="application/json, */*;q=0.1",
    )


def request(
    method: str,
    url: str,
    fetch_policy: FetchPolicy,
    payload: bytes | None = None,
    headers: Iterable[tuple[str, str]] = (),
) -> FetchResult:
    """``call_api`` for synchronous callers (job handlers and sync routes run in worker threads).

    Raises ``FetchError`` for refusals, timeouts and transport failures; any HTTP status is returned.
    """
    return asyncio.run(call_api(method, url, fetch_policy, payload, list(headers)))
