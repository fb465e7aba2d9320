"""The SQLite checkpointer: WAL checkpoints in a thread of their own while it runs, SQLite's otherwise."""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.waiting import eventually
from threadline.config import Settings
from threadline.context import build_context
from threadline.store.checkpoint import THREAD_NAME, Checkpointer, sqlite_file
from threadline.store.db import SQLITE_AUTOCHECKPOINT_PAGES, Database

PAGE = 4096
ROW = b"x" * (3 * PAGE)  # a few WAL pages per commit


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'wal.db'}")
    with database.write() as s:
        s.execute(text("CREATE TABLE blobs (id INTEGER PRIMARY KEY, body BLOB)"))
    yield database
    database.dispose()


def _wal_bytes(db: Database) -> int:
    wal = Path(f"{sqlite_file(db.url)}-wal")
    return wal.stat().st_size if wal.exists() else 0


def _autocheckpoint(db: Database) -> int:
    with db.write() as s:
        return int(s.execute(text("PRAGMA wal_autocheckpoint")).scalar_one())


def _insert(db: Database, n: int) -> None:
    for _ in range(n):
        with db.write() as s:
            s.execute(text("INSERT INTO blobs (body) VALUES (:b)"), {"b": ROW})


def _checkpoint_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == THREAD_NAME and t.is_alive()]


def test_while_running_commits_do_not_checkpoint_and_the_wal_stays_bounded(db: Database) -> None:
    checkpointer = Checkpointer(db, str(sqlite_file(db.url)), interval_s=0.005)
    checkpointer.start()
    try:
        assert _autocheckpoint(db) == 0
        for _ in range(20):  # 20 x 20 commits x >3 pages: well past SQLite's 1,000-page threshold
            _insert(db, 20)
            rounds = checkpointer.checkpoints
            # Two rounds: at least one ran wholly after these commits, so it left nothing to copy.
            eventually(lambda r=rounds: checkpointer.checkpoints > r + 1 or None, what="a checkpoint round")
        # The WAL restarts from its beginning at the first commit after such a round.
        assert _wal_bytes(db) < 200 * PAGE
    finally:
        checkpointer.stop()
    with db.read() as s:
        assert s.execute(text("SELECT count(*) FROM blobs")).scalar_one() == 400


def test_without_it_sqlite_checkpoints_on_commit_and_stop_restores_that(db: Database) -> None:
    assert _autocheckpoint(db) == SQLITE_AUTOCHECKPOINT_PAGES
    _insert(db, 400)  # > 1,000 pages: SQLite's own checkpoint keeps the WAL near its threshold
    assert _wal_bytes(db) < 2 * SQLITE_AUTOCHECKPOINT_PAGES * PAGE
    checkpointer = Checkpointer(db, str(sqlite_file(db.url)), interval_s=60)
    checkpointer.start()
    assert _autocheckpoint(db) == 0
    checkpointer.stop()
    assert _autocheckpoint(db) == SQLITE_AUTOCHECKPOINT_PAGES


def test_stop_ends_the_thread_and_empties_the_wal(db: Database) -> None:
    checkpointer = Checkpointer(db, str(sqlite_file(db.url)), interval_s=60)  # no round before stop
    checkpointer.start()
    assert len(_checkpoint_threads()) == 1
    _insert(db, 50)
    assert _wal_bytes(db) > 50 * PAGE
    checkpointer.stop()
    assert _checkpoint_threads() == []
    assert _wal_bytes(db) == 0  # TRUNCATE: every frame is in the database file
    checkpointer.stop()  # idempotent
    with pytest.raises(RuntimeError, match="not running"):
        checkpointer.checkpoint()


def test_a_wal_past_its_cap_is_restarted_by_the_round(db: Database) -> None:
    checkpointer = Checkpointer(db, str(sqlite_file(db.url)), interval_s=60, max_wal_pages=20)
    checkpointer.start()
    try:
        _insert(db, 20)
        assert checkpointer.round()[0] == 0  # not busy: RESTART got the write lock and finished
        _insert(db, 1)
        assert checkpointer.checkpoint()[1] < 20  # frames in the WAL: it started again from the top
    finally:
        checkpointer.stop()


def test_two_stores_on_one_file_each_with_a_checkpointer_stay_correct(db: Database) -> None:
    other = Database(db.url)  # as a second server process: its own pool and checkpointer
    ours = Checkpointer(db, str(sqlite_file(db.url)), interval_s=0.002)
    theirs = Checkpointer(other, str(sqlite_file(other.url)), interval_s=0.002)
    ours.start()
    theirs.start()
    try:
        writers = [threading.Thread(target=_insert, args=(d, 100)) for d in (db, other, db, other)]
        for w in writers:
            w.start()
        for w in writers:
            w.join()
        ours.stop()  # its TRUNCATE must not wait for the other one (busy at once, at worst)
        _insert(other, 10)
    finally:
        ours.stop()
        theirs.stop()
        other.dispose()
    with db.read() as s:
        assert s.execute(text("SELECT count(*) FROM blobs")).scalar_one() == 410
        assert s.execute(text("PRAGMA integrity_check")).scalar_one() == "ok"


def test_a_failed_round_is_logged_and_the_next_one_runs(
    db: Database, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    checkpointer = Checkpointer(db, str(sqlite_file(db.url)), interval_s=0.002)
    real = checkpointer.checkpoint
    calls: list[str] = []

    def flaky(mode: str = "PASSIVE") -> tuple[int, int, int]:
        calls.append(mode)
        if len(calls) == 1:
            raise sqlite3.OperationalError("disk I/O error")
        return real(mode)

    monkeypatch.setattr(checkpointer, "checkpoint", flaky)
    with caplog.at_level(logging.WARNING, logger="threadline.store"):
        checkpointer.start()
        try:
            eventually(lambda: len(calls) > 2 or None, what="rounds after the failure")
        finally:
            checkpointer.stop()
    assert "sqlite checkpoint failed" in caplog.text


def test_only_a_sqlite_file_store_gets_one(settings: Settings, tmp_path: Path) -> None:
    ctx = build_context(settings)
    off = build_context(settings.model_copy(update={"sqlite_checkpoint_interval_ms": 0}))
    try:
        assert ("sqlite-checkpoint" in ctx.components.names()) == settings.is_sqlite
        assert "sqlite-checkpoint" not in off.components.names()
    finally:
        ctx.db.dispose()
        off.db.dispose()
    assert sqlite_file(f"sqlite:///{tmp_path / 'x.db'}") == str(tmp_path / "x.db")
    assert sqlite_file("sqlite://") is None
    assert sqlite_file("sqlite:///:memory:") is None
    assert sqlite_file("sqlite:///file:mem?mode=memory&uri=true") is None
    assert sqlite_file("postgresql://u@h/db") is None
