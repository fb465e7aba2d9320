"""Throwaway stores for tests and benchmarks: a SQLite file, or a PostgreSQL database dropped afterwards."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from sqlalchemy import Connection, Engine, create_engine, text

from threadline.store.db import normalize_url
from threadline.store.migrate import alembic_config, upgrade

PG_URL = os.environ.get("THREADLINE_TEST_DATABASE_URL")


@contextmanager
def throwaway_pg_database(admin_url: str, prefix: str, *, drop_in_background: bool = False) -> Iterator[str]:
    """A new, empty database next to ``admin_url``; its URL, then it is dropped."""
    base = normalize_url(admin_url)
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.rsplit("/", 1)[0] + f"/{name}"
    finally:
        if drop_in_background:
            # DROP DATABASE waits for a checkpoint (seconds here): let it overlap the next test. The
            # thread is not a daemon, so the interpreter still waits for it before exiting.
            threading.Thread(target=_drop, args=(admin, name), name=f"drop-{name}").start()
        else:
            _drop(admin, name)


def _drop(admin: Engine, name: str) -> None:
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@contextmanager
def fresh_database(kind: str, tmp_path: Path) -> Iterator[str]:
    """An empty store of ``kind`` (``sqlite`` or ``postgres``, the latter next to THREADLINE_TEST_DATABASE_URL)."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'e2e.db'}"
        return
    assert PG_URL, "THREADLINE_TEST_DATABASE_URL is not set"
    with throwaway_pg_database(PG_URL, "threadline_e2e", drop_in_background=True) as url:
        yield url


@contextmanager
def database_at(kind: str, tmp_path: Path, revision: str) -> Iterator[str]:
    """A fresh store of ``kind`` migrated up to ``revision``, for testing the migrations after it."""
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path / 'migrate.db'}"
        upgrade(url, revision)
        yield url
        return
    assert PG_URL, "THREADLINE_TEST_DATABASE_URL is not set"
    # A throwaway schema, not a database: dropping a database costs seconds.
    schema = f"migrate_{uuid.uuid4().hex[:10]}"
    admin = create_engine(normalize_url(PG_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = f"{normalize_url(PG_URL)}?options=-csearch_path={schema}"
    try:
        upgrade(url, revision)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def downgrade(conn: Connection, url: str, revision: str) -> None:
    """Migrate down to ``revision`` on ``conn`` (inside the caller's transaction)."""
    cfg = alembic_config(url)
    cfg.attributes["connection"] = conn
    command.downgrade(cfg, revision)
