"""SIGKILL the real server mid-load: nothing acknowledged is lost, nothing is stored twice after retries."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from tests.databases import fresh_database
from tests.e2e.server import ServerProcess
from tests.events.helpers import seed_event_org
from tests.waiting import eventually
from threadline.store.db import Database
from threadline.store.migrate import upgrade
from threadline.store.models import CollectEvent, Conversion

ADMIN_TOKEN = "adm_e2e_token"
# Kill once this many events are acknowledged (a count, not a time: a loaded machine is slower).
KILL_AFTER_ACKED = 200
CLIENT_THREADS = 4

pytestmark = pytest.mark.e2e


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with fresh_database(request.param, tmp_path) as url:
        yield url


class Load:
    """Client threads sending unique collect events and conversions until told to stop."""

    def __init__(self, base_url: str, event_key: str, click_id: str) -> None:
        self.base_url = base_url
        self.headers = {"Authorization": f"Bearer {event_key}"}
        self.click_id = click_id
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.sent: list[tuple[str, str]] = []
        self.acked: set[tuple[str, str]] = set()

    def send(self, client: httpx.Client, kind: str, ident: str) -> bool:
        if kind == "collect":
            r = client.post(
                "/v1/api/collect",
                headers=self.headers,
                json={"event_name": "page_view", "tag_id": "e2e", "event_id": ident},
            )
            return r.status_code == 204
        body = {
            "click_id": self.click_id,
            "conversion_time": "2026-02-19T18:00:00Z",
            "conversion_value": 1.5,
            "currency": "USD",
            "order_id": f"order-{ident}",  # both keys in force: replays repeat the key and the order
        }
        r = client.post("/v1/api/conversion", headers={**self.headers, "Idempotency-Key": ident}, json=body)
        return r.status_code == 200 and r.json()["status"] in ("ok", "duplicate")

    def run(self, worker: int) -> None:
        with httpx.Client(base_url=self.base_url, timeout=10) as client:
            i = 0
            while not self.stop.is_set():
                i += 1
                item = ("collect" if i % 2 else "conversion", f"w{worker}-{i}")
                with self.lock:
                    self.sent.append(item)
                try:
                    ok = self.send(client, *item)
                except httpx.HTTPError:
                    ok = False
                if ok:
                    with self.lock:
                        self.acked.add(item)


def _stored_counts(url: str) -> dict[tuple[str, str], int]:
    db = Database(url)
    try:
        with db.read() as s:
            collect = s.execute(
                select(CollectEvent.event_id, func.count()).group_by(CollectEvent.event_id)
            ).all()
            conversions = s.execute(
                select(Conversion.dedupe_key, func.count()).group_by(Conversion.dedupe_key)
            ).all()
    finally:
        db.dispose()
    counts = {("collect", str(ident)): int(n) for ident, n in collect}
    counts.update({("conversion", str(key).removeprefix("idem:")): int(n) for key, n in conversions})
    return counts


def test_sigkill_mid_load_keeps_every_acknowledged_event_once(tmp_path: Path, database_url: str) -> None:
    upgrade(database_url)
    seeded = seed_event_org(database_url, name="Crash Test Inc.")
    server = ServerProcess(
        tmp_path / "data",
        env={
            "THREADLINE_DATABASE_URL": database_url,
            "THREADLINE_ADMIN_TOKEN": ADMIN_TOKEN,
            "THREADLINE_RATE_LIMITS_ENABLED": "false",
            "THREADLINE_LOG_REQUESTS": "false",
        },
    )
    server.start()
    try:
        load = Load(server.base_url, seeded.event_key, seeded.click_id)
        threads = [threading.Thread(target=load.run, args=(w,)) for w in range(CLIENT_THREADS)]
        for t in threads:
            t.start()
        eventually(lambda: True if len(load.acked) >= KILL_AFTER_ACKED else None, 60, "acknowledged events")
        server.kill()  # SIGKILL while requests are in flight
        load.stop.set()
        for t in threads:
            t.join(15)

        assert len(load.acked) > 50, "the load never got going"
        assert len(load.acked) < len(load.sent), "the kill should have cut some requests off"
        counts = _stored_counts(database_url)
        assert all(n == 1 for n in counts.values()), "a row was stored twice"
        assert all(counts.get(item) == 1 for item in load.acked), "an acknowledged event was lost"

        server.start()
        with httpx.Client(base_url=server.base_url, timeout=10) as client:
            unacked = [item for item in load.sent if item not in load.acked]
            # Clients retry what was not acknowledged; replaying some acknowledged ones must not double them.
            for item in unacked + sorted(load.acked)[:100]:
                assert load.send(client, *item)
        counts = _stored_counts(database_url)
        assert set(counts) == set(load.sent)
        assert all(n == 1 for n in counts.values())
    finally:
        server.stop()
