"""SingleFlight: concurrent misses for one key share one load; nothing else is shared."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from threadline.kit.single_flight import SingleFlight


def test_concurrent_callers_share_one_load_and_later_callers_load_again() -> None:
    async def main() -> None:
        flight: SingleFlight[str] = SingleFlight()
        gate = asyncio.Event()
        calls: list[str] = []

        def loader(key: str) -> Callable[[], Awaitable[str]]:
            async def load() -> str:
                calls.append(key)
                await gate.wait()
                return f"{key}-{len(calls)}"

            return load

        waiters = [asyncio.create_task(flight.run("a", loader("a"))) for _ in range(20)]
        other = asyncio.create_task(flight.run("b", loader("b")))
        await asyncio.sleep(0.01)  # every waiter has joined, both loads are blocked on the gate
        gate.set()
        assert await asyncio.gather(*waiters) == ["a-2"] * 20
        assert await other == "b-2"
        assert sorted(calls) == ["a", "b"]  # one load per key
        assert await flight.run("a", loader("a")) == "a-3"  # finished loads are not remembered

    asyncio.run(main())


def test_a_cancelled_waiter_does_not_cancel_the_load_for_the_others() -> None:
    async def main() -> None:
        flight: SingleFlight[int] = SingleFlight()
        gate = asyncio.Event()

        async def load() -> int:
            await gate.wait()
            return 7

        first = asyncio.create_task(flight.run("k", load))
        second = asyncio.create_task(flight.run("k", load))
        await asyncio.sleep(0)
        first.cancel()
        gate.set()
        assert await second == 7
        with pytest.raises(asyncio.CancelledError):
            await first

    asyncio.run(main())


def test_a_failed_load_fails_every_waiter_and_the_next_call_retries() -> None:
    async def main() -> None:
        flight: SingleFlight[int] = SingleFlight()
        attempts = 0

        async def load() -> int:
            nonlocal attempts
            attempts += 1
            await asyncio.sleep(0)
            if attempts == 1:
                raise RuntimeError("db down")
            return attempts

        results = await asyncio.gather(*(flight.run("k", load) for _ in range(5)), return_exceptions=True)
        assert all(isinstance(r, RuntimeError) for r in results)
        assert attempts == 1
        assert await flight.run("k", load) == 2

    asyncio.run(main())
