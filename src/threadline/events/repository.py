"""Queries of the events slice: batched inserts with dedupe, the operator's listing."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Literal

import msgspec
from sqlalchemy import JSON, Table, select
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

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
_MAX_PARAMS = 30_000  # bound parameters per SQLite statement (it allows 32,766)


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
    """``INSERT .. ON CONFLICT DO NOTHING RETURNING id``, straight on the driver.

    This is the events hot path: building the statement and its parameters here costs a fraction of
    SQLAlchemy's per-row bind processing, and the writer thread holds the GIL (which the event loop
    needs) for all of that time. The statement still runs on the session's own connection, inside its
    transaction: it commits or rolls back with everything else.
    """
    if not rows:
        return set()
    conn = session.connection()
    names = list(rows[0])  # every row of a kind is built by one function: same keys, same order
    dbapi = conn.dialect.loaded_dbapi
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    inserted: set[str] = set()
    try:
        for statement, params in _statements(conn.dialect, table, names, rows):
            try:
                cursor.execute(statement, params)
            except dbapi.Error as exc:
                # Wrapped as SQLAlchemy would: the writer retries OperationalError (a deadlock among them).
                raise DBAPIError.instance(
                    statement, None, exc, dbapi.Error, hide_parameters=True, dialect=conn.dialect
                ) from exc
            inserted.update(r[0] for r in cursor.fetchall())
    finally:
        cursor.close()
    return inserted


# msgspec writes the same JSON values as json.dumps, in C, at a fraction of the cost.
_encode = msgspec.json.Encoder().encode
# No conflict target: a conversion has two unique keys and either one makes it a duplicate.
_TAIL = " ON CONFLICT DO NOTHING RETURNING id"
_RECORDSET: dict[tuple[str, tuple[str, ...]], str] = {}


def _statements(
    dialect: Dialect, table: Table, names: list[str], rows: Sequence[dict[str, Any]]
) -> Iterator[tuple[str, Sequence[Any]]]:
    """The statement(s) inserting these rows, in row order.

    PostgreSQL: the whole batch as one JSON array of row objects (one msgspec call, in C) read by
    ``json_to_recordset``, so the statement text is the same for every batch size: psycopg parses it
    once and PostgreSQL plans it once (prepared), where a multi-row VALUES list was new text, split
    in Python and planned anew for each batch size, with one adapted parameter per value.
    ``json_to_recordset`` yields the array's rows in order, so they apply one after another as with
    VALUES. SQLite: a multi-row VALUES list (the sqlite3 module caches its prepared statement per
    text), in chunks under SQLite's bound-parameter limit.
    """
    head = f"INSERT INTO {table.name} ({','.join(names)}) "
    json_cols = [name for name in names if isinstance(table.c[name].type, JSON)]
    if dialect.name == "postgresql":
        key = (table.name, tuple(names))
        statement = _RECORDSET.get(key)
        if statement is None:
            # A JSON column travels as its JSON text inside a string: json_to_recordset refuses a
            # \u0000 escape in a nested value, which text cast to json (the column's own input) keeps.
            typed = ",".join(
                f'"{n}" {"text" if n in json_cols else table.c[n].type.compile(dialect=dialect)}'
                for n in names
            )
            picked = ",".join(f'"{n}"::json' if n in json_cols else f'"{n}"' for n in names)
            statement = f"{head}SELECT {picked} FROM json_to_recordset(%s::json) AS r({typed}){_TAIL}"
            _RECORDSET[key] = statement
        if json_cols:
            rows = [row | {n: _encode(row[n]).decode() for n in json_cols} for row in rows]
        yield statement, [_encode(rows).decode()]
        return
    json_at = [i for i, name in enumerate(names) if isinstance(table.c[name].type, JSON)]
    one = "(" + ",".join(["?"] * len(names)) + ")"
    per_statement = max(1, _MAX_PARAMS // len(names))
    for start in range(0, len(rows), per_statement):
        chunk = rows[start : start + per_statement]
        params: list[Any] = []
        for row in chunk:
            values = [row[name] for name in names]
            for i in json_at:
                values[i] = _encode(values[i]).decode()
            params.extend(values)
        yield head + "VALUES " + ",".join([one] * len(chunk)) + _TAIL, params


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
