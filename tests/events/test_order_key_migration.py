"""Migration 0006: rows stored under the one-key rule get their order key, and both keys hold from then on."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Table, create_engine, insert, inspect, select
from sqlalchemy.orm import Session

from tests.databases import database_at, downgrade
from tests.events.helpers import conversion_row
from threadline.events import repository, service
from threadline.store.migrate import upgrade
from threadline.store.models import Conversion

CLICK = "11111111-1111-4111-8111-111111111111"
ORG, OTHER_ORG = "org-1", "org-2"
LONG_ORDER = "o" * 2000  # its key is stored as a SHA-256
ATTRIBUTION = {"campaign_id": "c", "ad_group_id": "g", "ad_id": "a"}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url_at_0005(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with database_at(request.param, tmp_path, "0005") as url:
        yield url


def order_key(order_id: str, event_type: str = "purchase_completed") -> str:
    key = service.conversion_order_key(CLICK, event_type, order_id)
    assert key is not None
    return key


def _new(n: int, key: str | None, order_id: str | None, org_id: str = ORG) -> dict[str, Any]:
    """A conversion as the writer inserts it, Idempotency-Key ``key``."""
    return {**conversion_row(n, org_id, CLICK, key, order_id), **ATTRIBUTION}


def _row(n: int, dedupe_key: str | None, order_id: str | None, **over: Any) -> dict[str, Any]:
    """A row as the 0005 table holds it: one dedupe key, no order key."""
    row = _new(n, None, order_id)
    del row["order_key"]
    return {**row, "dedupe_key": dedupe_key, **over}


# What the one-key rule stored (dedupe_key, order_id, ...) and the (dedupe_key, order_key) after 0006.
BEFORE_AFTER = [
    (_row(1, "idem:order-123", "order-123"), ("idem:order-123", order_key("order-123"))),
    # The bug: the same order again without a key. Kept (it was acknowledged and counted), without the key.
    (_row(2, order_key("order-123"), "order-123"), (None, None)),
    (_row(3, order_key("order-9"), "order-9"), (None, order_key("order-9"))),
    (_row(4, "event_id:e1", "order-9", event_type="refund"), ("event_id:e1", order_key("order-9", "refund"))),
    (_row(5, None, None), (None, None)),
    (_row(6, "idem:k2", "order-123", org_id=OTHER_ORG), ("idem:k2", order_key("order-123"))),
    (_row(7, order_key(LONG_ORDER), LONG_ORDER), (None, order_key(LONG_ORDER))),
    (_row(8, "idem:k3", "order-9"), ("idem:k3", None)),  # a later copy of order-9 under another key
    (_row(9, None, ""), (None, None)),  # a blank order_id is no order
]


def _keys(url: str) -> list[tuple[str | None, str | None]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(Conversion.dedupe_key, Conversion.order_key).order_by(Conversion.seq))
            return [(r.dedupe_key, r.order_key) for r in rows]
    finally:
        engine.dispose()


def test_backfill_then_both_keys_are_unique_then_downgrade(url_at_0005: str) -> None:
    assert order_key(LONG_ORDER).startswith("sha256:")
    engine = create_engine(url_at_0005)
    old: Table = Conversion.__table__  # type: ignore[assignment]
    try:
        with engine.begin() as conn:
            # The 0005 table has no order_key column: insert only the columns it has.
            conn.execute(insert(old), [row for row, _ in BEFORE_AFTER])
        upgrade(url_at_0005)
        assert _keys(url_at_0005) == [after for _, after in BEFORE_AFTER]

        with Session(engine) as s:
            fresh = [
                _new(20, None, "order-123"),  # stored above with a key: the order is seen
                _new(21, "k3", "new"),  # the key is seen ...
                _new(22, None, "new"),  # ... so this order was not
                _new(23, None, "order-9", org_id="org-3"),  # the order key is per org
            ]
            assert repository.insert_deduped(s, "conversion", fresh) == [False, False, True, True]
            s.commit()

        with engine.begin() as conn:
            downgrade(conn, url_at_0005, "0005")
        assert "order_key" not in {c["name"] for c in inspect(engine).get_columns("conversions")}
        with engine.connect() as conn:
            restored = [r[0] for r in conn.execute(select(old.c.dedupe_key).order_by(old.c.seq))]
        # Rows deduped by their order (no explicit key) get the order key back as their one key.
        assert restored[:9] == [
            "idem:order-123",
            None,
            order_key("order-9"),
            "event_id:e1",
            None,
            "idem:k2",
            order_key(LONG_ORDER),
            "idem:k3",
            None,
        ]
    finally:
        engine.dispose()
