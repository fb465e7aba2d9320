"""Queries of the events slice: batched inserts with dedupe, the operator's listing."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from threadline.store.bulk import insert_rows
from threadline.store.models import CollectEvent, Conversion

TABLES: dict[str, Table] = {
    "collect": CollectEvent.__table__,  # type: ignore[dict-item]
    "conversion": Conversion.__table__,  # type: ignore[dict-item]
}
# A row is a duplicate when any of these is already stored for its org (each has a unique constraint).
DEDUPE_KEYS: dict[str, tuple[str, ...]] = {
    "collect": ("dedupe_key",),
    "conversion": ("order_key", "dedupe_key"),  # the order key, and the explicit key
}


def insert_deduped(
    session: Session, kind: Literal["collect", "conversion"], rows: Sequence[dict[str, Any]]
) -> list[bool]:
    """Insert rows; per row, whether it was stored (False: one of its dedupe keys was already stored).

    Every row goes into ``INSERT .. ON CONFLICT DO NOTHING``, and both stores apply a statement's rows
    one after another: a row repeating a key of a row stored earlier in the same statement is skipped
    exactly like a repeat of a committed row. So repeats inside a batch resolve as if the requests had
    come one by one, and repeats across processes are settled by the unique constraints.
    """
    ordered = list(rows)
    # SQLite takes its write lock up front (BEGIN IMMEDIATE): one writer at a time, no lock order to keep.
    if session.connection().dialect.name != "sqlite":
        ordered = statement_order(rows, DEDUPE_KEYS[kind])
    inserted = _insert_returning_ids(session, TABLES[kind], ordered)
    return [row["id"] in inserted for row in rows]


def statement_order(rows: Sequence[dict[str, Any]], keys: Sequence[str]) -> list[dict[str, Any]]:
    """Rows that share a key (directly or through others) in submission order; such groups in key order.

    Within a group the first request wins, as if they had come one by one; groups share no key, so their
    order changes no outcome. Ordering the groups by key makes concurrent PostgreSQL transactions wait on
    keys in one order: with one key column that rules out deadlocks; with two it makes them rare, and
    PostgreSQL aborts one (the writer retries it).
    """
    owner: dict[tuple[str, int, str], int] = {}
    repeats: list[tuple[int, int]] = []
    smallest: list[tuple[str, int, str]] = []  # per row: its first key (columns compare in that order)
    for i, row in enumerate(rows):
        org = row["org_id"]
        first: tuple[str, int, str] | None = None
        for col, name in enumerate(keys):
            value = row[name]
            if value is None:
                continue
            key = (org, col, value)
            if first is None:
                first = key
            j = owner.setdefault(key, i)
            if j != i:
                repeats.append((i, j))
        smallest.append(first or (org, -1, ""))  # keyless rows lead their org's rows
    if repeats:  # join the rows that share keys; each group sorts by its smallest key
        parent = list(range(len(rows)))
        for i, j in repeats:
            a, b = _root(parent, i), _root(parent, j)
            if a != b:
                parent[max(a, b)] = min(a, b)
        lead: dict[int, tuple[str, int, str]] = {}
        for i, key in enumerate(smallest):
            r = _root(parent, i)
            if r not in lead or key < lead[r]:
                lead[r] = key
        smallest = [lead[_root(parent, i)] for i in range(len(rows))]
    # Stable: rows of one group keep their submission order.
    return [rows[i] for i in sorted(range(len(rows)), key=smallest.__getitem__)]


def _root(parent: list[int], i: int) -> int:
    while parent[i] != i:
        parent[i] = parent[parent[i]]  # path halving
        i = parent[i]
    return i


def _insert_returning_ids(session: Session, table: Table, rows: list[dict[str, Any]]) -> set[str]:
    """``INSERT .. ON CONFLICT DO NOTHING RETURNING id`` in one statement (store/bulk.py): this is the
    events hot path. No conflict target: a conversion has two unique keys and either one makes it a
    duplicate."""
    return {r[0] for r in insert_rows(session, table, rows, " ON CONFLICT DO NOTHING RETURNING id")}


def latest_collect(session: Session, org_id: str, limit: int) -> Sequence[CollectEvent]:
    return (
        session.execute(
            select(CollectEvent)
            .where(CollectEvent.org_id == org_id)
            .order_by(CollectEvent.seq.desc())
            .limit(limit)
        )
        .scalars()
        .all()
    )


def latest_conversions(session: Session, org_id: str, limit: int) -> Sequence[Conversion]:
    return (
        session.execute(
            select(Conversion).where(Conversion.org_id == org_id).order_by(Conversion.seq.desc()).limit(limit)
        )
        .scalars()
        .all()
    )
