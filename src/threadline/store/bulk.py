"""Multi-row INSERTs straight on the driver, inside the session's transaction (the batch writers' path).

A batch writer thread holds the GIL, which the event loop needs, for all of its Python work, and gives it
up around every statement step the driver runs: SQLAlchemy's executemany binds every row in Python and
steps once per row. Here a batch is one statement per table whatever its size: on PostgreSQL the rows
travel as one JSON array (one msgspec call, in C) read by ``json_to_recordset``, so the statement text is
the same for every batch size (psycopg prepares it once); on SQLite a multi-row VALUES list (the sqlite3
module caches its prepared statement per text), in chunks under SQLite's bound-parameter limit. Both
stores apply a statement's rows one after another in the order given.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import cache
from typing import Any

import msgspec
from sqlalchemy import JSON, Table
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session

from threadline.store.db import sqlalchemy_errors

_MAX_PARAMS = 30_000  # bound parameters per SQLite statement (it allows 32,766)
# msgspec writes the same JSON values as json.dumps, in C, at a fraction of the cost.
_encode = msgspec.json.Encoder().encode
_RECORDSET: dict[tuple[str, tuple[str, ...], str], str] = {}


def insert_rows(
    session: Session, table: Table, rows: Sequence[Mapping[str, Any]], tail: str = ""
) -> list[tuple[Any, ...]]:
    """``INSERT INTO table (..) <rows> <tail>`` on the session's connection; what RETURNING gave, if any.

    Every row has the same keys in the same order (each kind of row is built by one function). ``tail``
    is the statement's end, the same on both stores: ``ON CONFLICT ..``, ``RETURNING ..``.
    """
    if not rows:
        return []
    names = list(rows[0])
    returned: list[tuple[Any, ...]] = []
    returning = "RETURNING" in tail.upper()
    for statement, params in _statements(session.connection().dialect, table, names, rows, tail):
        returned.extend(execute_driver(session, statement, params, returning=returning))
    return returned


def rows_source(
    session: Session, columns: Sequence[tuple[str, str]], rows: Sequence[Sequence[Any]]
) -> tuple[str, list[Any]]:
    """A derived table of ``rows`` for a statement's FROM: ``(SELECT ..) AS v`` with the ``columns``
    (name, SQL type) and the parameters it binds. One JSON array on PostgreSQL, a VALUES list on SQLite
    (callers keep ``rows`` under SQLite's bound-parameter limit: a batch's rows, not a table's)."""
    names = [name for name, _ in columns]
    if session.connection().dialect.name == "postgresql":
        typed = ",".join(f'"{name}" {sql_type}' for name, sql_type in columns)
        data = _encode([dict(zip(names, row, strict=True)) for row in rows]).decode()
        return f"(SELECT * FROM json_to_recordset(%s::json) AS r({typed})) AS v", [data]
    picked = ",".join(f"column{i} AS {name}" for i, name in enumerate(names, start=1))
    one = "(" + ",".join(["?"] * len(names)) + ")"
    params = [value for row in rows for value in row]
    return f"(SELECT {picked} FROM (VALUES {','.join([one] * len(rows))})) AS v", params


@contextmanager
def pipelined(session: Session) -> Iterator[None]:
    """On PostgreSQL the driver statements run inside are sent without waiting for each other (psycopg's
    pipeline mode): one round trip at the end, or at the first result read, instead of one each, and
    their errors raised there. Elsewhere nothing changes."""
    conn = session.connection()
    if conn.dialect.name != "postgresql":
        yield
        return
    driver = conn.connection.driver_connection
    assert driver is not None
    with sqlalchemy_errors(conn, "(pipeline)"), driver.pipeline():
        yield


def execute_driver(
    session: Session, statement: str, params: Sequence[Any], *, returning: bool = False
) -> list[tuple[Any, ...]]:
    """One statement in the driver's own parameter style on the session's connection (and transaction);
    the rows it returned when ``returning`` (asked, not read off the cursor: inside a pipeline that
    would wait for the statement)."""
    conn = session.connection()
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        with sqlalchemy_errors(conn, statement):
            cursor.execute(statement, params)
        return list(cursor.fetchall()) if returning else []
    finally:
        cursor.close()


def add_on_conflict(table: Table, key: Sequence[str], counters: Sequence[str]) -> str:
    """The tail that turns a repeat of ``key`` into adding the row's ``counters`` to the stored ones."""
    sets = ", ".join(f"{c} = {table.name}.{c} + excluded.{c}" for c in counters)
    return f" ON CONFLICT ({', '.join(key)}) DO UPDATE SET {sets}"


@cache
def _json_columns(table: Table, names: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(name for name in names if isinstance(table.c[name].type, JSON))


def _statements(
    dialect: Dialect, table: Table, names: list[str], rows: Sequence[Mapping[str, Any]], tail: str
) -> Iterator[tuple[str, Sequence[Any]]]:
    head = f"INSERT INTO {table.name} ({','.join(names)}) "
    json_cols = _json_columns(table, tuple(names))
    if dialect.name == "postgresql":
        key = (table.name, tuple(names), tail)
        statement = _RECORDSET.get(key)
        if statement is None:
            # A JSON column travels as its JSON text inside a string: json_to_recordset refuses a
            # \u0000 escape in a nested value, which text cast to json (the column's own input) keeps.
            typed = ",".join(
                f'"{n}" {"text" if n in json_cols else table.c[n].type.compile(dialect=dialect)}'
                for n in names
            )
            picked = ",".join(f'"{n}"::json' if n in json_cols else f'"{n}"' for n in names)
            statement = f"{head}SELECT {picked} FROM json_to_recordset(%s::json) AS r({typed}){tail}"
            _RECORDSET[key] = statement
        if json_cols:
            rows = [{**row, **{n: _encode(row[n]).decode() for n in json_cols}} for row in rows]
        yield statement, [_encode(rows).decode()]
        return
    json_at = [names.index(name) for name in json_cols]
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
        yield head + "VALUES " + ",".join([one] * len(chunk)) + tail, params
