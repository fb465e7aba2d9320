"""store/bulk.py: one statement per table however many rows, inside the caller's transaction (both stores)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Table, func, select
from sqlalchemy.exc import IntegrityError

from threadline.store.bulk import add_on_conflict, execute_driver, insert_rows, pipelined, rows_source
from threadline.store.db import Database
from threadline.store.models import CollectEvent, InsightsOrgHourly

ORG_HOURLY: Table = InsightsOrgHourly.__table__  # type: ignore[assignment]
EVENTS: Table = CollectEvent.__table__  # type: ignore[assignment]
COUNTERS = ("impressions", "clicks")
KEY = ("org_id", "hour", "supply", "country")


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    yield database
    database.dispose()


def bucket(org: str, hour: int, impressions: int = 1, clicks: int = 0) -> dict[str, Any]:
    return {
        "org_id": org,
        "hour": hour,
        "supply": "direct",
        "country": "",
        "impressions": impressions,
        "viewable_impressions": 0,
        "clicks": clicks,
        "spend_micros": 0,
        "conversions": 0,
        "conversion_value_micros": 0,
    }


def stored(db: Database) -> dict[tuple[str, int], tuple[int, int]]:
    with db.read() as s:
        rows = s.execute(
            select(ORG_HOURLY.c.org_id, ORG_HOURLY.c.hour, ORG_HOURLY.c.impressions, ORG_HOURLY.c.clicks)
        )
        return {(r[0], r[1]): (r[2], r[3]) for r in rows}


def test_more_rows_than_one_sqlite_statement_binds_are_all_stored(db: Database) -> None:
    # 10 columns a row: 3,001 rows need 30,010 parameters, past one SQLite statement's 30,000.
    rows = [bucket("org-a", 3600 * i, impressions=i) for i in range(3001)]
    with db.write() as s:
        assert insert_rows(s, ORG_HOURLY, rows) == []
    got = stored(db)
    assert len(got) == 3001
    assert got[("org-a", 3600 * 3000)] == (3000, 0)


def test_adding_on_conflict_adds_the_counters_to_the_stored_row(db: Database) -> None:
    tail = add_on_conflict(ORG_HOURLY, KEY, COUNTERS)
    with db.write() as s:
        insert_rows(s, ORG_HOURLY, [bucket("org-a", 0, 2, 1), bucket("org-b", 0, 5)], tail)
    with db.write() as s:
        insert_rows(s, ORG_HOURLY, [bucket("org-a", 0, 3, 4), bucket("org-a", 3600, 7)], tail)
    assert stored(db) == {("org-a", 0): (5, 5), ("org-b", 0): (5, 0), ("org-a", 3600): (7, 0)}


def test_rows_roll_back_with_the_transaction(db: Database) -> None:
    def failing_batch() -> None:
        with db.write() as s:
            insert_rows(s, ORG_HOURLY, [bucket("org-a", 0)])
            raise RuntimeError("the batch failed after its insert")

    with pytest.raises(RuntimeError):
        failing_batch()
    assert stored(db) == {}


def test_returning_gives_the_rows_the_statement_stored(db: Database) -> None:
    def event(event_id: str, dedupe: str) -> dict[str, Any]:
        return {
            "id": event_id,
            "org_id": "org-a",
            "key_id": "key-1",
            "dedupe_key": dedupe,
            "event_name": "purchase",
            "tag_id": "tag-1",
            "event_id": None,
            "timestamp": 1_800_000_000,
            "data": {"value": 1.5, "text": "a \u00e9 \u0000 b", "nested": [1, {"k": None}]},
            "received_at": 1_800_000_000.5,
        }

    names = {c.name for c in EVENTS.c}
    rows = [event("e1", "d1"), event("e2", "d1"), event("e3", "d2")]
    assert set(rows[0]) <= names
    with db.write() as s:
        got = insert_rows(s, EVENTS, rows, " ON CONFLICT DO NOTHING RETURNING id")
    assert sorted(r[0] for r in got) == ["e1", "e3"]  # e2 repeats e1's dedupe key
    with db.read() as s:
        assert s.execute(select(func.count()).select_from(EVENTS)).scalar_one() == 2
        data = s.execute(select(EVENTS.c.data).where(EVENTS.c.id == "e3")).scalar_one()
    assert data == rows[2]["data"]  # the JSON column round-trips, NUL escape included


def test_no_rows_runs_no_statement(db: Database) -> None:
    with db.write() as s:
        assert insert_rows(s, ORG_HOURLY, []) == []


def test_pipelined_statements_all_apply_in_order(db: Database) -> None:
    tail = add_on_conflict(ORG_HOURLY, KEY, COUNTERS)
    with db.write() as s, pipelined(s):
        insert_rows(s, ORG_HOURLY, [bucket("org-p", 0, impressions=1)])
        insert_rows(s, ORG_HOURLY, [bucket("org-p", 0, impressions=2, clicks=1)], tail)
        insert_rows(s, ORG_HOURLY, [bucket("org-q", 0, impressions=5)])
    assert stored(db) == {("org-p", 0): (3, 1), ("org-q", 0): (5, 0)}


def test_an_error_inside_a_pipeline_is_sqlalchemys_and_rolls_the_transaction_back(db: Database) -> None:
    with pytest.raises(IntegrityError), db.write() as s, pipelined(s):  # noqa: PT012
        insert_rows(s, ORG_HOURLY, [bucket("org-r", 0)])
        insert_rows(s, ORG_HOURLY, [bucket("org-r", 0)])  # the same key again, no ON CONFLICT
    assert stored(db) == {}


def test_rows_source_is_a_derived_table_on_both_stores(db: Database) -> None:
    with db.write() as s:
        insert_rows(s, ORG_HOURLY, [bucket("org-s", 0, impressions=1), bucket("org-t", 0, impressions=1)])
        source, params = rows_source(s, (("org", "text"), ("delta", "bigint")), [("org-s", 4), ("org-t", 6)])
        t = ORG_HOURLY.name
        got = execute_driver(
            s,
            f"UPDATE {t} SET impressions = {t}.impressions + v.delta FROM {source} WHERE {t}.org_id = v.org"
            f" RETURNING {t}.org_id, {t}.impressions",
            params,
            returning=True,
        )
    assert sorted(got) == [("org-s", 5), ("org-t", 7)]
