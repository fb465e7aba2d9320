"""Two server processes on one store (and one Redis when THREADLINE_TEST_REDIS_URL is set) share what
limits a caller: a chat's frequency rule holds exactly while its turns alternate between the processes
or arrive at both at once, and a key's rate limit is one budget, not one per process."""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import func, select

from tests.e2e.server import ServerProcess
from tests.e2e.support import (
    STORES,
    US_USER,
    chat_card_campaign,
    create_advertiser,
    create_publisher,
    launch,
    servers_on_one_store,
)
from tests.waiting import eventually
from threadline.store.db import Database
from threadline.store.models import impressions

pytestmark = pytest.mark.e2e

RATE_PER_HOUR = 10  # advertiser calls per key: enough for the frequency test's own set-up
AD_OFFSET, MAX_FREQUENCY = 1, 3  # no ad on turn 0, then at least 3 turns between two ads
TURNS = 12
MESSAGES = [
    {"role": "user", "content": "Which running shoes should I buy for the road?"},
    {"role": "assistant", "content": "Cushioned running shoes with a light upper work well."},
]


@pytest.fixture(scope="module", params=STORES)
def pair(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[list[ServerProcess], str]]:
    """Two servers on one store with rate limits on (shared through Redis when there is one), for the
    whole module: starting processes is the expensive part."""
    env = {"THREADLINE_RATE_LIMITS_ENABLED": "true", "THREADLINE_RATE_LIMIT_PER_HOUR": str(RATE_PER_HOUR)}
    redis_url = os.environ.get("THREADLINE_TEST_REDIS_URL")  # read now: each xdist worker has its own
    if redis_url:
        env["THREADLINE_REDIS_URL"] = redis_url
    with servers_on_one_store(request.param, tmp_path_factory.mktemp("pair"), env=env) as running:
        yield running


def _bid(http: httpx.Client, base: str, publisher_key: str, **body: object) -> dict[str, object]:
    r = http.post(
        f"{base}/api/v1/ssp/bid-request",
        json={"userId": "u1", "messages": MESSAGES, **body},
        headers={"thrad-api-key": publisher_key, **US_USER},
    )
    assert r.status_code == 200, r.text
    data: dict[str, object] = r.json()["data"]
    return data


def _expected(turn: int) -> str:
    capped = turn < AD_OFFSET or (turn - AD_OFFSET) % MAX_FREQUENCY
    return "frequency_capped" if capped else "served"


def _impressions_in(url: str, chat_id: str) -> int:
    db = Database(url)
    try:
        with db.read() as s:
            n = s.execute(
                select(func.count()).where(impressions.c.chat_id == chat_id, impressions.c.production)
            ).scalar_one()
    finally:
        db.dispose()
    return int(n)


def test_a_chats_frequency_rule_holds_exactly_across_processes(pair: tuple[list[ServerProcess], str]) -> None:
    procs, url = pair
    bases = [p.base_url for p in procs]
    with httpx.Client(timeout=10) as http:
        setup = httpx.Client(base_url=bases[0], timeout=10)
        advertiser = create_advertiser(setup)
        publisher_key = create_publisher(setup)
        launch(setup, advertiser, chat_card_campaign("Road", "cpm", 50_000_000, 5_000_000, ["running shoes"]))
        setup.close()
        for base in bases:  # both indexes hold the campaign before the chat starts (sandbox: not a turn)
            eventually(lambda b=base: _bid(http, b, publisher_key, production=False)["bid"], 10, "indexed")

        config = {"ad_offset": AD_OFFSET, "max_frequency": MAX_FREQUENCY}

        def turn(i: int, chat_id: str) -> str:
            data = _bid(http, bases[i % 2], publisher_key, chatId=chat_id, config=config)
            return "served" if data["bid"] is not None else str(data["reason"])

        # The server counts the turns (no turn_number), so the count and the last ad's turn live in
        # the store: one chat's turns alternate between the processes.
        got = [turn(i, "alternating") for i in range(TURNS)]
        assert got == [_expected(i) for i in range(TURNS)]

        # All of a chat's turns at once, half at each process: whichever request each turn falls to,
        # the chat gets exactly the ads of the rule.
        with ThreadPoolExecutor(max_workers=TURNS) as pool:
            at_once = list(pool.map(lambda i: turn(i, "at-once"), range(TURNS)))
        assert sorted(at_once) == sorted(_expected(i) for i in range(TURNS))

    for chat_id in ("alternating", "at-once"):
        assert _impressions_in(url, chat_id) == [_expected(i) for i in range(TURNS)].count("served")


@pytest.mark.redis
def test_a_keys_rate_limit_is_one_budget_across_processes(pair: tuple[list[ServerProcess], str]) -> None:
    procs, _ = pair
    bases = [p.base_url for p in procs]
    with httpx.Client(timeout=10) as http:
        setup = httpx.Client(base_url=bases[0], timeout=10)
        advertiser = create_advertiser(setup, name="Rate Inc.")
        setup.close()
        got = [
            http.get(f"{bases[i % 2]}/v1/ad_account", headers=advertiser.headers)
            for i in range(RATE_PER_HOUR)
        ]
        assert [r.status_code for r in got] == [200] * RATE_PER_HOUR
        assert [int(r.headers["X-RateLimit-Remaining"]) for r in got] == list(
            range(RATE_PER_HOUR - 1, -1, -1)
        )
        for base in bases:
            r = http.get(f"{base}/v1/ad_account", headers=advertiser.headers)
            assert r.status_code == 429, r.text
            assert r.json()["error"]["code"] == "rate_limit_exceeded"
