"""The job table's statements: enqueue (in the caller's transaction), claim with a lease, finish.

Every state change after a claim is fenced on ``(owner, attempts)``: a worker whose lease expired (and
whose job another worker re-claimed) finds its late completion matches nothing instead of overwriting
the newer run's state.
"""

from __future__ import annotations

import functools
import threading
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import Select, bindparam, delete, event, insert, select, update
from sqlalchemy.orm import Session

from threadline.kit.jobs.registry import Job
from threadline.kit.pagination import Page, PageParams, keyset_page
from threadline.store.dialect import insert_of
from threadline.store.models import JobRecord

QUEUED, RUNNING, DONE, DEAD = "queued", "running", "done", "dead"
STATES = (QUEUED, RUNNING, DONE, DEAD)
# Claimable: queued and due, or running with an expired lease (``run_at`` is the lease deadline then).
_OPEN = (QUEUED, RUNNING)

# Statements are built once (on first use) as Core with bound parameters: enqueue and the claim loop
# run per job, and building ORM statements per call cost more than the SQLite round trips.
_jobs: Any = JobRecord.__table__
_c = _jobs.c


@dataclass(frozen=True)
class Claimed:
    """A job leased to ``owner``; (owner, attempt) fences every later change to its row."""

    job: Job
    owner: str

    @property
    def id(self) -> int:
        return self.job.id

    @property
    def kind(self) -> str:
        return self.job.kind

    @property
    def attempt(self) -> int:
        return self.job.attempt


class _Bell(Protocol):
    def ring(self) -> None: ...


# Workers in this process, woken when a transaction that enqueued a job commits (others poll).
_bells: weakref.WeakSet[_Bell] = weakref.WeakSet()
_bells_lock = threading.Lock()


def listen(bell: _Bell) -> None:
    with _bells_lock:
        _bells.add(bell)


def unlisten(bell: _Bell) -> None:
    with _bells_lock:
        _bells.discard(bell)


def _ring_all(_session: Session) -> None:
    with _bells_lock:
        bells = list(_bells)
    for bell in bells:
        bell.ring()


def _ring_after_commit(session: Session) -> None:
    if not event.contains(session, "after_commit", _ring_all):
        event.listen(session, "after_commit", _ring_all)


@functools.cache
def _insert(dialect: str, unique: bool) -> Any:
    if not unique:
        return insert(_jobs).returning(_c.id)
    return insert_of(dialect, _jobs).on_conflict_do_nothing(index_elements=["unique_key"]).returning(_c.id)


def enqueue(
    session: Session,
    kind: str,
    payload: Mapping[str, Any],
    *,
    now: int,
    run_at: int | None = None,
    max_attempts: int = 8,
    unique_key: str | None = None,
) -> int:
    """Insert a job in the caller's open transaction; it exists only if that transaction commits.

    With ``unique_key`` at most one unfinished job holds the key: a second enqueue returns the
    existing job's id instead of adding one.
    """
    if max_attempts < 1:
        raise ValueError("max_attempts must be at least 1")
    values = {
        "kind": kind,
        "payload": dict(payload),
        "state": QUEUED,
        "run_at": now if run_at is None else run_at,
        "attempts": 0,
        "max_attempts": max_attempts,
        "unique_key": unique_key,
        "created_at": now,
        "updated_at": now,
    }
    dialect = session.get_bind().dialect.name
    job_id = session.execute(_insert(dialect, unique_key is not None), values).scalar_one_or_none()
    if job_id is None:  # the key is taken: that job is the one
        job_id = session.execute(select(_c.id).where(_c.unique_key == unique_key)).scalar_one()
    _ring_after_commit(session)
    return int(job_id)


@functools.cache
def _due(state: str) -> Select[Any]:
    # state = one value, ordered by (run_at, id): a walk of ix_jobs_state_run_at_id from its start,
    # never a sort of every open job.
    return (
        select(_c.id)
        .where(_c.state == state, _c.kind.in_(bindparam("kinds", expanding=True)))
        .order_by(_c.run_at, _c.id)
    )


@functools.cache
def _next_due(state: str) -> Select[Any]:
    return _due(state).with_only_columns(_c.run_at).limit(1)


@functools.cache
def _claim(state: str) -> Any:
    # A CTE, not ``id IN (subquery)``: PostgreSQL may rescan an IN subquery once per outer row, and a
    # rescan skips the rows this statement already locked, so each rescan would hand out more jobs
    # than asked for. A CTE with FOR UPDATE is never inlined and runs once.
    due = (
        _due(state)
        .where(_c.run_at <= bindparam("now"))
        .limit(bindparam("n"))
        .with_for_update(skip_locked=True)
        .cte(f"due_{state}")
    )
    return (
        update(_jobs)
        .where(_c.id.in_(select(due.c.id)), _c.state == state)
        .values(
            state=RUNNING,
            owner=bindparam("owner"),
            attempts=_c.attempts + 1,
            lease_until=bindparam("lease_until"),
            run_at=bindparam("lease_until"),
            updated_at=bindparam("now"),
        )
        .returning(_c.id, _c.kind, _c.payload, _c.attempts, _c.max_attempts)
    )


