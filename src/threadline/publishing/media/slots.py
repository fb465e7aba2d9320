"""How many images/videos this process decodes at once.

Decoding is the one step whose memory and CPU a hostile file can inflate, so every decode in
``prepare_image`` / ``prepare_video`` holds a slot. Two slots by default: the machine has two cores and a
third decode would only queue inside the CPU while holding its buffers. Callers that run many worker
threads therefore queue here, not in memory.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["DEFAULT_DECODE_SLOTS", "DecodeSlots", "default_slots"]

DEFAULT_DECODE_SLOTS = 2


class DecodeSlots:
    def __init__(self, slots: int = DEFAULT_DECODE_SLOTS) -> None:
        if slots < 1:
            raise ValueError("at least one decode slot is needed")
        self.slots = slots
        self._sem = threading.BoundedSemaphore(slots)

    @contextmanager
    def hold(self) -> Iterator[None]:
        with self._sem:
            yield


@functools.cache
def default_slots() -> DecodeSlots:
    """The process-wide slots, made on first use (nothing is built at import time)."""
    return DecodeSlots()
