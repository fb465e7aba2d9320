"""WAL checkpoints of a SQLite store, off the commit path.

By default SQLite checkpoints inside whichever COMMIT leaves the WAL past 1,000 pages, fsyncs included,
and that request waits for it (the largest part of the serving p99, docs/benchmarks.md issue 13). While
this component runs, the store's connections run with ``wal_autocheckpoint=0`` and a thread of its own
runs a PASSIVE checkpoint every ``interval_s`` on its own connection. PASSIVE takes no lock and never
waits: writers and readers of every process on the file carry on, and what a reader still needs is
left for the next round. Stopped (or never started: CLI commands, ``threadline worker``), the policy is
back to SQLite's automatic checkpoints, so the WAL cannot grow without bound with nobody to empty it.
Several processes on one file may each run one; a checkpoint finding nothing to copy costs a read of the
WAL index.
"""

from __future__ import annotations

import logging
import sqlite3
import threading

from sqlalchemy.engine import make_url

from threadline.store.db import SQLITE_AUTOCHECKPOINT_PAGES, Database, normalize_url

log = logging.getLogger("threadline.store")

THREAD_NAME = "threadline-sqlite-checkpoint"
# The WAL restarts from its start at the first write after a round that left nothing to copy; under
# unbroken writes every round may find a newer commit, so past this size a round takes the write lock
# (RESTART, waiting at most RESTART_WAIT_MS) to finish the copy and restart the WAL.
MAX_WAL_PAGES = 10 * SQLITE_AUTOCHECKPOINT_PAGES
RESTART_WAIT_MS = 100


def sqlite_file(url: str) -> str | None:
    """The database file of a SQLite URL, None for PostgreSQL or an in-memory database (no WAL)."""
    parsed = make_url(normalize_url(url))
    if parsed.get_backend_name() != "sqlite":
        return None
    path = parsed.database
    if not path or path == ":memory:" or parsed.query.get("mode") == "memory":
        return None
    return path


class Checkpointer:
    """A component (ctx.components) of serving processes on SQLite; see the module docstring."""

    def __init__(
        self, db: Database, path: str, *, interval_s: float, max_wal_pages: int = MAX_WAL_PAGES
    ) -> None:
        self.db = db
        self.path = path
        self.interval_s = interval_s
        self.max_wal_pages = max_wal_pages
        self.checkpoints = 0  # rounds run, for tests and logs
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._conn: sqlite3.Connection | None = None

    def start(self) -> None:
        if self._thread is not None:
            return
        # No busy wait: PASSIVE never needs one, and the final TRUNCATE must not hold up shutdown.
        self._conn = sqlite3.connect(self.path, timeout=0, isolation_level=None, check_same_thread=False)
        self._stop.clear()
        self.db.wal.autocheckpoint = 0  # each pooled connection applies it at its next BEGIN
        self._thread = threading.Thread(target=self._run, name=THREAD_NAME, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        thread, conn = self._thread, self._conn
        if thread is None or conn is None:
            return
        # Commits from here on checkpoint themselves again, before the last round below.
        self.db.wal.autocheckpoint = SQLITE_AUTOCHECKPOINT_PAGES
        self._stop.set()
        thread.join()
        try:
            # TRUNCATE leaves an empty WAL when no other process is using the file; with one that is,
            # it answers "busy" at once (timeout 0) after copying what it could.
            self.checkpoint("TRUNCATE")
        finally:
            conn.close()
            self._thread = self._conn = None

    def checkpoint(self, mode: str = "PASSIVE") -> tuple[int, int, int]:
        """One round: (busy, frames in the WAL, frames copied to the database), as SQLite reports them."""
        if self._conn is None:
            raise RuntimeError("the checkpointer is not running")
        row = self._conn.execute(f"PRAGMA wal_checkpoint({mode})").fetchone()
        self.checkpoints += 1
        return int(row[0]), int(row[1]), int(row[2])

    def round(self) -> tuple[int, int, int]:
        """A PASSIVE checkpoint, and a RESTART when the WAL is past max_wal_pages."""
        busy, frames, copied = self.checkpoint()
        if frames > self.max_wal_pages and self._conn is not None:
            self._conn.execute(f"PRAGMA busy_timeout={RESTART_WAIT_MS}")
            try:
                busy, frames, copied = self.checkpoint("RESTART")
            finally:
                self._conn.execute("PRAGMA busy_timeout=0")
        return busy, frames, copied

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.round()
            except sqlite3.Error:  # e.g. the file is gone under a test; the next round tries again
                log.warning("sqlite checkpoint failed", exc_info=True)
