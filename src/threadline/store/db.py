"""Engine and transaction helpers for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool


def normalize_url(url: str) -> str:
    """PostgreSQL URLs without a driver (``postgresql://``, ``postgres://``) use psycopg 3."""
    for plain in ("postgresql://", "postgres://"):
        if url.startswith(plain):
            return "postgresql+psycopg://" + url[len(plain) :]
    return url


BUSY_TIMEOUT_MS = 30_000  # SQLite: how long a statement waits for another writer's lock

# SQLite's own default: a COMMIT that leaves the WAL past this many pages checkpoints it, fsyncs included.
SQLITE_AUTOCHECKPOINT_PAGES = 1000


@dataclass
class WalPolicy:
    """The wal_autocheckpoint every connection of an engine runs with, applied at its next BEGIN.

    0 only while a checkpointer (store/checkpoint.py) runs: then no commit pays for a checkpoint.
    """

    autocheckpoint: int = SQLITE_AUTOCHECKPOINT_PAGES


def make_engine(url: str, *, pool_size: int = 10, wal: WalPolicy | None = None) -> Engine:
    url = normalize_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=pool_size,
            max_overflow=20,
        )
        _configure_sqlite(engine, wal or WalPolicy())
        return engine
    return create_engine(url, pool_size=pool_size, max_overflow=20, pool_pre_ping=True)


def make_null_engine(url: str) -> Engine:
    """An engine that opens a fresh connection per use (migrations, CLI one-offs)."""
    url = normalize_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, poolclass=NullPool
        )
        _configure_sqlite(engine, WalPolicy())
        return engine
    return create_engine(url, poolclass=NullPool)


def _configure_sqlite(engine: Engine, wal: WalPolicy) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy own transaction boundaries so writers can take the lock up front.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Straight to the driver: these return no rows, and through SQLAlchemy's statement machinery
        # they cost ~50 µs each, up to three per transaction, about a quarter of a one-row serving batch.
        driver = conn.connection.driver_connection
        with sqlalchemy_errors(conn, "BEGIN"):
            # conn.info lives as long as the pooled DBAPI connection: the PRAGMA runs once per change.
            pages = wal.autocheckpoint
            if conn.info.get("wal_autocheckpoint", SQLITE_AUTOCHECKPOINT_PAGES) != pages:
                driver.execute(f"PRAGMA wal_autocheckpoint={int(pages)}")
                conn.info["wal_autocheckpoint"] = pages
            # BEGIN IMMEDIATE: a writer waits for the lock at the start instead of failing on upgrade.
            if not conn.info.get("nowait"):
                driver.execute("BEGIN IMMEDIATE" if conn.info.get("write") else "BEGIN")
                return
            # A writer that must not wait (the event loop's): the lock now, or "database is locked" at once.
            driver.execute("PRAGMA busy_timeout=0")
            try:
                driver.execute("BEGIN IMMEDIATE")
            finally:
                driver.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")


@contextmanager
def sqlalchemy_errors(conn: Connection, statement: str) -> Iterator[None]:
    """Driver errors raised as SQLAlchemy would raise them, for statements sent to the driver directly
    (the begin hook above, store/bulk.py): the batch writers retry OperationalError (a lock, a deadlock,
    a dropped connection) and the callers catch IntegrityError."""
    dbapi = conn.dialect.loaded_dbapi
    try:
        yield
    except dbapi.Error as exc:
        raise DBAPIError.instance(
            statement, None, exc, dbapi.Error, hide_parameters=True, dialect=conn.dialect
        ) from exc


class Database:
    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = url
        self.wal = WalPolicy()
        self.engine = make_engine(url, pool_size=pool_size, wal=self.wal)
        self.is_sqlite = url.startswith("sqlite")
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reads; closing it ends the transaction (objects stay readable)."""
        with self._sessions() as session:
            yield session

    @contextmanager
    def write(self, *, wait: bool = True) -> Iterator[Session]:
        """A write transaction: committed on success, rolled back on error.

        ``wait=False`` (SQLite): if another connection holds the write lock, the first statement raises
        OperationalError at once instead of waiting up to BUSY_TIMEOUT_MS.
        """
        with self.engine.connect() as conn:
            conn.info["write"] = True  # SQLite: BEGIN IMMEDIATE (see _configure_sqlite)
            if not wait:
                conn.info["nowait"] = True
            try:
                with Session(bind=conn, expire_on_commit=False) as session:
                    try:
                        yield session
                        session.commit()
                    except BaseException:
                        session.rollback()
                        raise
            finally:
                conn.info.pop("write", None)
                conn.info.pop("nowait", None)

    def dispose(self) -> None:
        self.engine.dispose()
