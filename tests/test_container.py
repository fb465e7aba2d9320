"""The service container: built without side effects, components started and stopped with the app."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.factories import make_org
from tests.serving.helpers import make_publisher
from threadline.app import create_app
from threadline.config import Settings
from threadline.context import Components, build_context
from threadline.kit.clock import MovableClock
from threadline.store.checkpoint import THREAD_NAME as CHECKPOINT_THREAD

COMPONENT_THREADS = ("serving-index", "threadline-event-writer")
SQLITE_THREADS = (CHECKPOINT_THREAD,)  # only a SQLite store has a checkpointer


def _component_threads() -> list[threading.Thread]:
    names = COMPONENT_THREADS + SQLITE_THREADS
    return [t for t in threading.enumerate() if t.name in names and t.is_alive()]


def test_building_the_app_writes_no_file_and_starts_no_thread(tmp_path: Path, settings: Settings) -> None:
    data_dir = tmp_path / "fresh-data"
    fresh = settings.model_copy(update={"data_dir": data_dir, "secret_key": None, "admin_token": None})
    before = set(threading.enumerate())
    app = create_app(fresh, clock=MovableClock())
    try:
        assert not data_dir.exists()
        # Only new threads count: another test's helper thread (tests/databases.py drops e2e databases
        # in the background) may end meanwhile.
        assert set(threading.enumerate()) - before == set()
    finally:
        app.state.ctx.db.dispose()


def test_no_component_thread_outlives_its_app(settings: Settings, clock: MovableClock) -> None:
    assert _component_threads() == []
    app = create_app(settings, clock=clock)
    org = make_org(app)
    with TestClient(app) as client:
        expected = set(COMPONENT_THREADS) | (set(SQLITE_THREADS) if settings.is_sqlite else set())
        assert {t.name for t in _component_threads()} == expected
        publisher = make_publisher(app)
        # Requests that build the serving snapshot and queue an event do not start threads of their own.
        r = client.post(
            "/api/v1/ssp/bid-request", headers=publisher.headers, json={"userId": "u", "messages": []}
        )
        assert r.status_code in (200, 400), r.text
        event_headers = {"Authorization": f"Bearer {_event_key(app, org.id)}"}
        assert (
            client.post("/v1/api/collect", headers=event_headers, json={"event_name": "x"}).status_code == 204
        )
    assert _component_threads() == []
    app.state.ctx.db.dispose()


def _event_key(app: object, org_id: str) -> str:
    from threadline.auth.keys import mint_key

    ctx = app.state.ctx  # type: ignore[attr-defined]
    with ctx.db.write() as s:
        _, plain = mint_key(s, ctx.clock, kind="event", org_id=org_id, label="container")
    return str(plain)


def test_the_cli_and_the_app_build_the_same_container(settings: Settings) -> None:
    ctx = build_context(settings)
    app = create_app(settings)
    try:
        assert ctx.components.names() == app.state.ctx.components.names()
        assert type(ctx.payments) is type(app.state.ctx.payments)
        assert type(ctx.media_storage) is type(app.state.ctx.media_storage)
    finally:
        ctx.db.dispose()
        app.state.ctx.db.dispose()


class _Recorder:
    def __init__(self, name: str, log: list[str], fail_stop: bool = False) -> None:
        self.name = name
        self.log = log
        self.fail_stop = fail_stop

    def start(self) -> None:
        self.log.append(f"start {self.name}")

    def stop(self) -> None:
        self.log.append(f"stop {self.name}")
        if self.fail_stop:
            raise RuntimeError("boom")


def test_components_start_in_order_and_all_stop_in_reverse_even_if_one_fails() -> None:
    log: list[str] = []
    components = Components()
    components.add("a", _Recorder("a", log))
    components.add("b", _Recorder("b", log, fail_stop=True))
    components.add("c", _Recorder("c", log))
    components.start()
    components.start()  # idempotent
    components.stop()
    assert log == ["start a", "start b", "start c", "stop c", "stop b", "stop a"]
    with pytest.raises(ValueError, match="already registered"):
        components.add("a", _Recorder("a", log))
