"""Concurrent cache misses for one key share one load.

When a cached entry expires under load, every request that misses it at once would otherwise run its
own database query (each through a worker thread): on PostgreSQL that burst of identical round trips
is what spreads the ad_account rounds. The first caller starts the load as a task; callers arriving
while it runs await the same task. A waiter that is cancelled does not cancel the load for the others.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class SingleFlight(Generic[T]):
    def __init__(self) -> None:
        # Keyed by loop too: a task belongs to one event loop (tests run several apps, several loops).
        self._running: dict[tuple[asyncio.AbstractEventLoop, Hashable], asyncio.Task[T]] = {}

    async def run(self, key: Hashable, load: Callable[[], Awaitable[T]]) -> T:
        loop = asyncio.get_running_loop()
        slot = (loop, key)
        task = self._running.get(slot)
        if task is None:
            task = loop.create_task(_awaited(load))
            self._running[slot] = task
            task.add_done_callback(lambda _: self._running.pop(slot, None))
        return await asyncio.shield(task)


async def _awaited(load: Callable[[], Awaitable[T]]) -> T:
    return await load()
