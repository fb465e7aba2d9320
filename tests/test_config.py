"""Settings read from the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from threadline.config import Settings


def test_defaults_are_embedded(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("THREADLINE_DATA_DIR", str(tmp_path))
    s = Settings()
    assert s.is_sqlite
    assert s.resolved_database_url == f"sqlite:///{tmp_path.resolve() / 'threadline.db'}"
    assert s.allow_private_fetch_hosts == []
    assert (s.deposit_micros, s.launch_window_seconds, s.auto_approve) == (10_000_000, 172800, False)


def test_private_fetch_hosts_are_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THREADLINE_ALLOW_PRIVATE_FETCH_HOSTS", "127.0.0.1, LocalHost,,")
    assert Settings().allow_private_fetch_hosts == ["127.0.0.1", "localhost"]


def test_postgres_url_is_not_sqlite(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THREADLINE_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1/x")
    assert not Settings().is_sqlite
