"""Sliding-window rate limits on top of the `limits` library (memory, or Redis across processes)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, RateLimitItemPerHour, RateLimitItemPerSecond, storage, strategies


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    limit: int
    remaining: int
    reset_at: int  # Unix seconds when the window frees a slot

    @property
    def retry_after(self) -> int:
        return max(1, math.ceil(self.reset_at - time.time()))

    def headers(self) -> dict[str, str]:
        h = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset_at),
        }
        if not self.allowed:
            h["Retry-After"] = str(self.retry_after)
        return h


class RateLimiter:
    """One limiter for the whole server; keys are namespaced by the caller."""

    def __init__(self, redis_url: str | None = None, *, enabled: bool = True) -> None:
        self.enabled = enabled
        if redis_url:
            uri = redis_url if redis_url.startswith(("redis://", "rediss://")) else f"redis://{redis_url}"
            made = storage.storage_from_string(uri)
            assert isinstance(made, storage.Storage)
            self._storage: storage.Storage = made
        else:
            self._storage = storage.MemoryStorage()
        self._strategy = strategies.SlidingWindowCounterRateLimiter(self._storage)

    @staticmethod
    def per_hour(n: int) -> RateLimitItem:
        return RateLimitItemPerHour(n)

    @staticmethod
    def per_second(n: int) -> RateLimitItem:
        return RateLimitItemPerSecond(n)

    def hit(self, item: RateLimitItem, *identifiers: str) -> RateDecision:
        if not self.enabled:
            return RateDecision(True, item.amount, item.amount, int(time.time()) + item.get_expiry())
        allowed = self._strategy.hit(item, *identifiers)
        stats = self._strategy.get_window_stats(item, *identifiers)
        return RateDecision(allowed, item.amount, max(0, int(stats.remaining)), math.ceil(stats.reset_time))

    def allow(self, item: RateLimitItem, *identifiers: str) -> bool:
        """Count a hit and say whether it fits: :meth:`hit` without reading the window back.

        For callers that send no rate-limit headers on success (half the storage work per request);
        on refusal, :meth:`peek` gives the headers for the 429.
        """
        if not self.enabled:
            return True
        return bool(self._strategy.hit(item, *identifiers))

    def peek(self, item: RateLimitItem, *identifiers: str) -> RateDecision:
        stats = self._strategy.get_window_stats(item, *identifiers)
        return RateDecision(
            stats.remaining > 0, item.amount, max(0, int(stats.remaining)), math.ceil(stats.reset_time)
        )

    def reset(self) -> None:
        self._storage.reset()
