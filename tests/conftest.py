"""Shared fixtures: every API test runs on SQLite and, when THREADLINE_TEST_DATABASE_URL is set, on PostgreSQL."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.pool import StaticPool

from tests.databases import throwaway_pg_database
from threadline.app import create_app
from threadline.config import Settings
from threadline.kit.clock import MovableClock
from threadline.store.migrate import upgrade
from threadline.store.models import Base

PG_URL = os.environ.get("THREADLINE_TEST_DATABASE_URL")
REDIS_URL = os.environ.get("THREADLINE_TEST_REDIS_URL")
ADMIN_TOKEN = "adm_test_token"

STORES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def redis_db_for_worker(url: str, worker: str) -> str:
    """``url`` on its own Redis database for xdist worker ``worker`` (gw0 -> db 1, gw1 -> db 2, ...).

    Redis keys are shared by every process on the server: a test that resets or counts keys (the rate
    limiter's reset() deletes every threadline:rl:* key) would otherwise see another worker's. Database 0
    stays for runs without xdist; 16 databases (Redis's default) cover 15 workers.
    """
    index = int(worker.removeprefix("gw")) + 1
    if index > 15:
        raise pytest.UsageError(f"xdist worker {worker}: Redis has 16 databases; run at most 15 workers")
    parts = urlsplit(url if "://" in url else f"redis://{url}")
    return urlunsplit(parts._replace(path=f"/{index}"))


def pytest_configure(config: pytest.Config) -> None:
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker and REDIS_URL:
        # Tests read the variable when they run; server processes they start inherit it.
        os.environ["THREADLINE_TEST_REDIS_URL"] = redis_db_for_worker(REDIS_URL, worker)


def pytest_report_header(config: pytest.Config) -> list[str]:
    lines = [f"threadline stores: sqlite{' + postgres' if PG_URL else ''}"]
    if not PG_URL:
        lines.append("THREADLINE_TEST_DATABASE_URL not set: PostgreSQL variants are SKIPPED")
    if not REDIS_URL:
        lines.append("THREADLINE_TEST_REDIS_URL not set: Redis tests are SKIPPED")
    return lines


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for line in pytest_report_header(terminalreporter.config)[1:]:
        terminalreporter.write_line(line, yellow=True, bold=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skip_pg = pytest.mark.skip(reason="THREADLINE_TEST_DATABASE_URL not set (PostgreSQL)")
    skip_redis = pytest.mark.skip(reason="THREADLINE_TEST_REDIS_URL not set (Redis)")
    for item in items:
        if "postgres" in item.keywords and not PG_URL:
            item.add_marker(skip_pg)
        if "redis" in item.keywords and not REDIS_URL:
            item.add_marker(skip_redis)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, migrated once."""
    assert PG_URL
    with throwaway_pg_database(PG_URL, "threadline_test") as url:
        upgrade(url)
        yield url
        cached = _pg_engines.pop(url, None)
        if cached is not None:
            cached[0].dispose()


# Emptying the session's database between tests. TRUNCATE of every table costs ~200 ms (it rewrites
# each table's files); DELETE of the few rows a test wrote costs ~30 ms. As a superuser the session runs
# with session_replication_role = replica, so neither foreign keys nor our triggers fire while deleting
# (TRUNCATE fired none either), and every sequence restarts as RESTART IDENTITY did. serving_state holds
# a version counter seeded by its migration: it is state, not test data.
_pg_engines: dict[str, tuple[Engine, str]] = {}


def _empty_pg_sql(engine: Engine) -> str:
    with engine.connect() as conn:
        tables = conn.execute(
            text(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
                " AND tablename NOT IN ('alembic_version', 'serving_state') ORDER BY tablename"
            )
        ).scalars()
        sequences = conn.execute(
            text("SELECT sequencename FROM pg_sequences WHERE schemaname = current_schema()")
        ).scalars()
        deletes = "".join(f'DELETE FROM "{t}";' for t in tables)
        restarts = "".join(f'ALTER SEQUENCE "{q}" RESTART;' for q in sequences)
    return f"SET LOCAL session_replication_role = replica;{deletes}{restarts}"


def _truncate_pg(url: str) -> None:
    if url not in _pg_engines:
        engine = create_engine(url, poolclass=StaticPool)
        _pg_engines[url] = (engine, _empty_pg_sql(engine))  # the tables are the migrations': fixed
    engine, empty = _pg_engines[url]
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(empty)
    except ProgrammingError:  # not a superuser: no replica role, so TRUNCATE (slower, same outcome)
        tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables if t.name != "serving_state")
        with engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=STORES)
def db_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    if request.param == "sqlite":
        path = tmp_path / "threadline.db"
        shutil.copyfile(sqlite_template, path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("pg_database")
    _truncate_pg(url)
    return url


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        database_url=db_url,
        admin_token=ADMIN_TOKEN,
        secret_key="test-secret-key",
        log_requests=False,
        allow_private_fetch_hosts=["127.0.0.1", "localhost"],
        # Tests run jobs by hand (JobWorker.run_pending); a background worker would race them.
        jobs_worker_enabled=False,
    )


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock()


@pytest.fixture
def app(settings: Settings, clock: MovableClock) -> Iterator[FastAPI]:
    application = create_app(settings, clock=clock)
    yield application
    application.state.ctx.db.dispose()


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def admin_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN_TOKEN}"}
