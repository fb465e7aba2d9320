"""Budgets hold across real server processes, also through a crash: 64 client threads buy impressions
(cpm) and clicks (cpc) of two small-budget campaigns until both are spent, against two servers on one
store, and against servers one of which is SIGKILLed mid-load and restarted on the same store."""

from __future__ import annotations

import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import func, select

from tests.e2e.server import ServerProcess
from tests.e2e.support import (
    STORES,
    US_USER,
    Advertiser,
    RawTotals,
    chat_card_campaign,
    create_advertiser,
    create_publisher,
    insights_total,
    launch,
    raw_totals,
    servers_on_one_store,
    spent_micros,
)
from tests.waiting import eventually
from threadline.store.db import Database
from threadline.store.models import Campaign, Click, impressions

pytestmark = pytest.mark.e2e

THREADS = 64
ROUNDS = 8  # bid requests per thread (the test without a crash)
FLOOR_CPM = 7_000_000  # each cpm impression costs 7,000 micros: the budget is not a multiple of it
CPM_BUDGET = 990_000  # the smallest budget allowed
CPM_MAX_BID = 20_000_000
CPC_BUDGET = 5_000_000
# The crash test kills a server once this many bids are acknowledged (a count, not a time: a loaded
# machine is slower), about a fifth of what the cpm budget buys.
KILL_AFTER_SERVED = 30
# A ceiling, not a wait: alone this takes seconds (32 to 47 s beside eight CPU-bound processes on the two
# cores), but one CI run on a slow host timed out at 180 s; a timeout says which part never held.
LOAD_DEADLINE = 300.0
BID_PATH = "/api/v1/ssp/bid-request"
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


@pytest.fixture(params=STORES)
def servers(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[list[ServerProcess], str]]:
    """Two server processes on one fresh, migrated store (a SQLite file or a PostgreSQL database)."""
    with servers_on_one_store(request.param, tmp_path) as running:
        yield running


@pytest.fixture(
    params=[
        pytest.param(("sqlite", 1), id="sqlite"),
        pytest.param(("postgres", 2), id="postgres", marks=pytest.mark.postgres),
    ]
)
def crash_servers(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[list[ServerProcess], str]]:
    """The deployments the crash test kills a process of: one server on SQLite (its single writer), two
    on PostgreSQL."""
    kind, count = request.param
    with servers_on_one_store(kind, tmp_path, count) as running:
        yield running


def _is_serving_503(r: httpx.Response) -> bool:
    """The documented answer of a request whose write could not be stored (serving error shape)."""
    try:
        body = r.json()
    except ValueError:
        return False
    return (
        r.status_code == 503
        and r.headers.get("Retry-After") == "1"
        and isinstance(body, dict)
        and body.get("status") == "error"
        and isinstance(body.get("message"), str)
        and set(body) <= {"status", "message", "requestId", "code"}
    )


class Load:
    """Client threads asking for bids and clicking what they are served, each answer classified:
    acknowledged (kept), a serving 503 or a connection cut (tolerated, then the caller decides), or a
    failure (anything else: never acceptable)."""

    def __init__(self, bases: list[str], publisher_key: str, rounds: int | None = None) -> None:
        self.bases = bases
        self.publisher_key = publisher_key
        self.rounds = rounds  # None: until ``stop`` is set
        self.stop = threading.Event()
        # Cleared while a server is down: its clients wait for the restart instead of spinning.
        self.up = {base: threading.Event() for base in bases}
        for event in self.up.values():
            event.set()
        self.lock = threading.Lock()
        self.outcomes: Counter[str] = Counter()
        self.failures: list[str] = []
        self.served: dict[str, str] = {}  # bid id -> the server that acknowledged it
        self.clicks: defaultdict[str, set[str]] = defaultdict(set)  # bid id -> click ids answered 302
        self.cut: list[tuple[str, float]] = []  # (server, monotonic start) of requests cut off
        self.answered: Counter[str] = Counter()  # bid requests answered 200, per server

    def note(self, outcome: str) -> None:
        with self.lock:
            self.outcomes[outcome] += 1

    def fail(self, what: str) -> None:
        with self.lock:
            self.failures.append(what)

    def _send(
        self, http: httpx.Client, base: str, method: str, path: str, **kw: Any
    ) -> httpx.Response | None:
        started = time.monotonic()
        try:
            r = http.request(method, base + path, **kw)
        except httpx.TransportError:
            with self.lock:
                self.cut.append((base, started))
            self.up[base].wait(60)
            return None
        if _is_serving_503(r):
            self.note("503")
            return None
        return r

    def run(self, worker: int) -> None:
        n = len(self.bases)
        here, there = self.bases[worker % n], self.bases[(worker + 1) % n]
        headers = {"thrad-api-key": self.publisher_key, **US_USER}
        with httpx.Client(timeout=30) as http:
            i = 0
            while not self.stop.is_set() and (self.rounds is None or i < self.rounds):
                i += 1
                topic = "cpm" if (worker + i) % 2 else "cpc"
                body = {"userId": f"u{worker}", "chatId": f"c{worker}-{i}", "messages": TOPICS[topic]}
                r = self._send(http, here, "POST", BID_PATH, json=body, headers=headers)
                if r is None:
                    continue
                if r.status_code != 200:
                    self.fail(f"bid {r.status_code} {r.text[:200]}")
                    continue
                with self.lock:
                    self.answered[here] += 1
                data = r.json()["data"]
                if data["bid"] is None:
                    self.note(f"{topic}:{data['reason']}")
                    continue
                self.note(f"{topic}:served")
                bid_id: str = data["bid"]["bidId"]
                with self.lock:
                    self.served[bid_id] = here
                # Click through the other process, then again through this one (the repeat is the
                # same click within 30 s and must not be charged twice).
                url: str = data["bid"]["url"]
                for base in (there, here) if worker % 4 < 2 else (there,):
                    c = self._send(http, base, "GET", url[url.index("/t/c/") :], follow_redirects=False)
                    if c is None:
                        continue
                    if c.status_code != 302:
                        self.fail(f"click {c.status_code} {c.text[:200]}")
                        continue
                    (click_id,) = parse_qs(urlsplit(c.headers["location"]).query)["thrad_click_id"]
                    with self.lock:
                        self.clicks[bid_id].add(click_id)

    def start(self) -> list[threading.Thread]:
        threads = [threading.Thread(target=self.run, args=(w,)) for w in range(THREADS)]
        for t in threads:
            t.start()
        return threads


