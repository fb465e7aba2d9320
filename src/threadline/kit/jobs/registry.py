"""Job kinds and their handlers; how long to wait before a failed job is tried again."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Job:
    """What a handler sees. ``attempt`` counts from 1; a re-run after a lost lease is a new attempt."""

    id: int
    kind: str
    payload: dict[str, Any]
    attempt: int
    max_attempts: int = 8


Handler = Callable[[Job], None]


class RetryJob(Exception):
    """Raised by a handler: try again after ``delay_seconds`` (the attempt still counts)."""

    def __init__(self, delay_seconds: int, reason: str) -> None:
        super().__init__(reason)
        self.delay_seconds = max(0, int(delay_seconds))
        self.reason = reason


@dataclass(frozen=True)
class Periodic:
    kind: str
    every_seconds: int

    @property
    def unique_key(self) -> str:
        return f"every:{self.kind}"


def exponential_backoff(attempt: int, *, base_seconds: float, max_seconds: float) -> int:
    """Seconds before retrying after failed attempt ``attempt`` (1-based): base, 2x base, 4x base...,
    capped at ``max_seconds``."""
    return int(min(max_seconds, base_seconds * 2 ** max(0, attempt - 1)))


class JobRegistry:
    """Handlers by kind. Failures back off exponentially: base, 2x base, 4x base, ... up to the cap."""

    def __init__(self, *, retry_base_seconds: int = 10, retry_max_seconds: int = 3600) -> None:
        self.retry_base_seconds = retry_base_seconds
        self.retry_max_seconds = retry_max_seconds
        self._handlers: dict[str, Handler] = {}
        self._periodic: dict[str, Periodic] = {}

    def register(self, kind: str, handler: Handler) -> None:
        if kind in self._handlers:
            raise ValueError(f"job kind {kind!r} is already registered")
        self._handlers[kind] = handler

    def every(self, kind: str, seconds: int, handler: Handler) -> None:
        """A job that runs now and then every ``seconds`` after each run ends, surviving restarts.

        Exactly one unfinished job of the kind exists at a time (its ``unique_key``), however many
        workers start; the worker that finishes one enqueues the next in the same transaction.
        """
        if seconds < 1:
            raise ValueError("seconds must be at least 1")
        self.register(kind, handler)
        self._periodic[kind] = Periodic(kind, seconds)

    def handler(self, kind: str) -> Handler | None:
        return self._handlers.get(kind)

    @property
    def kinds(self) -> list[str]:
        return sorted(self._handlers)

    @property
    def periodic(self) -> list[Periodic]:
        return list(self._periodic.values())

    def periodic_of(self, kind: str) -> Periodic | None:
        return self._periodic.get(kind)

    def backoff(self, attempt: int) -> int:
        """Seconds before retrying after failed attempt ``attempt`` (1-based)."""
        return exponential_backoff(
            attempt, base_seconds=self.retry_base_seconds, max_seconds=self.retry_max_seconds
        )
