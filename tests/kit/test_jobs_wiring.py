"""Jobs wired into the app and the CLI: the in-server worker, `threadline worker --drain`, `jobs list`."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from threadline import cli
from threadline.advertiser.jobs import RECONCILE
from threadline.app import create_app
from threadline.config import Settings
from threadline.kit.clock import MovableClock
from threadline.kit.jobs import JobWorker, enqueue
from threadline.store.db import Database
from threadline.store.migrate import upgrade
from threadline.store.models import JobRecord


def test_the_server_runs_a_worker_for_its_lifespan(settings: Settings, clock: MovableClock) -> None:
    app = create_app(settings.model_copy(update={"jobs_worker_enabled": True}), clock=clock)
    ctx = app.state.ctx
    ran = threading.Event()
    ctx.jobs.register("test.ping", lambda _job: ran.set())
    worker = ctx.job_worker
    assert isinstance(worker, JobWorker)
    try:
        with TestClient(app) as client:
            assert worker.running
            with ctx.db.write() as s:
                job_id = enqueue(s, "test.ping", {}, now=clock.now_s())
            assert ran.wait(10)
            counted = 'threadline_jobs_total{kind="test.ping",outcome="done"} 1.0'
            deadline = time.monotonic() + 10
            while counted not in client.get("/metrics").text:  # recorded just after the handler returns
                assert time.monotonic() < deadline, "the job was never counted"
                time.sleep(0.02)
        assert not worker.running
        with ctx.db.read() as s:
            ping = s.get(JobRecord, job_id)
            reconciles = s.execute(select(JobRecord).where(JobRecord.kind == RECONCILE)).scalars().all()
        assert ping is not None
        assert ping.state == "done"
        # The reconciler ran at start and its next run is scheduled.
        assert sorted(j.state for j in reconciles) == ["done", "queued"]
    finally:
        ctx.db.dispose()


def test_worker_can_be_disabled(settings: Settings) -> None:
    app = create_app(settings)  # the test settings turn it off
    try:
        assert app.state.ctx.job_worker is None
        assert RECONCILE in app.state.ctx.jobs.kinds  # handlers are registered all the same
    finally:
        app.state.ctx.db.dispose()


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("THREADLINE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("THREADLINE_DATABASE_URL", url)
    monkeypatch.setenv("THREADLINE_JOB_PLUGINS", "tests.jobs_plugin")
    upgrade(url)
    return url


def test_worker_drain_and_jobs_list(cli_env: str) -> None:
    db = Database(cli_env)
    try:
        with db.write() as s:
            dead_id = enqueue(s, "test.fail", {"why": "bad input"}, now=0, max_attempts=1)
    finally:
        db.dispose()
    result = CliRunner().invoke(cli.app, ["worker", "--drain"])
    assert result.exit_code == 0, result.output
    assert f"job {dead_id} test.fail attempt 1/1: dead in " in result.stderr
    assert "(RuntimeError: always fails: bad input)" in result.stderr
    # + the periodic reconcile, prune and mirror token refresh
    assert "drained 4 job(s): done=3, retry=0, dead=1, lost=0" in result.stderr

    listed = CliRunner().invoke(cli.app, ["jobs", "list", "--state", "dead", "--json"])
    assert listed.exit_code == 0, listed.output
    page = json.loads(listed.stdout)
    assert [(j["id"], j["kind"], j["state"]) for j in page["data"]] == [(dead_id, "test.fail", "dead")]
    assert page["data"][0]["last_error"].startswith("RuntimeError: always fails: bad input")

    table = CliRunner().invoke(cli.app, ["jobs", "list"])
    assert table.exit_code == 0, table.output
    assert "billing.reconcile" in table.stdout
    bad = CliRunner().invoke(cli.app, ["jobs", "list", "--state", "finished"])
    assert bad.exit_code == 2
    bad_cursor = CliRunner().invoke(cli.app, ["jobs", "list", "--after", "x"])
    assert bad_cursor.exit_code == 1
    assert "No such object for cursor after." in bad_cursor.stderr
