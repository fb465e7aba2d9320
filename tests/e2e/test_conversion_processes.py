"""One order is one conversion across real server processes: 50 concurrent reports of one order, half
with an Idempotency-Key and half without, sent to two servers on one store."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from tests.e2e.server import ServerProcess
from tests.e2e.support import STORES, servers_on_one_store
from tests.events.helpers import SeededEvents, seed_event_org
from threadline.store.db import Database
from threadline.store.models import Conversion, InsightsHourly

pytestmark = pytest.mark.e2e

N = 50


@pytest.fixture(params=STORES)
def servers(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[list[ServerProcess], str]]:
    """Two server processes on one fresh, migrated store (a SQLite file or a PostgreSQL database)."""
    with servers_on_one_store(request.param, tmp_path) as running:
        yield running


def _report(seeded: SeededEvents, base_url: str, with_key: bool) -> str:
    body = {
        "click_id": seeded.click_id,
        "conversion_time": "2026-02-19T18:00:00Z",
        "conversion_value": 49.99,
        "currency": "USD",
        "order_id": "order-123",
        "event_type": "purchase_completed",
    }
    headers = {"Authorization": f"Bearer {seeded.event_key}"}
    if with_key:
        headers["Idempotency-Key"] = "order-123"
    r = httpx.post(f"{base_url}/v1/api/conversion", json=body, headers=headers, timeout=30)
    assert r.status_code == 200, r.text
    status: str = r.json()["status"]
    return status


def test_fifty_reports_of_one_order_on_two_processes_store_one(
    servers: tuple[list[ServerProcess], str],
) -> None:
    procs, url = servers
    seeded = seed_event_org(url)
    with ThreadPoolExecutor(max_workers=N) as pool:
        # Alternating servers and keys: each server gets both kinds of report.
        futures = [pool.submit(_report, seeded, procs[i % 2].base_url, i % 4 < 2) for i in range(N)]
        outcomes = Counter(f.result() for f in futures)
    assert outcomes == Counter({"ok": 1, "duplicate": N - 1})
    db = Database(url)
    try:
        with db.read() as s:
            rows = s.execute(select(Conversion.dedupe_key, Conversion.order_key)).all()
            counted = s.execute(select(func.sum(InsightsHourly.conversions))).scalar_one()
    finally:
        db.dispose()
    assert len(rows) == 1
    assert rows[0].order_key == f'order:["{seeded.click_id}","purchase_completed","order-123"]'
    assert rows[0].dedupe_key in (None, "idem:order-123")  # whichever report came first
    assert counted == 1
