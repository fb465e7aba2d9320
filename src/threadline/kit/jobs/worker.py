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
        self._wakeups: list[threading.Event] = []
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    # ---- lifecycle ----

    @property
    def running(self) -> bool:
        return bool(self._threads)

    def start(self) -> None:
        with self._lock:
            if self._threads:
                return
            self._stopping.clear()
            try:
                self.ensure_schedules()
            except Exception:
                # The store may be briefly unreachable at start; the loops try again every poll.
                log.exception("job worker: could not schedule periodic jobs")
            self._wakeups = [threading.Event() for _ in range(self.threads)]
            self._threads = [
                threading.Thread(target=self._loop, args=(i,), name=f"threadline-jobs-{i}", daemon=True)
                for i in range(self.threads)
            ]
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
            for t in threads:
                t.join(timeout / len(threads))
            self._threads = []

    def ring(self) -> None:
        """Something was enqueued: look now instead of at the next poll."""
        for wake in self._wakeups:
            wake.set()

    # ---- synchronous use ----

    def run_pending(self, limit: int | None = None) -> int:
        """Run jobs due now, in this thread, until none is due or ``limit`` ran; how many ran."""
        ran = 0
        while limit is None or ran < limit:
            batch = self.batch if limit is None else min(self.batch, limit - ran)
            n = self._claim_and_run(f"{self.owner}/sync", batch)
            if n == 0:
                break
            ran += n
        return ran

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
                ran = self._claim_and_run(owner, self.batch)
            except Exception:
                log.exception("job worker: claiming failed; retrying after the poll interval")
                ran = 0
            if ran == 0 and not self._stopping.is_set():
                wake.wait(self.poll_seconds)
                wake.clear()

    def _claim_and_run(self, owner: str, limit: int) -> int:
        kinds = self.registry.kinds
        with self.db.read() as s:
            due = queue.next_due(s, kinds)
        now = self.clock.now_s()
        if due is None or due > now:
            return 0  # nothing due: no write transaction, so an idle worker takes no lock
        with self.db.write() as s:
            claimed = queue.claim(
                s, kinds=kinds, owner=owner, now=now, lease_seconds=self.lease_seconds, limit=limit
            )
        for i, job in enumerate(claimed):
            if self._stopping.is_set():
                self._release(claimed[i:])
                break
            self._run(job)
        return len(claimed)

    def _release(self, jobs: list[queue.Claimed]) -> None:
        with self.db.write() as s:
            for job in jobs:
                queue.release(s, job, now=self.clock.now_s())

    def _run(self, claimed: queue.Claimed) -> None:
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
            try:
                handler(job)
            except RetryJob as exc:
                error, retry_in = exc.reason, exc.delay_seconds
            except Exception as exc:
                log.warning("job %s (%s) attempt %s failed: %s", job.id, job.kind, job.attempt, exc)
                error, retry_in = describe_error(exc), self.registry.backoff(job.attempt)
        seconds = self.clock.monotonic() - started
        outcome = self._record(claimed, job, error, retry_in, seconds)
        if self.on_outcome is not None:
            self.on_outcome(outcome)

    def _record(
        self, claimed: queue.Claimed, job: Job, error: str | None, retry_in: int | None, seconds: float
    ) -> Outcome:
        periodic = self.registry.periodic_of(job.kind)
        with self.db.write() as s:
            now = self.clock.now_s()
            if error is None:
                state, retry_at = "done", None
                recorded = queue.mark_done(s, claimed, now=now)
            else:
                final = retry_in is None or job.attempt >= job.max_attempts
                state, retry_at = ("dead", None) if final else ("retry", now + (retry_in or 0))
                recorded = queue.mark_failed(s, claimed, now=now, error=error, retry_at=retry_at)
            if not recorded:
                state, retry_at = "lost", None
            elif periodic is not None and state in ("done", "dead"):
                queue.enqueue(
                    s,
                    job.kind,
                    {},
                    now=now,
                    run_at=now + periodic.every_seconds,
                    unique_key=periodic.unique_key,
                )
        if state == "lost":
            log.warning("job %s (%s): lease lost before the result was recorded", job.id, job.kind)
        elif state == "dead":
            log.error("job %s (%s) is dead after %s attempt(s): %s", job.id, job.kind, job.attempt, error)
        return Outcome(job, state, seconds, error, retry_at)
