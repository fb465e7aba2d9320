"""store/db.Database.write(wait=False): the SQLite write lock now or an error at once, nothing changed after."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from threadline.store.db import BUSY_TIMEOUT_MS, Database


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'db.db'}", pool_size=1)
    with database.write() as s:
        s.execute(text("CREATE TABLE t (n INTEGER)"))
    yield database
    database.dispose()


def test_a_writer_that_must_not_wait_fails_at_once_while_another_holds_the_lock(
    db: Database, tmp_path: Path
) -> None:
    other = sqlite3.connect(tmp_path / "db.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        started = time.monotonic()
        with pytest.raises(OperationalError, match="locked"), db.write(wait=False) as s:
            s.execute(text("INSERT INTO t VALUES (1)"))
        assert time.monotonic() - started < 5  # not BUSY_TIMEOUT_MS (30 s)
    finally:
        other.execute("ROLLBACK")
        other.close()
    # The same pooled connection (pool of one) waits for the lock again, as every writer does.
    with db.write() as s:
        assert s.execute(text("PRAGMA busy_timeout")).scalar_one() == BUSY_TIMEOUT_MS
        s.execute(text("INSERT INTO t VALUES (2)"))
    with db.read() as s:
        assert s.execute(text("SELECT n FROM t")).scalars().all() == [2]


def test_a_writer_that_must_not_wait_writes_when_the_lock_is_free(db: Database) -> None:
    with db.write(wait=False) as s:
        s.execute(text("INSERT INTO t VALUES (3)"))
        assert s.execute(text("PRAGMA busy_timeout")).scalar_one() == BUSY_TIMEOUT_MS
    with db.read() as s:
        assert s.execute(text("SELECT n FROM t")).scalars().all() == [3]
