"""Queries of the events slice: batched inserts with dedupe, click lookups, the operator's listing."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any, Literal

from sqlalchemy import JSON, Row, Table, select
from sqlalchemy.orm import Session

from threadline.store.models import Click, CollectEvent, Conversion

TABLES: dict[str, Table] = {
    "collect": CollectEvent.__table__,  # type: ignore[dict-item]
    "conversion": Conversion.__table__,  # type: ignore[dict-item]
}
# id, org_id, campaign_id, ad_group_id, ad_id, supply, country
ClickRow = Row[str, str, str, str, str, str, str]
MAX_CLICK_ID = 36
_MAX_PARAMS = 30_000  # bound parameters per statement: SQLite allows 32,766, PostgreSQL 65,535  # the clicks.id column width: anything longer cannot exist


def insert_deduped(
    session: Session, kind: Literal["collect", "conversion"], rows: Sequence[dict[str, Any]]
) -> list[bool]:
    """Insert rows; per row, whether it was stored (False: its dedupe key already existed).

    Repeats inside the batch are settled here (the first wins); repeats of stored rows by the unique
    (org_id, dedupe_key) constraint, which also holds across processes.
    """
    stored = [False] * len(rows)
    seen: set[tuple[str, str]] = set()
    plain: list[dict[str, Any]] = []
    keyed: list[dict[str, Any]] = []
    for i, row in enumerate(rows):
        key = row["dedupe_key"]
        if key is None:
            plain.append(row)
            stored[i] = True
            continue
        scoped = (row["org_id"], key)
        if scoped in seen:
            continue
        seen.add(scoped)
        keyed.append(row)
    # Sorted, so concurrent PostgreSQL transactions wait on keys in one order (no deadlock).
    keyed.sort(key=lambda row: (row["org_id"], row["dedupe_key"]))
    inserted = _insert_returning_ids(session, TABLES[kind], plain + keyed)
    for i, row in enumerate(rows):
        if not stored[i]:
            stored[i] = row["id"] in inserted
    return stored


def _insert_returning_ids(session: Session, table: Table, rows: list[dict[str, Any]]) -> set[str]:
    """``INSERT .. ON CONFLICT (org_id, dedupe_key) DO NOTHING RETURNING id``, straight on the driver.

    This is the events hot path: building the multi-row statement and its flat parameter list here
    costs a fraction of SQLAlchemy's per-row bind processing, and the writer thread holds the GIL
    (which the event loop needs) for all of that time. The statement still runs on the session's own
    connection, inside its transaction: it commits or rolls back with everything else.
    """
    if not rows:
        return set()
    conn = session.connection()
    names = list(rows[0])  # every row of a kind is built by one function: same keys, same order
    json_at = [i for i, name in enumerate(names) if isinstance(table.c[name].type, JSON)]
    mark = "?" if conn.dialect.name == "sqlite" else "%s"
    one = "(" + ",".join([mark] * len(names)) + ")"
    head = f"INSERT INTO {table.name} ({','.join(names)}) VALUES "
    tail = " ON CONFLICT (org_id, dedupe_key) DO NOTHING RETURNING id"
    per_statement = max(1, _MAX_PARAMS // len(names))
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    inserted: set[str] = set()
    try:
        for start in range(0, len(rows), per_statement):
            chunk = rows[start : start + per_statement]
            params: list[Any] = []
            for row in chunk:
                values = [row[name] for name in names]
                for i in json_at:
                    values[i] = json.dumps(values[i])
                params.extend(values)
            cursor.execute(head + ",".join([one] * len(chunk)) + tail, params)
            inserted.update(r[0] for r in cursor.fetchall())
    finally:
        cursor.close()
    return inserted


def find_clicks(session: Session, click_ids: Iterable[str]) -> dict[str, ClickRow]:
    ids = [c for c in click_ids if len(c) <= MAX_CLICK_ID]
    if not ids:
        return {}
    rows: Sequence[ClickRow] = session.execute(
        select(
            Click.id,
            Click.org_id,
            Click.campaign_id,
            Click.ad_group_id,
            Click.ad_id,
            Click.supply,
            Click.country,
        ).where(Click.id.in_(ids))
    ).all()
    return {r.id: r for r in rows}


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
