"""Durable jobs across real processes: a worker SIGKILLed mid-job, two workers sharing one queue, and
the worker inside `threadline serve`."""

from __future__ import annotations

import itertools
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import httpx
import pytest
from sqlalchemy import func, select

from tests.databases import fresh_database
from tests.e2e.server import ServerProcess
from tests.e2e.support import STORES, admin_headers, server_env
from tests.jobs_plugin import RUNS
from threadline.kit.clock import Clock
from threadline.kit.jobs import enqueue
from threadline.store.db import Database
from threadline.store.migrate import upgrade
from threadline.store.models import JobRecord

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
LEASE_SECONDS = 2
T = TypeVar("T")


def wait_for(fn: Callable[[], T | None], timeout: float, what: str) -> T:
    deadline = time.monotonic() + timeout
    while True:
        found = fn()
        if found is not None and found is not False:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


def jobs_env(database_url: str, data_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        **server_env(database_url),
        "THREADLINE_DATA_DIR": str(data_dir),
        "THREADLINE_JOB_PLUGINS": "tests.jobs_plugin",
        "PYTHONPATH": str(REPO),
        "THREADLINE_JOBS_LEASE_SECONDS": str(LEASE_SECONDS),
        "THREADLINE_JOBS_POLL_SECONDS": "0.05",
    }


class WorkerProcess:
    """`threadline worker` as its own process; its stderr (one line per job) goes to a log file."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.log = log
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", "from threadline.cli import main; main()", "worker"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=out,
                cwd=REPO,
            )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def output(self) -> str:
        return self.log.read_text()

    def wait_ready(self, timeout: float = 60) -> None:
        def ready() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(f"worker exited early: {self.output()}")
            return " ready: " in self.output()

        wait_for(ready, timeout, "the worker to start")

    def terminate(self, timeout: float = 30) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Database]]:
    with fresh_database(request.param, tmp_path) as url:
        upgrade(url)
        db = Database(url)
        try:
            yield url, db
        finally:
            db.dispose()


@pytest.fixture
def workers() -> Iterator[list[WorkerProcess]]:
    started: list[WorkerProcess] = []
    yield started
    for w in started:
        w.kill()


def job_row(db: Database, job_id: int) -> JobRecord:
    with db.read() as s:
        row = s.get(JobRecord, job_id)
    assert row is not None
    return row


def test_sigkilled_worker_job_runs_to_completion_once_after_the_lease(
    store: tuple[str, Database], tmp_path: Path, workers: list[WorkerProcess]
) -> None:
    url, db = store
    effects = tmp_path / "effects"
    effects.mkdir()
    env = jobs_env(url, tmp_path / "data")
    with db.write() as s:
        job_id = enqueue(
            s, "test.record", {"dir": str(effects), "hang_on_first_attempt": True}, now=Clock().now_s()
        )

    a = WorkerProcess(env, tmp_path / "a.log")
    workers.append(a)
    a.wait_ready()
    wait_for(lambda: (effects / f"{job_id}.hanging").exists(), 60, "worker A to start the job")
    a.proc.send_signal(signal.SIGKILL)
    assert a.proc.wait(10) == -signal.SIGKILL
    held = job_row(db, job_id)
    assert (held.state, held.attempts) == ("running", 1)
    assert held.owner is not None
    assert held.owner.split(":")[1] == str(a.pid)
    assert held.lease_until is not None

    b = WorkerProcess(env, tmp_path / "b.log")
    workers.append(b)
    b.wait_ready()
    wait_for(lambda: job_row(db, job_id).state == "done", 60, "worker B to finish the job")
    assert b.terminate() == 0

    done = job_row(db, job_id)
    assert (done.state, done.attempts, done.last_error) == ("done", 2, None)
    assert done.owner is not None
    assert done.owner.split(":")[1] == str(b.pid)
    starts = [line.split() for line in (effects / f"{job_id}.starts").read_text().splitlines()]
    assert [(int(pid), int(attempt)) for pid, attempt, _ in starts] == [(a.pid, 1), (b.pid, 2)]
    # B took it only once A's lease had run out, and the side effect happened exactly once.
    assert float(starts[1][2]) >= held.lease_until
    assert sorted(p.name for p in effects.iterdir()) == sorted(
        [f"{job_id}.starts", f"{job_id}.hanging", f"{job_id}.effect"]
    )
    assert (effects / f"{job_id}.effect").read_text() == str(b.pid)
    assert f"job {job_id} test.record attempt 2/8: done" in b.output()
    # It also ran the reconciler A never got to; nothing failed or lost its lease.
    assert re.search(r"worker stopped: done=\d+, retry=0, dead=0, lost=0", b.output())


def test_two_workers_never_run_the_same_job(
    store: tuple[str, Database], tmp_path: Path, workers: list[WorkerProcess]
) -> None:
    url, db = store
    RUNS.create(db.engine)
    env = {**jobs_env(url, tmp_path / "data"), "THREADLINE_JOBS_LEASE_SECONDS": "60"}
    pair = [WorkerProcess(env, tmp_path / f"w{i}.log") for i in range(2)]
    workers.extend(pair)
    for w in pair:
        w.wait_ready()

    with db.write() as s:
        now = Clock().now_s()
        ids = [enqueue(s, "test.run", {"work_ms": 5}, now=now) for _ in range(200)]

    def all_finished() -> bool:
        with db.read() as s:
            open_jobs = s.execute(
                select(func.count()).where(JobRecord.id.in_(ids), JobRecord.state != "done")
            ).scalar_one()
        return open_jobs == 0

    wait_for(all_finished, 180, "200 jobs to finish")
    for w in pair:
        assert w.terminate() == 0

    with db.read() as s:
        runs = s.execute(select(RUNS.c.job_id, RUNS.c.pid, RUNS.c.started, RUNS.c.ended)).all()
        attempts = s.execute(select(JobRecord.attempts).where(JobRecord.id.in_(ids))).scalars().all()
    assert sorted(r.job_id for r in runs) == sorted(ids)  # each job ran, and ran once
    assert set(attempts) == {1}
    assert {r.pid for r in runs} == {w.pid for w in pair}  # both took part
    by_job: dict[int, list[tuple[float, float]]] = {}
    for r in runs:
        by_job.setdefault(r.job_id, []).append((r.started, r.ended))
    for spans in by_job.values():
        spans.sort()
        assert all(prev[1] <= nxt[0] for prev, nxt in itertools.pairwise(spans))


def test_serve_runs_jobs_in_process(store: tuple[str, Database], tmp_path: Path) -> None:
    url, db = store
    effects = tmp_path / "effects"
    effects.mkdir()
    env = {k: v for k, v in jobs_env(url, tmp_path / "data").items() if k != "THREADLINE_DATA_DIR"}
    server = ServerProcess(tmp_path / "data", env=env)
    server.start()
    try:
        with db.write() as s:
            job_id = enqueue(s, "test.record", {"dir": str(effects)}, now=Clock().now_s())
        wait_for(lambda: (effects / f"{job_id}.effect").exists(), 30, "the server's worker to run the job")
        r = httpx.get(
            f"{server.base_url}/admin/v1/jobs", params={"state": "done"}, headers=admin_headers(), timeout=10
        )
        assert r.status_code == 200
        done = {j["id"]: j for j in r.json()["data"]}
        wait_for(lambda: job_row(db, job_id).state == "done", 10, "the job to be marked done")
        assert "billing.reconcile" in {j["kind"] for j in done.values()}
    finally:
        server.stop()
    assert (effects / f"{job_id}.effect").read_text() == str(server.proc.pid if server.proc else "")
