"""The one source of time. Tests swap in a MovableClock to move time."""

from __future__ import annotations

import threading
import time


class Clock:
    def now(self) -> float:
        return time.time()

    def now_s(self) -> int:
        return int(self.now())

    def monotonic(self) -> float:
        return time.monotonic()


class MovableClock(Clock):
    """A clock tests can set or advance; it still ticks unless frozen."""

    def __init__(self, start: float | None = None, frozen: bool = False) -> None:
        self._lock = threading.Lock()
        self._offset = 0.0 if start is None else start - time.time()
        self._frozen_at: float | None = (start if start is not None else time.time()) if frozen else None

    def now(self) -> float:
        with self._lock:
            if self._frozen_at is not None:
                return self._frozen_at
            return time.time() + self._offset

    def freeze(self) -> None:
        """Stop ticking at the current reading (tests whose margins are a second or less)."""
        with self._lock:
            if self._frozen_at is None:
                self._frozen_at = time.time() + self._offset

    def advance(self, seconds: float) -> None:
        with self._lock:
            if self._frozen_at is not None:
                self._frozen_at += seconds
            else:
                self._offset += seconds

    def set(self, ts: float) -> None:
        with self._lock:
            if self._frozen_at is not None:
                self._frozen_at = ts
            else:
                self._offset = ts - time.time()
