"""BatchWriter(inline=True) on SQLite: a batch runs in the event loop when the write lock is free at
once, and goes to the writer thread (which waits for the lock, retries, stores item by item) when not."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from tests.waiting import eventually
from threadline.kit.batch_writer import BatchWriter
from threadline.kit.errors import ApiError
from threadline.store.db import Database


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'w.db'}")
    with database.write() as s:
        s.execute(text("CREATE TABLE rows (n INTEGER PRIMARY KEY, thread TEXT)"))
    yield database
    database.dispose()


@pytest.fixture
def other(db: Database, tmp_path: Path) -> Iterator[sqlite3.Connection]:
    """Another process's writer holding the write lock until the test commits it."""
    conn = sqlite3.connect(tmp_path / "w.db", isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    yield conn
    conn.close()


def store(s: Session, items: Sequence[int]) -> list[Any]:
    for n in items:
        if n < 0:
            raise ValueError("a bad row")  # fails the batch: the writer then stores items one by one
        s.execute(text("INSERT INTO rows VALUES (:n, :t)"), {"n": n, "t": threading.current_thread().name})
    return [f"ok {n}" for n in items]


def stored(db: Database) -> dict[int, str]:
    with db.read() as s:
        return {int(r[0]): str(r[1]) for r in s.execute(text("SELECT n, thread FROM rows"))}


def writer(db: Database) -> BatchWriter[int]:
    return BatchWriter(
        db, store, max_rows=100, max_wait_ms=0, inline=True, name="inline-test", on_failure=failed
    )


async def the_thread_has_a_batch(w: BatchWriter[int]) -> None:
    """Until the writer thread is running a batch (here: waiting for the lock another writer holds)."""
    await asyncio.to_thread(eventually, lambda: True if w._thread_flushing == 1 else None)


def failed() -> ApiError:
    return ApiError(503, "service_unavailable", "not stored")


def test_a_batch_with_the_lock_free_commits_in_the_event_loop(db: Database) -> None:
    w = writer(db)

    async def main() -> list[Any]:
        return list(await asyncio.gather(*(w.submit(n) for n in range(5))))

    try:
        assert asyncio.run(main()) == [f"ok {n}" for n in range(5)]
    finally:
        w.stop()
    assert set(stored(db).values()) == {"MainThread"}  # the loop's thread wrote them, in one batch
    assert (w.batches, w.inline_batches, w.rows) == (1, 1, 5)


def test_with_the_lock_held_elsewhere_the_thread_waits_for_it_and_the_request_for_the_commit(
    db: Database, other: sqlite3.Connection
) -> None:
    w = writer(db)

    async def main() -> Any:
        future = w.submit(7)
        await the_thread_has_a_batch(w)
        assert not future.done()  # not answered while not stored
        other.execute("COMMIT")
        return await future

    try:
        assert asyncio.run(main()) == "ok 7"
    finally:
        w.stop()
    assert stored(db) == {7: "inline-test"}
    assert (w.batches, w.inline_batches) == (1, 0)


def test_what_queues_while_the_thread_has_the_lock_goes_back_to_the_loop(
    db: Database, other: sqlite3.Connection
) -> None:
    w = writer(db)

    async def main() -> list[Any]:
        first = w.submit(1)
        await the_thread_has_a_batch(w)
        later = [w.submit(n) for n in (2, 3)]
        await asyncio.sleep(0)  # their wake-up has run: they wait, neither tried nor failed
        assert not any(f.done() for f in later)
        other.execute("COMMIT")
        return [await first, *[await f for f in later]]

    try:
        assert asyncio.run(main()) == ["ok 1", "ok 2", "ok 3"]
    finally:
        w.stop()
    # The thread ran the batch the loop could not, and only that one; the next ran in the loop again.
    assert stored(db) == {1: "inline-test", 2: "MainThread", 3: "MainThread"}
    assert (w.batches, w.inline_batches) == (2, 1)


def test_with_their_loop_gone_the_thread_stores_what_it_cannot_hand_back(
    db: Database, other: sqlite3.Connection
) -> None:
    w = writer(db)

    async def main() -> None:
        w.submit(1)
        await the_thread_has_a_batch(w)
        w.submit(2)  # queued behind the thread's batch; nobody awaits it, and the loop ends

    try:
        asyncio.run(main())
        other.execute("COMMIT")
        # Its loop is closed, so the hand-back fails; the thread's next wake-up stores it instead.
        eventually(lambda: True if 2 in stored(db) else None, 5, "the queued item")
    finally:
        w.stop()
    assert stored(db) == {1: "inline-test", 2: "inline-test"}
    assert (w.batches, w.inline_batches) == (2, 0)


def test_a_batch_that_fails_in_the_loop_is_stored_item_by_item_by_the_thread(db: Database) -> None:
    w = writer(db)

    async def main() -> list[Any]:
        return list(await asyncio.gather(*(w.submit(n) for n in (1, -1, 2)), return_exceptions=True))

    try:
        got = asyncio.run(main())
    finally:
        w.stop()
    assert got[0] == "ok 1"
    assert got[2] == "ok 2"
    assert isinstance(got[1], ApiError)
    assert got[1].status == 503
    assert stored(db) == {1: "inline-test", 2: "inline-test"}
    assert w.inline_batches == 0


def test_a_writer_that_waits_for_neighbours_leaves_batches_to_the_thread(db: Database) -> None:
    w = BatchWriter(db, store, max_rows=100, max_wait_ms=5, inline=True, name="inline-test")

    async def main() -> Any:
        return await w.submit(3)

    try:
        assert asyncio.run(main()) == "ok 3"
    finally:
        w.stop()
    assert stored(db) == {3: "inline-test"}
    assert w.inline_batches == 0