def _join(threads: list[threading.Thread]) -> None:
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads)


def _launch_both(http: httpx.Client) -> tuple[Advertiser, str, str, str]:
    """An advertiser with the cpm and the cpc campaign, and a publisher whose floor prices the cpm one."""
    advertiser = create_advertiser(http)
    publisher_key = create_publisher(http, floor_cpm_micros=FLOOR_CPM)
    road = chat_card_campaign("Road", "cpm", CPM_BUDGET, CPM_MAX_BID, ["running shoes"])
    trail = chat_card_campaign("Trail", "cpc", CPC_BUDGET, 5_000_000, ["trail running"])
    return advertiser, publisher_key, launch(http, advertiser, road), launch(http, advertiser, trail)


def _paid_and_free_clicks(db: Database, campaign_id: str) -> tuple[int, int]:
    with db.read() as s:
        paid, free = s.execute(
            select(
                func.count().filter(Click.charged_micros > 0),
                func.count().filter(Click.charged_micros == 0),
            ).where(Click.campaign_id == campaign_id)
        ).one()
    return int(paid), int(free)


def _assert_books_balance(
    http: httpx.Client, advertiser: Advertiser, url: str, budgets: dict[str, int]
) -> tuple[dict[str, int], dict[str, RawTotals]]:
    """Per campaign: spend ≤ budget to the micro, and the campaign's spend = Σ impression charges + Σ
    click charges of the raw rows = what the insights API says (so do the impression and click counts)."""
    spent = spent_micros(url)
    charged = raw_totals(url, "campaign")
    for campaign_id, budget in budgets.items():
        row = insights_total(
            http, advertiser, f"/v1/campaigns/{campaign_id}/insights", "spend", "impressions", "clicks"
        )
        truth = charged[campaign_id]
        assert truth.spend_micros <= budget
        assert truth.spend_micros == spent[campaign_id]
        assert round(row["spend"] * 1_000_000) == truth.spend_micros
        assert (row["impressions"], row["clicks"]) == (truth.impressions, truth.clicks)
    account = insights_total(http, advertiser, "/v1/ad_account/insights", "spend")
    assert round(account["spend"] * 1_000_000) == sum(spent[c] for c in budgets)
    return spent, charged


