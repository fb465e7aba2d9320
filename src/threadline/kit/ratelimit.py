"""Per-key rate limits as GCRA (a token bucket kept as one timestamp): in process, or in Redis.

A limit of ``amount`` per ``period`` allows a burst of ``amount`` and refills one slot every
``period / amount`` seconds. The state of a key is its theoretical arrival time (TAT): the moment its
bucket would be full again. The embedded default keeps TATs in a dict behind a lock — no background
thread, O(1) per request. With Redis (several processes) a short Lua script does the same update
atomically, with Redis's own clock so every process agrees. Both answer the same decisions and headers.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# Above this many keys, entries whose bucket has refilled are dropped (they equal a missing entry).
_PRUNE_AT = 50_000

# KEYS[1] = bucket key; ARGV = period, amount, cost (1 = count a request, 0 = look only).
# Returns {allowed, tat_before, now} as strings (Lua numbers lose precision through integer replies).
_GCRA_LUA = """
local period = tonumber(ARGV[1])
local amount = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local new_tat = tat + cost * period / amount
local allowed = 0
if new_tat - now <= period then
  allowed = 1
  if cost > 0 then
    redis.call('SET', KEYS[1], string.format('%.6f', new_tat), 'PX', math.ceil((new_tat - now) * 1000) + 1000)
  end
end
return {tostring(allowed), string.format('%.6f', tat), string.format('%.6f', now)}
"""


@dataclass(frozen=True)
class Limit:
    amount: int
    period: float  # seconds

    @property
    def interval(self) -> float:
        return self.period / self.amount

    def key(self, identifiers: tuple[str, ...]) -> str:
        return f"{'/'.join(identifiers)}|{self.amount}/{self.period:g}"


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    limit: int
    remaining: int
    reset_at: int  # Unix seconds when the bucket frees its next slot

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


def _decide(limit: Limit, allowed: bool, tat: float, now: float, counted: bool) -> RateDecision:
    """The decision and headers from the TAT before the request (``tat`` ≥ ``now``)."""
    interval = limit.interval
    debt = (tat + interval if counted and allowed else tat) - now  # seconds until the bucket is full
    free = limit.period - debt  # seconds of capacity left
    remaining = max(0, min(limit.amount, math.floor(free / interval + 1e-9)))
    # The next slot frees when the capacity left reaches the next multiple of the interval.
    reset = now + interval - (free % interval) if free >= 0 else now + interval - free
    return RateDecision(allowed, limit.amount, remaining, math.ceil(reset))


class _MemoryStore:
    def __init__(self, now: Callable[[], float]) -> None:
        self._now = now
        self._tats: dict[str, float] = {}
        self._lock = threading.Lock()

    def update(self, key: str, limit: Limit, cost: int) -> tuple[bool, float, float]:
        with self._lock:
            now = self._now()
            tat = max(self._tats.get(key, 0.0), now)
            new_tat = tat + cost * limit.interval
            allowed = new_tat - now <= limit.period
            if allowed and cost:
                if len(self._tats) >= _PRUNE_AT:
                    self._tats = {k: v for k, v in self._tats.items() if v > now}
                self._tats[key] = new_tat
            return allowed, tat, now

    def reset(self) -> None:
        with self._lock:
            self._tats.clear()


class _RedisStore:
    PREFIX = "threadline:rl:"

    def __init__(self, url: str) -> None:
        import redis

        self._redis: Any = redis.Redis.from_url(url)
        self._script: Any = self._redis.register_script(_GCRA_LUA)

    def update(self, key: str, limit: Limit, cost: int) -> tuple[bool, float, float]:
        allowed, tat, now = self._script(keys=[self.PREFIX + key], args=[limit.period, limit.amount, cost])
        return allowed in (b"1", "1"), float(tat), float(now)

    def reset(self) -> None:
        for key in self._redis.scan_iter(match=self.PREFIX + "*", count=1000):
            self._redis.delete(key)


class RateLimiter:
    """One limiter for the whole server; keys are namespaced by the caller."""

    def __init__(
        self, redis_url: str | None = None, *, enabled: bool = True, now: Callable[[], float] = time.time
    ) -> None:
        self.enabled = enabled
        # A Redis round trip blocks: async callers run limiter calls in a thread when this is set.
        self.blocking = bool(redis_url)
        if redis_url:
            uri = redis_url if redis_url.startswith(("redis://", "rediss://")) else f"redis://{redis_url}"
            self._store: _MemoryStore | _RedisStore = _RedisStore(uri)
        else:
            self._store = _MemoryStore(now)
        self._now = now

    @staticmethod
    def per_hour(n: int) -> Limit:
        return Limit(n, 3600.0)

    @staticmethod
    def per_second(n: int) -> Limit:
        return Limit(n, 1.0)

    def hit(self, item: Limit, *identifiers: str) -> RateDecision:
        """Count a request and say whether it fits, with the headers' numbers."""
        if not self.enabled:
            return RateDecision(True, item.amount, item.amount, int(self._now() + item.period))
        allowed, tat, now = self._store.update(item.key(identifiers), item, 1)
        return _decide(item, allowed, tat, now, counted=True)

    def allow(self, item: Limit, *identifiers: str) -> bool:
        """:meth:`hit` for callers that send no headers on success; :meth:`peek` gives the 429's."""
        if not self.enabled:
            return True
        return self._store.update(item.key(identifiers), item, 1)[0]

    def peek(self, item: Limit, *identifiers: str) -> RateDecision:
        """The state of a key without counting a request (allowed = a request would fit now)."""
        allowed, tat, now = self._store.update(item.key(identifiers), item, 0)
        decision = _decide(item, allowed, tat, now, counted=False)
        return RateDecision(decision.remaining > 0, item.amount, decision.remaining, decision.reset_at)

    def reset(self) -> None:
        self._store.reset()
