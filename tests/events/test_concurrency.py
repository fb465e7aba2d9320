"""Exactly one row per dedupe key under concurrent identical requests, and a batching writer that batches."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from tests.events.helpers import EventOrg, conversion_row
from tests.events.test_conversion import conv
from tests.factories import ctx_of
from threadline.events import repository, service
from threadline.kit.batch_writer import BatchWriter
from threadline.store.db import Database
from threadline.store.models import Conversion, InsightsHourly

N = 50


def _fire(
    client: TestClient, eorg: EventOrg, body: dict[str, Any], headers: Callable[[int], dict[str, str]]
) -> Counter[str]:
    def one(i: int) -> str:
        r = client.post("/v1/api/conversion", headers={**eorg.headers, **headers(i)}, json=body)
        assert r.status_code == 200, r.text
        status: str = r.json()["status"]
        return status

    with ThreadPoolExecutor(max_workers=N) as pool:
        return Counter(pool.map(one, range(N)))


def _stored(app: FastAPI, org_id: str) -> int:
    with ctx_of(app).db.read() as s:
        return int(
            s.execute(
                select(func.count()).select_from(Conversion).where(Conversion.org_id == org_id)
            ).scalar_one()
        )


@pytest.mark.parametrize(
    ("overrides", "headers"),
    [
        ({}, {"Idempotency-Key": "same-key"}),
        ({"event_id": "same-event"}, {}),
        ({"order_id": "same-order"}, {}),
    ],
    ids=["idempotency_key", "event_id", "order_id"],
)
def test_concurrent_identical_conversions_store_one(
    app: FastAPI, client: TestClient, eorg: EventOrg, overrides: dict[str, Any], headers: dict[str, str]
) -> None:
    outcomes = _fire(client, eorg, conv(eorg, **overrides), lambda _: headers)
    assert outcomes == Counter({"ok": 1, "duplicate": N - 1})
    assert _stored(app, eorg.id) == 1
    assert _counted(app, eorg) == 1


def test_concurrent_reports_of_one_order_half_with_a_key_store_one(
    app: FastAPI, client: TestClient, eorg: EventOrg
) -> None:
    body = conv(eorg, order_id="order-123")
    outcomes = _fire(client, eorg, body, lambda i: {"Idempotency-Key": "order-123"} if i % 2 else {})
    assert outcomes == Counter({"ok": 1, "duplicate": N - 1})
    assert _stored(app, eorg.id) == 1
    assert _counted(app, eorg) == 1


def _counted(app: FastAPI, eorg: EventOrg) -> int:
    with ctx_of(app).db.read() as s:
        counted = s.execute(
            select(func.sum(InsightsHourly.conversions)).where(InsightsHourly.ad_id == eorg.ad.ad_id)
        )
        return int(counted.scalar_one())


def _row(eorg: EventOrg, i: int, key: str | None, order_id: str | None) -> service.PendingEvent:
    return service.PendingEvent("conversion", conversion_row(i, eorg.id, eorg.click_id, key, order_id))


# (explicit key, order_id) of each request in one batch, after ("K0", "W") was stored, and the outcome
# of each as if they had come one by one.
IN_BATCH = [
    (("K", "X"), "ok"),
    ((None, "X"), "duplicate"),  # the order was stored just before
    (("K2", "X"), "duplicate"),
    (("K", "Y"), "duplicate"),  # the key was stored just before ...
    ((None, "Y"), "ok"),  # ... so order Y was not
    (("K2", "Z"), "ok"),  # nor key K2 (its request was a duplicate)
    (("K0", "V"), "duplicate"),  # the key was stored by an earlier batch ...
    ((None, "V"), "ok"),  # ... so order V was not
    ((None, None), "ok"),
    ((None, None), "ok"),
]


@pytest.mark.parametrize("through", ["store_batch", "writer"])
def test_repeats_inside_one_batch_resolve_as_one_by_one(app: FastAPI, eorg: EventOrg, through: str) -> None:
    ctx = ctx_of(app)
    with ctx.db.write() as s:
        assert service.store_batch(s, [_row(eorg, 99, "K0", "W")]) == ["ok"]
    batch = [_row(eorg, i, key, order) for i, ((key, order), _) in enumerate(IN_BATCH)]
    if through == "store_batch":
        with ctx.db.write() as s:
            outcomes = service.store_batch(s, batch)
    else:
        writer = BatchWriter(ctx.db, service.store_batch, max_rows=100, max_wait_ms=20)

        async def run() -> list[Any]:
            return list(await asyncio.gather(*(writer.submit(event) for event in batch)))

        try:
            outcomes = asyncio.run(run())
        finally:
            writer.stop()
    assert outcomes == [outcome for _, outcome in IN_BATCH]
    assert _stored(app, eorg.id) == 1 + 6
    assert _counted(app, eorg) == 1 + 6


def test_two_writers_on_one_database_still_store_one(app: FastAPI, eorg: EventOrg) -> None:
    """Two writers stand in for two server processes: dedupe rests on the unique constraint."""
    ctx = ctx_of(app)
    writers = [BatchWriter(ctx.db, service.store_batch, max_rows=100, max_wait_ms=2) for _ in range(2)]

    async def race() -> list[Any]:
        futures = []
        for i in range(40):
            # Half carry the key, half only the order: one conversion whichever keys a report carries.
            event = _row(eorg, i, "shared" if i % 2 else None, "order-1")
            futures.append(writers[i % 2].submit(event))
        return list(await asyncio.gather(*futures))

    try:
        outcomes = asyncio.run(race())
    finally:
        for w in writers:
            w.stop()
    assert Counter(outcomes) == Counter({"ok": 1, "duplicate": 39})
    assert _stored(app, eorg.id) == 1


def test_a_writer_with_several_threads_still_stores_one(app: FastAPI, eorg: EventOrg) -> None:
    """Batches of one writer commit side by side (PostgreSQL's setting): dedupe still holds."""
    writer = BatchWriter(ctx_of(app).db, service.store_batch, max_rows=4, max_wait_ms=0, threads=3)

    async def race() -> list[Any]:
        futures = []
        for i in range(40):
            futures.append(writer.submit(_row(eorg, i, "shared" if i % 2 else None, "order-1")))
            if i % 4 == 3:
                await asyncio.sleep(0)  # a wake-up per four: the threads take batches while others commit
        return list(await asyncio.gather(*futures))

    try:
        outcomes = asyncio.run(race())
    finally:
        writer.stop()
    assert Counter(outcomes) == Counter({"ok": 1, "duplicate": 39})
    assert _stored(app, eorg.id) == 1


def test_concurrent_requests_share_transactions(app: FastAPI, client: TestClient, eorg: EventOrg) -> None:
    writer: BatchWriter[Any] = ctx_of(app).event_writer
    before = writer.batches

    def one(i: int) -> int:
        return client.post(
            "/v1/api/collect", headers=eorg.headers, json={"event_name": "x", "event_id": str(i)}
        ).status_code

    with ThreadPoolExecutor(max_workers=20) as pool:
        assert set(pool.map(one, range(200))) == {204}
    assert writer.batches - before < 200


def _flaky(session: Session, items: Sequence[int]) -> list[Any]:
    if 13 in items:
        raise ValueError("a bad row")
    return ["ok" for _ in items]


def test_a_failing_item_does_not_fail_its_batch(app: FastAPI) -> None:
    writer: BatchWriter[int] = BatchWriter(ctx_of(app).db, _flaky, max_rows=100, max_wait_ms=20)

    async def run() -> list[Any]:
        return list(await asyncio.gather(*(writer.submit(i) for i in (1, 13, 2)), return_exceptions=True))

    try:
        ok1, bad, ok2 = asyncio.run(run())
    finally:
        writer.stop()
    assert (ok1, ok2) == ("ok", "ok")
    assert (bad.status, bad.code, bad.headers) == (503, "service_unavailable", {"Retry-After": "1"})


def test_stop_flushes_what_is_queued(app: FastAPI) -> None:
    seen: list[int] = []

    def handler(session: Session, items: Sequence[int]) -> list[str]:
        seen.extend(items)
        return ["ok"] * len(items)

    writer: BatchWriter[int] = BatchWriter(ctx_of(app).db, handler, max_rows=3, max_wait_ms=50)

    async def run() -> list[Any]:
        futures = [writer.submit(i) for i in range(10)]
        await asyncio.to_thread(writer.stop)
        return list(await asyncio.gather(*futures))

    assert asyncio.run(run()) == ["ok"] * 10
    assert sorted(seen) == list(range(10))


def test_a_deadlock_between_two_batches_is_raised_as_a_retryable_error(
    app: FastAPI, db_url: str, eorg: EventOrg
) -> None:
    """Two keys per row: batches of two processes can wait on each other in a cycle. PostgreSQL aborts
    one; it must reach the writer as the OperationalError it retries, not as an unknown failure."""
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite has one writer at a time: no lock cycles")
    db = ctx_of(app).db
    raised: list[BaseException] = []
    second_done = threading.Event()

    def second() -> None:
        try:
            with db.write() as s:
                # Takes order W and key b, then waits for order X (held by the first transaction).
                service.store_batch(s, [_row(eorg, 2, "b", "W"), _row(eorg, 3, "c", "X")])
        except BaseException as exc:
            raised.append(exc)
        finally:
            second_done.set()

    thread = threading.Thread(target=second)
    try:
        with db.write() as s:
            assert service.store_batch(s, [_row(eorg, 1, "a", "X")]) == ["ok"]
            thread.start()
            _wait_for_a_lock_wait(db)
            # Waits for key b (held by the second): a cycle.
            service.store_batch(s, [_row(eorg, 4, "b", "Y")])
    except OperationalError as exc:
        raised.append(exc)
    second_done.wait(30)
    thread.join(30)
    [error] = raised
    assert isinstance(error, OperationalError)
    assert type(error.orig).__name__ == "DeadlockDetected"


def _wait_for_a_lock_wait(db: Database) -> None:
    """Until another backend of this database waits on a lock (the second transaction is blocked)."""
    waiting = text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with db.read() as probe:  # a new transaction each time: the view is a per-transaction snapshot
            if probe.execute(waiting).scalar_one():
                return
    raise AssertionError("the second transaction never waited")


def test_statement_order_keeps_each_group_of_shared_keys_in_submission_order() -> None:
    def row(i: int, org: str, order_key: str | None, dedupe_key: str | None) -> dict[str, Any]:
        return {"i": i, "org_id": org, "order_key": order_key, "dedupe_key": dedupe_key}

    rows = [
        row(0, "o", "X", "K"),
        row(1, "o", "X", None),
        row(2, "o", "A", "K"),  # joins 0 and 1 through K: the group's smallest key is A
        row(3, "o", None, None),
        row(4, "o", "B", "Z"),
        row(5, "a", "Y", None),
    ]
    ordered = repository.statement_order(rows, ("order_key", "dedupe_key"))
    assert [r["i"] for r in ordered] == [5, 3, 0, 1, 2, 4]
