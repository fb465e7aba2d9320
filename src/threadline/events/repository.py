"""Queries of the events slice: batched inserts with dedupe, click lookups, the operator's listing."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Literal

from sqlalchemy import Row, Table, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from threadline.store.models import Click, CollectEvent, Conversion

TABLES: dict[str, Table] = {
    "collect": CollectEvent.__table__,  # type: ignore[dict-item]
    "conversion": Conversion.__table__,  # type: ignore[dict-item]
}
# id, org_id, campaign_id, ad_group_id, ad_id, supply, country
ClickRow = Row[str, str, str, str, str, str, str]
MAX_CLICK_ID = 36  # the clicks.id column width: anything longer cannot exist


def insert_deduped(
    session: Session, kind: Literal["collect", "conversion"], rows: Sequence[dict[str, Any]]
) -> list[bool]:
    """Insert rows; per row, whether it was stored (False: its dedupe key already existed).

    Repeats inside the batch are settled here (the first wins); repeats of stored rows by the unique
    (org_id, dedupe_key) constraint, which also holds across processes.
    """
    table = TABLES[kind]
    conn = session.connection()
    stored = [False] * len(rows)
    seen: set[tuple[str, str]] = set()
    plain: list[dict[str, Any]] = []
    keyed: list[tuple[int, dict[str, Any]]] = []
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
        keyed.append((i, row))
    if plain:
        conn.execute(insert(table), plain)
    if keyed:
        # Sorted, so concurrent PostgreSQL transactions wait on keys in one order (no deadlock).
        keyed.sort(key=lambda item: (item[1]["org_id"], item[1]["dedupe_key"]))
        dialect_insert = sqlite.insert if conn.dialect.name == "sqlite" else postgresql.insert
        stmt = (
            dialect_insert(table)
            .on_conflict_do_nothing(index_elements=["org_id", "dedupe_key"])
            .returning(table.c.id)
        )
        inserted = set(conn.execute(stmt, [row for _, row in keyed]).scalars())
        for i, row in keyed:
            stored[i] = row["id"] in inserted
    return stored


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
