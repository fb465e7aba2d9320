"""Budgets hold across real server processes: two servers on one store, 64 client threads buying
impressions (cpm) and clicks (cpc) of two small-budget campaigns until both are spent."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from tests.e2e.server import ServerProcess
from tests.e2e.support import (
    STORES,
    US_USER,
    create_advertiser,
    create_publisher,
    launch,
    raw_totals,
    servers_on_one_store,
    spent_micros,
)
from threadline.store.db import Database
from threadline.store.models import Click

pytestmark = pytest.mark.e2e

THREADS = 64
ROUNDS = 8  # bid requests per thread
FLOOR_CPM = 7_000_000  # each cpm impression costs 7,000 micros: the budget is not a multiple of it
CPM_BUDGET = 990_000  # the smallest budget allowed
CPM_MAX_BID = 20_000_000
CPC_BUDGET = 5_000_000
TOPICS = {
    "cpm": [
        {"role": "user", "content": "Which running shoes should I buy for the road?"},
        {"role": "assistant", "content": "Cushioned running shoes with a light upper work well."},
    ],
    "cpc": [
        {"role": "user", "content": "I'm getting into trail running, any tips?"},
        {"role": "assistant", "content": "Start with short trail running loops and walk the climbs."},
    ],
}


def _campaign(name: str, pricing_model: str, budget: int, max_bid: int, hints: list[str]) -> dict[str, Any]:
    return {
        "name": name,
        "budget": {"lifetime_spend_limit_micros": budget},
        "pricing_model": pricing_model,
        "ad_groups": [
            {
                "name": "Audience",
                "context_hints": hints,
                "bidding_config": {"max_bid_micros": max_bid},
                "ads": [
                    {
                        "name": "Card",
                        "creative": {
                            "type": "chat_card",
                            "title": f"{name} shoes",
                            "body": "Built for the long run.",
                            "target_url": "https://example.com/landing",
                        },
                    }
                ],
            }
        ],
    }


@pytest.fixture(params=STORES)
def servers(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[list[ServerProcess], str]]:
    """Two server processes on one fresh, migrated store (a SQLite file or a PostgreSQL database)."""
    with servers_on_one_store(request.param, tmp_path) as running:
        yield running


class Load:
    def __init__(self, bases: list[str], publisher_key: str) -> None:
        self.bases = bases
        self.publisher_key = publisher_key
        self.lock = threading.Lock()
        self.outcomes: Counter[str] = Counter()
        self.failures: list[str] = []

    def note(self, outcome: str) -> None:
        with self.lock:
            self.outcomes[outcome] += 1

    def fail(self, what: str) -> None:
        with self.lock:
            self.failures.append(what)

    def run(self, worker: int) -> None:
        with httpx.Client(timeout=30) as http:
            for i in range(ROUNDS):
                topic = "cpm" if (worker + i) % 2 else "cpc"
                here, there = self.bases[worker % 2], self.bases[1 - worker % 2]
                body = {"userId": f"u{worker}", "chatId": f"c{worker}-{i}", "messages": TOPICS[topic]}
                r = http.post(
                    f"{here}/api/v1/ssp/bid-request",
                    json=body,
                    headers={"thrad-api-key": self.publisher_key, **US_USER},
                )
                if r.status_code != 200:
                    self.fail(f"bid {r.status_code} {r.text[:200]}")
                    continue
                data = r.json()["data"]
                if data["bid"] is None:
                    self.note(f"{topic}:{data['reason']}")
                    continue
                self.note(f"{topic}:served")
                # Click through the other process, then again through this one (the repeat is the
                # same click within 30 s and must not be charged twice).
                url: str = data["bid"]["url"]
                for base in (there, here) if worker % 4 < 2 else (there,):
                    c = http.get(base + url[len(here) :], follow_redirects=False)
                    if c.status_code != 302:
                        self.fail(f"click {c.status_code} {c.text[:200]}")


def _paid_and_free_clicks(url: str, campaign_id: str) -> tuple[int, int]:
    db = Database(url)
    try:
        with db.read() as s:
            paid, free = s.execute(
                select(
                    func.count().filter(Click.charged_micros > 0),
                    func.count().filter(Click.charged_micros == 0),
                ).where(Click.campaign_id == campaign_id)
            ).one()
    finally:
        db.dispose()
    return int(paid), int(free)


def test_two_processes_never_overspend(servers: tuple[list[ServerProcess], str]) -> None:
    procs, url = servers
    with httpx.Client(base_url=procs[0].base_url, timeout=10) as http:
        advertiser = create_advertiser(http)
        publisher_key = create_publisher(http, floor_cpm_micros=FLOOR_CPM)
        cpm_id = launch(
            http, advertiser, _campaign("Road", "cpm", CPM_BUDGET, CPM_MAX_BID, ["running shoes"])
        )
        cpc_id = launch(http, advertiser, _campaign("Trail", "cpc", CPC_BUDGET, 5_000_000, ["trail running"]))

        load = Load([p.base_url for p in procs], publisher_key)
        threads = [threading.Thread(target=load.run, args=(w,)) for w in range(THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not any(t.is_alive() for t in threads)
        assert load.failures == []

        spent = spent_micros(url)
        charged = raw_totals(url, "campaign")
        budgets = {cpm_id: CPM_BUDGET, cpc_id: CPC_BUDGET}
        for campaign_id, budget in budgets.items():
            r = http.get(
                f"/v1/campaigns/{campaign_id}/insights",
                params=[("time_granularity", "none"), ("fields[]", "spend"), ("fields[]", "impressions")],
                headers=advertiser.headers,
            )
            assert r.status_code == 200, r.text
            (row,) = r.json()["data"]
            truth = charged[campaign_id]
            assert truth.spend_micros <= budget
            assert truth.spend_micros == spent[campaign_id]
            assert round(row["spend"] * 1_000_000) == truth.spend_micros
            assert row["impressions"] == truth.impressions

    # Both budgets were actually fought over: the cpm one is spent down to less than one impression at
    # its max bid (the cpc campaign sometimes runs second and lifts the price above the floor), and
    # the cpc one turned clicks away for free once it ran out.
    assert CPM_BUDGET - spent[cpm_id] < CPM_MAX_BID // 1000
    assert spent[cpm_id] >= charged[cpm_id].impressions * (FLOOR_CPM // 1000)
    assert load.outcomes["cpm:budget_exhausted"] + load.outcomes["cpm:no_match"] > 0, load.outcomes
    paid, free = _paid_and_free_clicks(url, cpc_id)
    assert paid > 0
    assert free > 0
    assert spent[cpc_id] > CPC_BUDGET // 2