def _assert_both_budgets_fought_over(
    db: Database, load: Load, spent: dict[str, int], charged: dict[str, RawTotals], cpm_id: str, cpc_id: str
) -> None:
    # The cpm budget is spent down to less than one impression at its max bid (the cpc campaign
    # sometimes runs second and lifts the price above the floor), and the cpc one turned clicks away
    # for free once it ran out.
    assert CPM_BUDGET - spent[cpm_id] < CPM_MAX_BID // 1000
    assert spent[cpm_id] >= charged[cpm_id].impressions * (FLOOR_CPM // 1000)
    assert load.outcomes["cpm:budget_exhausted"] + load.outcomes["cpm:no_match"] > 0, load.outcomes
    paid, free = _paid_and_free_clicks(db, cpc_id)
    assert paid > 0
    assert free > 0
    assert spent[cpc_id] > CPC_BUDGET // 2


def test_two_processes_never_overspend(servers: tuple[list[ServerProcess], str]) -> None:
    procs, url = servers
    db = Database(url)
    try:
        with httpx.Client(base_url=procs[0].base_url, timeout=10) as http:
            advertiser, publisher_key, cpm_id, cpc_id = _launch_both(http)
            load = Load([p.base_url for p in procs], publisher_key, rounds=ROUNDS)
            _join(load.start())
            assert load.failures == []
            assert (load.cut, load.outcomes["503"]) == ([], 0)  # no fault here: nothing may fail
            budgets = {cpm_id: CPM_BUDGET, cpc_id: CPC_BUDGET}
            spent, charged = _assert_books_balance(http, advertiser, url, budgets)
        _assert_both_budgets_fought_over(db, load, spent, charged, cpm_id, cpc_id)
    finally:
        db.dispose()


def _spent_down(db: Database, load: Load, cpm_id: str, cpc_id: str) -> bool | None:
    """Both budgets ran out while clients were still asking: the cpm one turned a request away, the cpc
    one a click (recorded but free)."""
    if load.outcomes["cpm:budget_exhausted"] + load.outcomes["cpm:no_match"] == 0:
        return None
    with db.read() as s:
        cpm_spent = s.execute(select(Campaign.spent_micros).where(Campaign.id == cpm_id)).scalar_one()
    if CPM_BUDGET - int(cpm_spent) >= CPM_MAX_BID // 1000:
        return None
    return True if _paid_and_free_clicks(db, cpc_id)[1] > 0 else None


def _spend_state(db: Database, url: str, load: Load, cpm_id: str, cpc_id: str) -> str:
    """What a timed-out wait saw: each campaign's spend, the cpc clicks paid and free, the outcomes."""
    spent = spent_micros(url)
    paid, free = _paid_and_free_clicks(db, cpc_id)
    with load.lock:
        outcomes = dict(load.outcomes)
        answered = dict(load.answered)
        cut = len(load.cut)
    return (
        f"cpm spent {spent.get(cpm_id)} of {CPM_BUDGET}, cpc spent {spent.get(cpc_id)} of {CPC_BUDGET}, "
        f"cpc clicks paid {paid} free {free}, outcomes {outcomes}, answered {answered}, cut {cut}"
    )


def _stored_bids_and_clicks(db: Database) -> tuple[set[str], dict[str, list[str]]]:
    """The production impressions' bid ids, and per bid id the ids of its click rows."""
    with db.read() as s:
        bids = set(s.execute(select(impressions.c.bid_id).where(impressions.c.production)).scalars())
        clicks: defaultdict[str, list[str]] = defaultdict(list)
        for bid_id, click_id in s.execute(select(Click.bid_id, Click.id)):
            clicks[str(bid_id)].append(str(click_id))
    return bids, clicks


def test_sigkill_mid_load_and_restart_never_overspends_nor_loses_what_was_acknowledged(
    crash_servers: tuple[list[ServerProcess], str],
) -> None:
    procs, url = crash_servers
    victim = procs[0]
    db = Database(url)
    try:
        with httpx.Client(base_url=procs[-1].base_url, timeout=10) as http:
            advertiser, publisher_key, cpm_id, cpc_id = _launch_both(http)
            load = Load([p.base_url for p in procs], publisher_key)
            threads = load.start()
            try:
                eventually(
                    lambda: True if len(load.served) >= KILL_AFTER_SERVED else None, LOAD_DEADLINE, "bids"
                )
                load.up[victim.base_url].clear()
                victim.kill()  # SIGKILL with requests in flight
                victim.start()  # on the same store
                restarted = time.monotonic()
                answered_before = load.answered[victim.base_url]
                load.up[victim.base_url].set()

                def done() -> bool | None:
                    back = load.answered[victim.base_url] > answered_before  # the restarted one serves
                    return True if back and _spent_down(db, load, cpm_id, cpc_id) else None

                eventually(
                    done,
                    LOAD_DEADLINE,
                    "both budgets spent, the restarted server answering",
                    lambda: _spend_state(db, url, load, cpm_id, cpc_id),
                )
            finally:
                load.stop.set()
                _join(threads)

            assert load.failures == []
            assert load.cut, "the kill should have cut requests off"
            # Only requests to the killed server, sent before it was back, were cut off.
            assert {base for base, _ in load.cut} == {victim.base_url}
            assert all(started < restarted for _, started in load.cut)
            budgets = {cpm_id: CPM_BUDGET, cpc_id: CPC_BUDGET}
            spent, charged = _assert_books_balance(http, advertiser, url, budgets)

        bids, clicks = _stored_bids_and_clicks(db)
        assert set(load.served) <= bids, "an acknowledged bid has no impression"
        # One click row per impression however often it was clicked (all within 30 s, across the
        # kill), so it is charged at most once, and it is the one every 302 named.
        assert all(len(rows) == 1 for rows in clicks.values()), "an impression's click was stored twice"
        for bid_id, click_ids in load.clicks.items():
            assert set(clicks.get(bid_id, [])) == click_ids, "an acknowledged click was lost"
        _assert_both_budgets_fought_over(db, load, spent, charged, cpm_id, cpc_id)
    finally:
        db.dispose()
