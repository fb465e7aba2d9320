"""JobWorker: claims due jobs with a lease and runs their handlers, in threads or synchronously.

A handler runs outside any transaction of ours; its outcome is written afterwards. A worker that dies
mid-job leaves the row ``running`` until the lease runs out, then any worker claims it again, so a
handler can run more than once and must be idempotent.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from threadline.kit.clock import Clock
from threadline.kit.jobs import queue
from threadline.kit.jobs.registry import Job, JobRegistry, RetryJob
from threadline.store.db import Database

log = logging.getLogger("threadline.jobs")

_MAX_ERROR_CHARS = 4000


@dataclass(frozen=True)
class Outcome:
    """What became of one claimed job: ``done``, ``retry`` (queued again), ``dead`` or ``lost``
    (the lease expired and another worker owns the job; this run's result was not recorded)."""

    job: Job
    state: str
    seconds: float
    error: str | None = None
    retry_at: int | None = None


def describe_error(exc: BaseException) -> str:
    """The exception line first (what operators list), then as much of the traceback as fits."""
    summary = "".join(traceback.format_exception_only(exc)).strip()
    full = "".join(traceback.format_exception(exc)).strip()
    if len(summary) + 1 + len(full) <= _MAX_ERROR_CHARS:
        return f"{summary}\n{full}"
    return f"{summary}\n...{full[-(_MAX_ERROR_CHARS - len(summary) - 4) :]}"[:_MAX_ERROR_CHARS]


class JobWorker:
    """``start()`` runs ``threads`` claim loops in the background; ``stop()`` lets running jobs finish.

    Tests (and ``threadline worker --drain``) call :meth:`run_pending` / :meth:`drain` instead, in the
    calling thread. Time (due, lease, backoff) comes from ``clock``; only the idle wait is real time.
    """

    def __init__(
        self,
        db: Database,
        registry: JobRegistry,
        clock: Clock,
        *,
        threads: int = 1,
        lease_seconds: int = 300,
        poll_seconds: float = 1.0,
        batch: int = 1,
        name: str = "worker",
        on_outcome: Callable[[Outcome], None] | None = None,
    ) -> None:
        if lease_seconds < 1:
            raise ValueError("lease_seconds must be at least 1")
        self.db = db
        self.registry = registry
        self.clock = clock
        self.threads = max(1, threads)
        self.lease_seconds = lease_seconds
        self.poll_seconds = poll_seconds
        self.batch = max(1, batch)
        self.on_outcome = on_outcome
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{name}:{uuid.uuid4().hex[:8]}"
        self._stopping = threading.Event()
        self._keeper_stop = threading.Event()  # set last: leases are renewed until every job is over
        self._wakeups: list[threading.Event] = []
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        # Jobs whose handler is running, by id: the lease keeper renews their leases.
        self._inflight: dict[int, queue.Claimed] = {}
        self._inflight_lock = threading.Lock()
        self._schedules_pending = False

    # ---- lifecycle ----

    @property
    def running(self) -> bool:
        return bool(self._threads)

    def start(self) -> None:
        with self._lock:
            if self._threads:
                return
            self._stopping.clear()
            self._keeper_stop.clear()
            try:
                self.ensure_schedules()
            except Exception:
                # The store may be briefly unreachable at start; the lease keeper tries again.
                log.exception("job worker: could not schedule periodic jobs")
                self._schedules_pending = True
            self._wakeups = [threading.Event() for _ in range(self.threads)]
            self._threads = [
                threading.Thread(target=self._loop, args=(i,), name=f"threadline-jobs-{i}", daemon=True)
                for i in range(self.threads)
            ]
            self._threads.append(
                threading.Thread(target=self._keep_leases, name="threadline-jobs-lease", daemon=True)
            )
            queue.listen(self)
            for t in self._threads:
                t.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Claim nothing more; wait up to ``timeout`` for running jobs (the lease covers the rest)."""
        with self._lock:
            threads = self._threads
            if not threads:
                return
            self._stopping.set()
            self.ring()
            queue.unlisten(self)
            deadline = self.clock.monotonic() + timeout
            loops, keeper = threads[:-1], threads[-1]
            for t in loops:
                t.join(max(0.0, deadline - self.clock.monotonic()))
            self._keeper_stop.set()
            keeper.join(5)
            self._threads = []

    def ring(self) -> None:
        """Something was enqueued: look now instead of at the next poll."""
        for wake in self._wakeups:
            wake.set()

    def renew_leases(self) -> int:
        """Extend the lease of every job whose handler is running here; how many were renewed.

        A job outliving its lease would otherwise be claimed again while it still runs. Only a dead
        (or stalled) process stops renewing, which is when another worker should take over.
        """
        with self._inflight_lock:
            jobs = list(self._inflight.values())
        if not jobs:
            return 0
        renewed = 0
        with self.db.write() as s:
            now = self.clock.now_s()
            for job in jobs:
                if queue.renew(s, job, lease_until=now + self.lease_seconds, now=now):
                    renewed += 1
                else:
                    log.warning("job %s (%s): lease lost while running", job.id, job.kind)
        return renewed

    # ---- synchronous use ----

    def run_pending(self, limit: int | None = None) -> int:
        """Run jobs due now, in this thread, until none is due or ``limit`` ran; how many ran."""
        return self._claim_and_run(f"{self.owner}/sync", budget=limit)

    def drain(self, max_jobs: int = 100_000) -> int:
        """Alias of :meth:`run_pending` with a safety cap (a handler that keeps enqueuing due work)."""
        return self.run_pending(limit=max_jobs)

    def ensure_schedules(self) -> None:
        """Give every periodic kind its one pending job (a no-op where it already has one)."""
        periodic = self.registry.periodic
        if not periodic:
            return
        with self.db.write() as s:
            now = self.clock.now_s()
            for p in periodic:
                queue.enqueue(s, p.kind, {}, now=now, unique_key=p.unique_key)

    # ---- the loop ----

    def _loop(self, index: int) -> None:
        owner = f"{self.owner}/{index}"
        wake = self._wakeups[index]
        while not self._stopping.is_set():
            try:
                ran = self._claim_and_run(owner)
            except Exception:
                log.exception("job worker: claiming failed; retrying after the poll interval")
                ran = 0
            if ran == 0 and not self._stopping.is_set():
                wake.wait(self.poll_seconds)
                wake.clear()

    def _keep_leases(self) -> None:
        # A third of the lease: two renewals can fail (a slow store) before the lease runs out.
        interval = max(0.05, self.lease_seconds / 3)
        while not self._keeper_stop.wait(interval):
            try:
                if self._schedules_pending:
                    self.ensure_schedules()
                    self._schedules_pending = False
                self.renew_leases()
            except Exception:
                log.exception("job worker: renewing leases failed; trying again")

    def _claim_and_run(self, owner: str, budget: int | None = None) -> int:
        """Run due jobs until none is due, ``budget`` ran, or the worker stops; how many ran.

        While busy, each job's result and the next claim share one write transaction.
        """
        if budget is not None and budget < 1:
            return 0
        now = self.clock.now_s()
        # Nothing due: no write transaction, so an idle worker takes no lock.
        with self.db.read() as s:
            due = queue.next_due(s, self.registry.kinds)
        if due is None or due > now:
            return 0
        with self.db.write() as s:
            claimed = self._claim(s, owner, self._want(budget, 0))
        ran = 0
        while claimed:
            if self._stopping.is_set():
                self._release(claimed)
                break
            job = claimed.pop(0)
            want = 0 if claimed else self._want(budget, ran + 1)
            claimed += self._run(job, owner, want)
            ran += 1
        return ran

    def _want(self, budget: int | None, ran: int) -> int:
        return self.batch if budget is None else max(0, min(self.batch, budget - ran))

    def _claim(self, s: Session, owner: str, limit: int) -> list[queue.Claimed]:
        if limit < 1 or self._stopping.is_set():
            return []
        return queue.claim(
            s,
            kinds=self.registry.kinds,
            owner=owner,
            now=self.clock.now_s(),
            lease_seconds=self.lease_seconds,
            limit=limit,
        )

    def _release(self, jobs: list[queue.Claimed]) -> None:
        with self.db.write() as s:
            for job in jobs:
                queue.release(s, job, now=self.clock.now_s())

    def _run(self, claimed: queue.Claimed, owner: str, claim_next: int) -> list[queue.Claimed]:
        """Run one job, record its outcome and, in the same transaction, claim up to ``claim_next``."""
        job = Job(claimed.id, claimed.kind, claimed.payload, claimed.attempt, claimed.max_attempts)
        started = self.clock.monotonic()
        error: str | None = None
        retry_in: int | None = None
        handler = self.registry.handler(job.kind)
        if job.attempt > job.max_attempts:
            error = "the lease expired during the last attempt (the worker stopped or died)"
        elif handler is None:  # unreachable: claims ask only for registered kinds
            error = f"no handler for job kind {job.kind!r}"
        else:
            with self._inflight_lock:
                self._inflight[job.id] = claimed
            try:
                handler(job)
            except RetryJob as exc:
                error, retry_in = exc.reason, exc.delay_seconds
            except Exception as exc:
                log.warning("job %s (%s) attempt %s failed: %s", job.id, job.kind, job.attempt, exc)
                error, retry_in = describe_error(exc), self.registry.backoff(job.attempt)
            finally:
                with self._inflight_lock:
                    self._inflight.pop(job.id, None)
        seconds = self.clock.monotonic() - started
        with self.db.write() as s:
            outcome = self._record(s, claimed, job, error, retry_in, seconds)
            following = self._claim(s, owner, claim_next)
        if outcome.state == "lost":
            log.warning("job %s (%s): lease lost before the result was recorded", job.id, job.kind)
        elif outcome.state == "dead":
            log.error("job %s (%s) is dead after %s attempt(s): %s", job.id, job.kind, job.attempt, error)
        if self.on_outcome is not None:
            self.on_outcome(outcome)
        return following

    def _record(
        self,
        s: Session,
        claimed: queue.Claimed,
        job: Job,
        error: str | None,
        retry_in: int | None,
        seconds: float,
    ) -> Outcome:
        now = self.clock.now_s()
        if error is None:
            state, retry_at = "done", None
            recorded = queue.mark_done(s, claimed, now=now)
        else:
            final = retry_in is None or job.attempt >= job.max_attempts
            state, retry_at = ("dead", None) if final else ("retry", now + (retry_in or 0))
            recorded = queue.mark_failed(s, claimed, now=now, error=error, retry_at=retry_at)
        periodic = self.registry.periodic_of(job.kind)
        if not recorded:
            state, retry_at = "lost", None
        elif periodic is not None and state in ("done", "dead"):
            queue.enqueue(
                s, job.kind, {}, now=now, run_at=now + periodic.every_seconds, unique_key=periodic.unique_key
            )
        return Outcome(job, state, seconds, error, retry_at)
