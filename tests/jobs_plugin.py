"""Test-only job kinds. Worker and server processes under test load them with
THREADLINE_JOB_PLUGINS=tests.jobs_plugin (PYTHONPATH at the repo root); production code never imports this."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from sqlalchemy import BigInteger, Column, Float, Integer, MetaData, Table, insert

from threadline.context import AppContext
from threadline.kit.jobs import Job, JobRegistry

# One row per execution of a test.run job (no unique key: a job run twice shows up twice).
RUNS = Table(
    "test_job_runs",
    MetaData(),
    Column("job_id", BigInteger, nullable=False),
    Column("pid", Integer, nullable=False),
    Column("started", Float, nullable=False),  # CLOCK_MONOTONIC: comparable across processes
    Column("ended", Float, nullable=False),
)


def register_jobs(registry: JobRegistry, ctx: AppContext) -> None:
    def record(job: Job) -> None:
        """Its side effect is a file created once (O_EXCL), whoever gets there; every start is logged."""
        out = Path(job.payload["dir"])
        with (out / f"{job.id}.starts").open("a") as fh:
            fh.write(f"{os.getpid()} {job.attempt} {time.time()}\n")
            fh.flush()
            os.fsync(fh.fileno())
        if job.payload.get("hang_on_first_attempt") and job.attempt == 1:
            (out / f"{job.id}.hanging").touch()
            threading.Event().wait(120)  # until the test SIGKILLs this process
            raise RuntimeError("was not killed")
        try:
            fd = os.open(out / f"{job.id}.effect", os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return
        with os.fdopen(fd, "w") as fh:
            fh.write(str(os.getpid()))

    def run(job: Job) -> None:
        started = ctx.clock.monotonic()
        threading.Event().wait(job.payload.get("work_ms", 0) / 1000)  # the job's "work"
        ended = ctx.clock.monotonic()
        with ctx.db.write() as s:
            s.execute(insert(RUNS).values(job_id=job.id, pid=os.getpid(), started=started, ended=ended))

    def fail(job: Job) -> None:
        raise RuntimeError(f"always fails: {job.payload.get('why', 'no reason')}")

    registry.register("test.record", record)
    registry.register("test.run", run)
    registry.register("test.fail", fail)