def next_due(session: Session, kinds: Sequence[str]) -> int | None:
    """The earliest ``run_at`` among claimable jobs of these kinds (a read: idle polls take no lock)."""
    if not kinds:
        return None
    found = [session.execute(_next_due(state), {"kinds": list(kinds)}).scalar() for state in _OPEN]
    times = [int(t) for t in found if t is not None]
    return min(times) if times else None


def claim(
    session: Session, *, kinds: Sequence[str], owner: str, now: int, lease_seconds: int, limit: int
) -> list[Claimed]:
    """Lease up to ``limit`` due jobs to ``owner``: queued ones first, then those whose lease expired.

    PostgreSQL: the row locks of ``FOR UPDATE SKIP LOCKED`` keep concurrent claimers apart, and a row
    another claimer just committed is re-checked against the WHERE clause. SQLite: the dialect drops
    the locking clause; the writer lock (BEGIN IMMEDIATE) makes each statement atomic.
    """
    claimed: list[Claimed] = []
    if not kinds:
        return claimed
    params = {"kinds": list(kinds), "owner": owner, "now": now, "lease_until": now + lease_seconds}
    for state in _OPEN:
        want = limit - len(claimed)
        if want < 1:
            break
        rows = session.execute(_claim(state), {**params, "n": want}).all()
        claimed += sorted(
            (Claimed(Job(int(r[0]), r[1], dict(r[2] or {}), int(r[3]), int(r[4])), owner) for r in rows),
            key=lambda c: c.id,
        )
    return claimed


@functools.cache
def _fenced() -> Any:
    # No .values(): the SET clause comes from the parameters given (the column names).
    return update(_jobs).where(
        _c.id == bindparam("b_id"),
        _c.state == RUNNING,
        _c.owner == bindparam("b_owner"),
        _c.attempts == bindparam("b_attempt"),
    )


def _finish(session: Session, job: Claimed, values: dict[str, Any]) -> bool:
    """One fenced change: only if this claim (owner, attempt) still holds the job, still running."""
    fence = {"b_id": job.id, "b_owner": job.owner, "b_attempt": job.attempt}
    result = session.execute(_fenced(), {**values, **fence})
    return bool(result.rowcount)  # type: ignore[attr-defined]


def mark_done(session: Session, job: Claimed, *, now: int) -> bool:
    """False when the lease was lost (another worker owns the job now)."""
    values = {"state": DONE, "lease_until": None, "unique_key": None, "finished_at": now, "run_at": now}
    return _finish(session, job, {**values, "updated_at": now})


def mark_failed(session: Session, job: Claimed, *, now: int, error: str, retry_at: int | None) -> bool:
    """Back to ``queued`` at ``retry_at``, or ``dead`` (``retry_at`` None) with the error kept."""
    if retry_at is None:
        values: dict[str, Any] = {"state": DEAD, "unique_key": None, "finished_at": now, "run_at": now}
    else:
        values = {"state": QUEUED, "run_at": retry_at}
    return _finish(session, job, {**values, "lease_until": None, "last_error": error, "updated_at": now})


def release(session: Session, job: Claimed, *, now: int) -> bool:
    """Give back a claimed job that never started (a stopping worker): this attempt does not count."""
    values = {"state": QUEUED, "attempts": job.attempt - 1, "run_at": now, "lease_until": None}
    return _finish(session, job, {**values, "updated_at": now})


def renew(session: Session, job: Claimed, *, lease_until: int, now: int) -> bool:
    """Extend a running job's lease; False when the lease was already lost."""
    return _finish(session, job, {"lease_until": lease_until, "run_at": lease_until, "updated_at": now})


def prune(session: Session, *, finished_before: int, limit: int = 10_000) -> int:
    """Delete up to ``limit`` ``done`` jobs that finished before ``finished_before`` (dead ones stay)."""
    old = (
        select(_c.id)
        .where(_c.state == DONE, _c.finished_at < finished_before)
        .order_by(_c.id)
        .limit(limit)
        .scalar_subquery()
    )
    result = session.execute(delete(_jobs).where(_c.id.in_(old)))
    return int(result.rowcount)  # type: ignore[attr-defined]


def get(session: Session, job_id: int) -> JobRecord | None:
    return session.get(JobRecord, job_id)


def by_state(state: str | None) -> Any:
    stmt = select(JobRecord)
    return stmt if state is None else stmt.where(JobRecord.state == state)


def page_by_state(session: Session, state: str | None, params: PageParams) -> Page[JobRecord]:
    """One keyset page of the jobs in ``state`` (all when None), for the operator's listing."""
    return keyset_page(session, by_state(state), seq=JobRecord.id, id_=JobRecord.id, params=params)
