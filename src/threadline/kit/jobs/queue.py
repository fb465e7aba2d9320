"""The job table's statements: enqueue (in the caller's transaction), claim with a lease, finish.

Every state change after a claim is fenced on ``(owner, attempts)``: a worker whose lease expired (and
whose job another worker re-claimed) finds its late completion matches nothing instead of overwriting
the newer run's state.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import Insert, event, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from threadline.store.models import JobRecord

QUEUED, RUNNING, DONE, DEAD = "queued", "running", "done", "dead"
STATES = (QUEUED, RUNNING, DONE, DEAD)
# Claimable: queued and due, or running with an expired lease (``run_at`` is the lease deadline then).
_OPEN = (QUEUED, RUNNING)


@dataclass(frozen=True)
class Claimed:
    id: int
    kind: str
    payload: dict[str, Any]
    attempt: int
    max_attempts: int
    owner: str


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


def _insert_for(session: Session) -> Any:
    name = session.get_bind().dialect.name
    return postgresql.insert if name == "postgresql" else sqlite.insert


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
    job_id: int | None
    if unique_key is None:
        job_id = session.execute(insert(JobRecord).values(**values).returning(JobRecord.id)).scalar_one()
    else:
        stmt: Insert = (
            _insert_for(session)(JobRecord)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["unique_key"])
            .returning(JobRecord.id)
        )
        job_id = session.execute(stmt).scalar_one_or_none()
        if job_id is None:
            job_id = session.execute(
                select(JobRecord.id).where(JobRecord.unique_key == unique_key)
            ).scalar_one()
    _ring_after_commit(session)
    return int(job_id)


def next_due(session: Session, kinds: Sequence[str]) -> int | None:
    """The earliest ``run_at`` among claimable jobs of these kinds (a read: idle polls take no lock)."""
    if not kinds:
        return None
    value = session.execute(
        select(func.min(JobRecord.run_at)).where(JobRecord.state.in_(_OPEN), JobRecord.kind.in_(kinds))
    ).scalar()
    return None if value is None else int(value)


def claim(
    session: Session, *, kinds: Sequence[str], owner: str, now: int, lease_seconds: int, limit: int
) -> list[Claimed]:
    """Lease up to ``limit`` due jobs to ``owner``.

    PostgreSQL: the row locks of ``FOR UPDATE SKIP LOCKED`` keep concurrent claimers apart, and a row
    another claimer just committed is re-checked against the WHERE clause. SQLite: the dialect drops
    the locking clause; the writer lock (BEGIN IMMEDIATE) makes the one statement atomic.
    """
    if not kinds or limit < 1:
        return []
    due = (
        select(JobRecord.id)
        .where(JobRecord.state.in_(_OPEN), JobRecord.run_at <= now, JobRecord.kind.in_(kinds))
        .order_by(JobRecord.run_at, JobRecord.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    lease_until = now + lease_seconds
    stmt = (
        update(JobRecord)
        .where(JobRecord.id.in_(due))
        .values(
            state=RUNNING,
            owner=owner,
            attempts=JobRecord.attempts + 1,
            lease_until=lease_until,
            run_at=lease_until,
            updated_at=now,
        )
        .returning(
            JobRecord.id, JobRecord.kind, JobRecord.payload, JobRecord.attempts, JobRecord.max_attempts
        )
        .execution_options(synchronize_session=False)
    )
    rows = session.execute(stmt).all()
    claimed = [Claimed(int(r[0]), r[1], dict(r[2] or {}), int(r[3]), int(r[4]), owner) for r in rows]
    return sorted(claimed, key=lambda c: c.id)


def _fenced(job: Claimed) -> Any:
    return update(JobRecord).where(
        JobRecord.id == job.id,
        JobRecord.state == RUNNING,
        JobRecord.owner == job.owner,
        JobRecord.attempts == job.attempt,
    )


def mark_done(session: Session, job: Claimed, *, now: int) -> bool:
    """False when the lease was lost (another worker owns the job now)."""
    result = session.execute(
        _fenced(job).values(
            state=DONE, lease_until=None, unique_key=None, finished_at=now, updated_at=now, run_at=now
        )
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def mark_failed(session: Session, job: Claimed, *, now: int, error: str, retry_at: int | None) -> bool:
    """Back to ``queued`` at ``retry_at``, or ``dead`` (``retry_at`` None) with the error kept."""
    if retry_at is None:
        values: dict[str, Any] = {
            "state": DEAD,
            "unique_key": None,
            "finished_at": now,
            "run_at": now,
        }
    else:
        values = {"state": QUEUED, "run_at": retry_at}
    result = session.execute(
        _fenced(job).values(**values, lease_until=None, last_error=error, updated_at=now)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def release(session: Session, job: Claimed, *, now: int) -> bool:
    """Give back a claimed job that never started (a stopping worker): this attempt does not count."""
    result = session.execute(
        _fenced(job).values(
            state=QUEUED, attempts=job.attempt - 1, run_at=now, lease_until=None, updated_at=now
        )
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def get(session: Session, job_id: int) -> JobRecord | None:
    return session.get(JobRecord, job_id)


def by_state(state: str | None) -> Any:
    stmt = select(JobRecord)
    return stmt if state is None else stmt.where(JobRecord.state == state)
