"""Durable jobs: enqueue inside the caller's transaction, claims with a lease, retries, dead jobs, schedules."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import select

from threadline.config import Settings
from threadline.context import AppContext, build_context
from threadline.kit.clock import MovableClock
from threadline.kit.jobs import Job, JobRegistry, JobWorker, Outcome, RetryJob, enqueue, queue
from threadline.store.models import JobRecord

T0 = 1_800_000_000


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock(start=T0, frozen=True)


@pytest.fixture
def ctx(settings: Settings, clock: MovableClock) -> Iterator[AppContext]:
    context = build_context(settings, clock)
    yield context
    context.db.dispose()


@pytest.fixture
def registry() -> JobRegistry:
    return JobRegistry(retry_base_seconds=10, retry_max_seconds=100)


def worker_for(ctx: AppContext, registry: JobRegistry, **kw: object) -> JobWorker:
    return JobWorker(ctx.db, registry, ctx.clock, lease_seconds=60, **kw)  # type: ignore[arg-type]


def add(ctx: AppContext, kind: str, payload: dict[str, object] | None = None, **kw: object) -> int:
    with ctx.db.write() as s:
        return enqueue(s, kind, payload or {}, now=ctx.clock.now_s(), **kw)  # type: ignore[arg-type]


def row(ctx: AppContext, job_id: int) -> JobRecord:
    with ctx.db.read() as s:
        found = s.get(JobRecord, job_id)
    assert found is not None
    return found


def recorder(calls: list[Job], fail: Callable[[Job], None] | None = None) -> Callable[[Job], None]:
    def handler(job: Job) -> None:
        calls.append(job)
        if fail is not None:
            fail(job)

    return handler


def test_enqueue_belongs_to_the_callers_transaction(ctx: AppContext, registry: JobRegistry) -> None:
    calls: list[Job] = []
    registry.register("mail.send", recorder(calls))

    class Boom(Exception):
        pass

    def enqueue_then_fail() -> None:
        with ctx.db.write() as s:
            enqueue(s, "mail.send", {"to": "a@example.com"}, now=ctx.clock.now_s())
            raise Boom

    with pytest.raises(Boom):
        enqueue_then_fail()
    with ctx.db.read() as s:
        assert s.execute(select(JobRecord)).scalars().all() == []

    job_id = add(ctx, "mail.send", {"to": "b@example.com"})
    assert worker_for(ctx, registry).run_pending() == 1
    assert [(j.id, j.kind, j.payload, j.attempt) for j in calls] == [
        (job_id, "mail.send", {"to": "b@example.com"}, 1)
    ]
    done = row(ctx, job_id)
    assert (done.state, done.attempts, done.finished_at, done.lease_until) == ("done", 1, T0, None)
    assert done.last_error is None


def test_scheduled_job_never_runs_early(ctx: AppContext, registry: JobRegistry, clock: MovableClock) -> None:
    calls: list[Job] = []
    registry.register("report", recorder(calls))
    job_id = add(ctx, "report", run_at=T0 + 3600)
    worker = worker_for(ctx, registry)
    assert worker.run_pending() == 0
    clock.advance(3599)
    assert worker.run_pending() == 0
    assert (row(ctx, job_id).state, calls) == ("queued", [])
    clock.advance(1)
    assert worker.run_pending() == 1
    assert [j.id for j in calls] == [job_id]


def test_failures_back_off_exponentially_then_succeed(
    ctx: AppContext, registry: JobRegistry, clock: MovableClock
) -> None:
    calls: list[Job] = []

    def flaky(job: Job) -> None:
        if job.attempt < 3:
            raise ConnectionError(f"upstream down (attempt {job.attempt})")

    registry.register("sync", recorder(calls, flaky))
    job_id = add(ctx, "sync")
    worker = worker_for(ctx, registry)

    assert worker.run_pending() == 1
    first = row(ctx, job_id)
    assert (first.state, first.attempts, first.run_at) == ("queued", 1, T0 + 10)
    assert first.last_error is not None
    assert first.last_error.startswith("ConnectionError: upstream down (attempt 1)")
    clock.advance(9)
    assert worker.run_pending() == 0
    clock.advance(1)
    assert worker.run_pending() == 1
    second = row(ctx, job_id)
    assert (second.state, second.attempts, second.run_at) == ("queued", 2, T0 + 10 + 20)
    clock.advance(19)
    assert worker.run_pending() == 0
    clock.advance(1)
    assert worker.run_pending() == 1
    final = row(ctx, job_id)
    assert (final.state, final.attempts, final.finished_at) == ("done", 3, T0 + 30)
    assert [j.attempt for j in calls] == [1, 2, 3]


def test_backoff_is_capped(registry: JobRegistry) -> None:
    assert [registry.backoff(n) for n in range(1, 7)] == [10, 20, 40, 80, 100, 100]


def test_retry_job_waits_the_asked_delay(ctx: AppContext, registry: JobRegistry, clock: MovableClock) -> None:
    def limited(job: Job) -> None:
        if job.attempt == 1:
            raise RetryJob(300, "rate limited by upstream")

    registry.register("publish", limited)
    job_id = add(ctx, "publish")
    worker = worker_for(ctx, registry)
    assert worker.run_pending() == 1
    waiting = row(ctx, job_id)
    assert (waiting.state, waiting.run_at, waiting.last_error) == (
        "queued",
        T0 + 300,
        "rate limited by upstream",
    )
    clock.advance(299)
    assert worker.run_pending() == 0
    clock.advance(1)
    assert worker.run_pending() == 1
    assert row(ctx, job_id).state == "done"


def test_always_failing_job_ends_dead_with_its_error(
    ctx: AppContext, registry: JobRegistry, clock: MovableClock
) -> None:
    calls: list[Job] = []

    def broken(job: Job) -> None:
        raise ValueError(f"bad payload {job.payload['n']}")

    registry.register("parse", recorder(calls, broken))
    outcomes: list[Outcome] = []
    job_id = add(ctx, "parse", {"n": 7}, max_attempts=3)
    worker = worker_for(ctx, registry, on_outcome=outcomes.append)
    for _ in range(10):
        worker.run_pending()
        clock.advance(1000)
    dead = row(ctx, job_id)
    assert (dead.state, dead.attempts, dead.finished_at) == ("dead", 3, T0 + 2000)
    assert dead.last_error is not None
    assert dead.last_error.splitlines()[0] == "ValueError: bad payload 7"
    assert "Traceback" in dead.last_error
    assert [j.attempt for j in calls] == [1, 2, 3]
    assert [o.state for o in outcomes] == ["retry", "retry", "dead"]


def test_retry_job_on_the_last_attempt_is_dead(ctx: AppContext, registry: JobRegistry) -> None:
    def limited(_job: Job) -> None:
        raise RetryJob(5, "still rate limited")

    registry.register("publish", limited)
    job_id = add(ctx, "publish", max_attempts=1)
    assert worker_for(ctx, registry).run_pending() == 1
    dead = row(ctx, job_id)
    assert (dead.state, dead.last_error) == ("dead", "still rate limited")


def test_expired_lease_lets_another_worker_take_the_job(
    ctx: AppContext, registry: JobRegistry, clock: MovableClock
) -> None:
    calls: list[Job] = []
    registry.register("render", recorder(calls))
    job_id = add(ctx, "render")
    # Worker A claims the job and dies before finishing it.
    with ctx.db.write() as s:
        [lost] = queue.claim(s, kinds=["render"], owner="a", now=T0, lease_seconds=60, limit=5)
    assert (lost.id, lost.attempt) == (job_id, 1)
    running = row(ctx, job_id)
    assert (running.state, running.owner, running.lease_until) == ("running", "a", T0 + 60)

    b = worker_for(ctx, registry)
    clock.advance(59)
    assert b.run_pending() == 0  # the lease still holds
    clock.advance(1)
    assert b.run_pending() == 1
    assert [(j.id, j.attempt) for j in calls] == [(job_id, 2)]
    done = row(ctx, job_id)
    assert (done.state, done.attempts) == ("done", 2)
    assert done.owner is not None
    assert done.owner.startswith(b.owner)
    # A's late report changes nothing: the job is fenced on (owner, attempt).
    with ctx.db.write() as s:
        assert queue.mark_done(s, lost, now=clock.now_s()) is False
        assert queue.mark_failed(s, lost, now=clock.now_s(), error="late", retry_at=T0) is False
    assert row(ctx, job_id).state == "done"


def test_lease_lost_on_the_last_attempt_is_dead_without_a_rerun(
    ctx: AppContext, registry: JobRegistry, clock: MovableClock
) -> None:
    calls: list[Job] = []
    registry.register("render", recorder(calls))
    job_id = add(ctx, "render", max_attempts=1)
    with ctx.db.write() as s:
        queue.claim(s, kinds=["render"], owner="a", now=T0, lease_seconds=60, limit=1)
    clock.advance(60)
    assert worker_for(ctx, registry).run_pending() == 1
    dead = row(ctx, job_id)
    assert (dead.state, calls) == ("dead", [])
    assert dead.last_error is not None
    assert "lease expired" in dead.last_error


def test_workers_claim_only_kinds_they_know(ctx: AppContext, registry: JobRegistry) -> None:
    registry.register("known", lambda _job: None)
    other = add(ctx, "elsewhere.only")
    known = add(ctx, "known")
    assert worker_for(ctx, registry).run_pending() == 1
    assert (row(ctx, known).state, row(ctx, other).state) == ("done", "queued")


def test_claims_never_hand_out_a_job_twice(ctx: AppContext) -> None:
    ids = [add(ctx, "k") for _ in range(5)]
    with ctx.db.write() as s:
        first = queue.claim(s, kinds=["k"], owner="a", now=T0, lease_seconds=60, limit=3)
    with ctx.db.write() as s:
        second = queue.claim(s, kinds=["k"], owner="b", now=T0, lease_seconds=60, limit=3)
    with ctx.db.write() as s:
        third = queue.claim(s, kinds=["k"], owner="c", now=T0, lease_seconds=60, limit=3)
    assert [j.id for j in first] == ids[:3]
    assert [j.id for j in second] == ids[3:]
    assert third == []


def test_periodic_job_has_one_pending_run_and_reschedules_itself(
    ctx: AppContext, registry: JobRegistry, clock: MovableClock
) -> None:
    calls: list[Job] = []
    registry.every("tick", 600, recorder(calls))
    worker = worker_for(ctx, registry)
    other = worker_for(ctx, registry)
    worker.ensure_schedules()
    other.ensure_schedules()  # a second process starting: still one pending job
    with ctx.db.read() as s:
        [pending] = s.execute(select(JobRecord).where(JobRecord.kind == "tick")).scalars().all()
    assert (pending.state, pending.run_at) == ("queued", T0)

    assert worker.run_pending() == 1
    with ctx.db.read() as s:
        jobs = s.execute(select(JobRecord).order_by(JobRecord.id)).scalars().all()
    assert [(j.state, j.run_at) for j in jobs] == [("done", T0), ("queued", T0 + 600)]
    clock.advance(599)
    other.ensure_schedules()
    assert worker.run_pending() == 0
    clock.advance(1)
    assert worker.run_pending() == 1
    assert len(calls) == 2


def test_enqueue_with_a_unique_key_returns_the_pending_job(ctx: AppContext) -> None:
    first = add(ctx, "k", unique_key="one")
    assert add(ctx, "k", unique_key="one") == first
    assert add(ctx, "k", unique_key="two") != first


def test_run_pending_respects_its_limit(ctx: AppContext, registry: JobRegistry) -> None:
    registry.register("k", lambda _job: None)
    for _ in range(5):
        add(ctx, "k")
    worker = worker_for(ctx, registry, batch=2)
    assert worker.run_pending(limit=3) == 3
    assert worker.drain() == 2


def test_background_worker_runs_jobs_and_stops(ctx: AppContext, registry: JobRegistry) -> None:
    seen: list[int] = []
    done = threading.Event()

    def handler(job: Job) -> None:
        seen.append(job.id)
        if len(seen) == 20:
            done.set()

    registry.register("k", handler)
    # A long poll: only the enqueue's after-commit wake-up can make this quick.
    worker = worker_for(ctx, registry, threads=2, poll_seconds=30)
    worker.start()
    try:
        ids = [add(ctx, "k") for _ in range(20)]
        assert done.wait(10), f"only {len(seen)} of 20 jobs ran"
    finally:
        started = time.monotonic()
        worker.stop()
    assert time.monotonic() - started < 5
    assert not worker.running
    assert sorted(seen) == ids
    assert not any(t.name.startswith("threadline-jobs") for t in threading.enumerate())


def test_running_jobs_keep_their_lease(ctx: AppContext, registry: JobRegistry, clock: MovableClock) -> None:
    seen: list[tuple[int | None, int]] = []
    worker = worker_for(ctx, registry)

    def long_running(job: Job) -> None:
        clock.advance(50)
        assert worker.renew_leases() == 1  # what the lease keeper thread does every lease/3
        seen.append((row(ctx, job.id).lease_until, worker.renew_leases()))
        clock.advance(50)  # past the first lease: only the renewal keeps other workers off it
        other = worker_for(ctx, JobRegistry())
        other.registry.register("long", lambda _job: None)
        assert other.run_pending() == 0

    registry.register("long", long_running)
    job_id = add(ctx, "long")
    assert worker.run_pending() == 1
    assert seen == [(T0 + 50 + 60, 1)]
    done = row(ctx, job_id)
    assert (done.state, done.attempts) == ("done", 1)
    assert worker.renew_leases() == 0  # nothing in flight


def test_the_lease_keeper_thread_renews(ctx: AppContext, registry: JobRegistry, clock: MovableClock) -> None:
    release = threading.Event()
    started = threading.Event()

    def long_running(_job: Job) -> None:
        started.set()
        release.wait(30)

    registry.register("long", long_running)
    worker = JobWorker(ctx.db, registry, ctx.clock, lease_seconds=1, poll_seconds=30)
    worker.start()
    try:
        job_id = add(ctx, "long")
        assert started.wait(10)
        first = row(ctx, job_id).lease_until
        assert first == T0 + 1
        clock.advance(10)
        deadline = time.monotonic() + 10
        while row(ctx, job_id).lease_until == first:  # renewed every third of a (1 s) lease
            assert time.monotonic() < deadline, "the lease was never renewed"
            time.sleep(0.05)
        assert row(ctx, job_id).lease_until == T0 + 10 + 1
    finally:
        release.set()
        worker.stop()
    assert row(ctx, job_id).state == "done"


def test_prune_deletes_old_done_jobs_only(
    ctx: AppContext, registry: JobRegistry, clock: MovableClock
) -> None:
    def bad(_job: Job) -> None:
        raise ValueError("no")

    registry.register("ok", lambda _job: None)
    registry.register("bad", bad)
    old_done = add(ctx, "ok")
    old_dead = add(ctx, "bad", max_attempts=1)
    worker_for(ctx, registry).run_pending()
    clock.advance(100)
    new_done = add(ctx, "ok")
    queued = add(ctx, "ok", run_at=T0 + 10_000)
    worker_for(ctx, registry).run_pending()
    with ctx.db.write() as s:
        assert queue.prune(s, finished_before=T0 + 50) == 1
    with ctx.db.read() as s:
        left = set(s.execute(select(JobRecord.id)).scalars())
    assert left == {old_dead, new_done, queued}
    assert old_done not in left
