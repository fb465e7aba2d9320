"""Waiting on a condition instead of sleeping for a guessed time."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def eventually(
    fn: Callable[[], T | None],
    timeout: float = 5.0,
    what: str = "condition",
    state: Callable[[], str] | None = None,
) -> T:
    """Poll ``fn`` until it returns something other than None; fail after ``timeout`` seconds (saying
    what ``state`` reads then, so a timeout in CI tells which part of the condition never held)."""
    deadline = time.monotonic() + timeout
    while True:
        found = fn()
        if found is not None:
            return found
        if time.monotonic() > deadline:
            seen = f" ({state()})" if state is not None else ""
            raise AssertionError(f"timed out waiting for {what}{seen}")
        time.sleep(0.02)
