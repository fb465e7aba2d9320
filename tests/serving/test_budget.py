"""The budget is a hard cap under concurrency and across processes; pacing tracks its daily target."""

from __future__ import annotations

import random
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.factories import ctx_of
from tests.serving.helpers import bid_body, engine, legacy_body, live_campaign, make_publisher
from threadline.app import create_app
from threadline.config import Settings
from threadline.kit.clock import MovableClock
from threadline.serving.budget import pacing_period
from threadline.serving.relevance import threshold
from threadline.serving.service import ServeRequest
from threadline.serving.tables import campaign_pacing, impressions
from threadline.store.models import Campaign, Click

BID = "/api/v1/ssp/bid-request"
BREAD = [
    {"role": "user", "content": "Any tips for sourdough bread baking?"},
    {"role": "assistant", "content": "Sourdough bread needs a lively starter."},
]


@pytest.fixture
def second_process(settings: Settings, clock: MovableClock) -> Iterator[TestClient]:
    """Another server on the same store: its own engine, index, key cache and connection pool."""
    other = create_app(settings, clock=clock)
    with TestClient(other, raise_server_exceptions=False) as c:
        yield c
    other.state.ctx.db.dispose()


def _charges(app: FastAPI, campaign_id: str) -> tuple[int, int]:
    with ctx_of(app).db.read() as s:
        imp = s.execute(
            select(func.coalesce(func.sum(impressions.c.charged_micros), 0)).where(
                impressions.c.campaign_id == campaign_id
            )
        ).scalar_one()
        clk = s.execute(
            select(func.coalesce(func.sum(Click.charged_micros), 0)).where(Click.campaign_id == campaign_id)
        ).scalar_one()
        spent = s.execute(select(Campaign.spent_micros).where(Campaign.id == campaign_id)).scalar_one()
    return int(imp) + int(clk), int(spent)


def test_64_concurrent_clients_never_overspend(
    app: FastAPI, client: TestClient, clock: MovableClock, second_process: TestClient
) -> None:
    ctx_of(app).limiter.enabled = False
    second_process.app.state.ctx.limiter.enabled = False  # type: ignore[attr-defined]
    # cpm: $0.10 per impression (a $100 floor), $1 budget → ten impressions at most.
    cpm = live_campaign(client, app, clock, max_bid_micros=100_000_000, budget_micros=1_000_000)
    # cpc: ~$0.37 per click on a $0.99 budget → two paid clicks at most, the rest free.
    cpc = live_campaign(
        client, app, clock, hints=["sourdough bread"], pricing_model="cpc", max_bid_micros=370_000,
        budget_micros=990_000,
    )  # fmt: skip
    for c in (client, second_process):
        c.app.state.ctx.serving.index.refresh_now()  # type: ignore[attr-defined]
    pricey = make_publisher(app, floor_cpm_micros=100_000_000)
    cheap = make_publisher(app, floor_cpm_micros=1_000_000)

    def hammer(n: int) -> int:
        c = client if n % 2 else second_process
        served = 0
        for i in range(4):
            bread = (n + i) % 2 == 0
            pub = cheap if bread else pricey
            r = c.post(
                BID, json=bid_body(messages=BREAD if bread else None, chatId=f"c{n}"), headers=pub.headers
            )
            assert r.status_code == 200, r.text
            bid = r.json()["data"]["bid"]
            if bid is not None:
                served += 1
                u = urlsplit(bid["url"])
                assert c.get(u.path, follow_redirects=False).status_code == 302
        return served

    with ThreadPoolExecutor(64) as pool:
        served = sum(pool.map(hammer, range(64)))
    assert served > 10
    for campaign, budget in ((cpm, 1_000_000), (cpc, 990_000)):
        charged, spent = _charges(app, campaign["id"])
        assert charged == spent <= budget
    assert _charges(app, cpm["id"])[1] == 1_000_000  # demand was ample: the whole budget, not a micro more


def test_pacing_tracks_the_daily_target_and_never_exceeds_the_cap(
    app: FastAPI, client: TestClient, clock: MovableClock
) -> None:
    """A control loop over simulated days (Revive-style): traffic arrives hour by hour, with a slow day,
    and each day's spend must stay under that day's cap and within 10% of remaining / days left."""
    days = 6
    budget = 6_000_000
    campaign = live_campaign(
        client, app, clock, max_bid_micros=10_000_000, budget_micros=budget, end_after=days * 86_400
    )
    pub = make_publisher(app, floor_cpm_micros=10_000_000)  # $0.01 per impression
    eng = engine(app)
    publisher = eng.index.publisher(pub.id)
    assert publisher is not None
    start = campaign["start_time"]
    rng = random.Random(7)
    spent_before = 0
    for day in range(days):
        per_hour = 3 if day == 1 else 12  # day 1 is slow: its shortfall is spread over the days left
        target = (budget - spent_before) // (days - day)
        for hour in range(24):
            clock.set(start + day * 86_400 + hour * 3600 + rng.randint(0, 600))
            for _ in range(per_hour):
                eng.serve(
                    ServeRequest(
                        publisher=publisher,
                        user_id="u",
                        chat_id=None,
                        messages=["best running shoes for marathon training?", "cushioned running shoes"],
                        formats=frozenset({"sponsored_message"}),
                        country="",
                        threshold=threshold("high"),
                        sandbox=False,
                    )
                )
        spent_total = _charges(app, campaign["id"])[1]
        day_spend = spent_total - spent_before
        period = pacing_period(start, start + days * 86_400, "daily", start + day * 86_400 + 1)
        assert period is not None
        with ctx_of(app).db.read() as s:
            cap = s.execute(
                select(campaign_pacing.c.cap_micros).where(
                    campaign_pacing.c.campaign_id == campaign["id"],
                    campaign_pacing.c.period_start == period.start,
                )
            ).scalar_one()
        assert cap == target
        assert day_spend <= cap
        if day != 1:
            assert abs(day_spend - target) <= 0.1 * target, (day, day_spend, target)
        spent_before = spent_total
    assert spent_before <= budget
    assert spent_before >= 0.9 * budget


def test_frequency_caps_hold_across_processes(
    app: FastAPI, client: TestClient, clock: MovableClock, second_process: TestClient
) -> None:
    """One chat whose turns alternate between two servers: the turn counter and the last ad turn live in
    the store, so the legacy rules (first ad at turn 1, then every 3 turns) hold as if one server."""
    live_campaign(client, app, clock)
    second_process.app.state.ctx.serving.index.refresh_now()  # type: ignore[attr-defined]
    pub = make_publisher(app)
    statuses = []
    for turn in range(10):
        c = client if turn % 2 else second_process
        body = legacy_body(chatId="shared-chat", conversationOffset=1, adFrequencyLimit=3)
        r = c.post("/developer/serve-ad/", json=body, headers=pub.legacy_headers)
        assert r.status_code == 200, r.text
        statuses.append(r.json()["adStatus"])
    served_turns = [t for t, s in enumerate(statuses) if s == "served"]
    assert served_turns == [1, 4, 7]
