"""POST /api/v1/ssp/bid-request: shapes, every documented error, sandbox, frequency, CORS, rate limit."""

from __future__ import annotations

import threading
import time
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.factories import ctx_of
from tests.serving.helpers import (
    OFF_TOPIC_CHAT,
    UA,
    bid_body,
    engine,
    live_campaign,
    make_publisher,
)
from tests.waiting import eventually
from threadline.insights.rollups import hour_of
from threadline.kit.clock import MovableClock
from threadline.serving.tables import impressions
from threadline.store.models import Campaign, InsightsHourly

URL = "/api/v1/ssp/bid-request"


def _spent(app: FastAPI, campaign_id: str) -> int:
    with ctx_of(app).db.read() as s:
        return int(s.execute(select(Campaign.spent_micros).where(Campaign.id == campaign_id)).scalar_one())


def _error(r: Any, status: int, message: str) -> None:
    assert r.status_code == status, r.text
    assert r.json() == {"status": "error", "message": message, "requestId": r.headers["x-request-id"]}


def test_served_bid_shape_charges_second_price_and_counts(
    app: FastAPI, client: TestClient, clock: MovableClock
) -> None:
    pub = make_publisher(app, supply="partner-x")
    winner = live_campaign(client, app, clock, max_bid_micros=5_000_000)
    live_campaign(client, app, clock, max_bid_micros=3_000_000)

    r = client.post(URL, json=bid_body(), headers=pub.headers)
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"requestId", "timestamp", "totalTime", "status", "message", "data"}
    assert body["status"] == "success"
    assert body["data"]["reason"] is None
    bid = body["data"]["bid"]
    assert set(bid) == {
        "bidId", "ad_format", "price", "advertiser", "domain", "headline", "description",
        "cta_text", "url", "placement", "image_url", "view_url",
    }  # fmt: skip
    assert bid["ad_format"] == "sponsored_message"
    assert bid["headline"] == "Premium Running Shoes"
    assert bid["domain"] == "example.com"
    assert bid["placement"] == "text"
    assert bid["image_url"] is None
    assert bid["url"].startswith("http://127.0.0.1:8000/t/c/")
    assert bid["view_url"].startswith("http://127.0.0.1:8000/t/v/")
    # Same relevance for both, so the winner pays the runner-up's bid plus one cent CPM.
    assert bid["price"] == 3.01
    assert _spent(app, winner["id"]) == 3_010_000 // 1000
    assert r.headers["x-ratelimit-remaining"] == "99"

    ctx = ctx_of(app)
    with ctx.db.read() as s:
        imp = s.execute(select(impressions).where(impressions.c.bid_id == bid["bidId"])).mappings().one()
        rollup = s.execute(
            select(InsightsHourly).where(InsightsHourly.campaign_id == winner["id"])
        ).scalar_one()
    assert imp["production"] is True
    assert imp["charged_micros"] == 3010
    assert imp["supply"] == "partner-x"
    assert (rollup.impressions, rollup.spend_micros, rollup.supply) == (1, 3010, "partner-x")
    assert rollup.hour == hour_of(clock.now_s())


def test_no_match_and_no_eligible_ads(app: FastAPI, client: TestClient, clock: MovableClock) -> None:
    pub = make_publisher(app)
    r = client.post(URL, json=bid_body(), headers=pub.headers)
    assert r.json()["data"] == {"bid": None, "reason": "no_eligible_ads"}
    live_campaign(client, app, clock)
    r = client.post(URL, json=bid_body(messages=OFF_TOPIC_CHAT), headers=pub.headers)
    assert r.status_code == 200
    assert r.json()["data"] == {"bid": None, "reason": "no_match"}
    r = client.post(URL, json=bid_body(ad_formats=["sponsored_poll"]), headers=pub.headers)
    assert r.json()["data"] == {"bid": None, "reason": "no_eligible_ads"}


def test_below_floor(app: FastAPI, client: TestClient, clock: MovableClock) -> None:
    pub = make_publisher(app, floor_cpm_micros=2_500_000)
    campaign = live_campaign(client, app, clock, max_bid_micros=2_000_000)
    r = client.post(URL, json=bid_body(), headers=pub.headers)
    assert r.json()["data"] == {"bid": None, "reason": "below_floor"}
    assert _spent(app, campaign["id"]) == 0


def test_winner_alone_pays_the_floor(app: FastAPI, client: TestClient, clock: MovableClock) -> None:
    pub = make_publisher(app, floor_cpm_micros=1_500_000)
    live_campaign(client, app, clock, max_bid_micros=9_000_000)
    r = client.post(URL, json=bid_body(), headers=pub.headers)
    assert r.json()["data"]["bid"]["price"] == 1.5


def test_country_targeting(app: FastAPI, client: TestClient, clock: MovableClock) -> None:
    pub = make_publisher(app)
    live_campaign(client, app, clock, countries=["FR"])
    geo = {"X-User-Device": "mobile", "X-User-Timezone": "Europe/Paris"}
    r = client.post(URL, json=bid_body(), headers={**pub.headers, **geo, "X-User-Country": "fr"})
    assert r.json()["data"]["bid"] is not None
    r = client.post(URL, json=bid_body(), headers={**pub.headers, **geo, "X-User-Country": "US"})
    assert r.json()["data"] == {"bid": None, "reason": "no_eligible_ads"}
    r = client.post(URL, json=bid_body(), headers=pub.headers)  # unknown country: untargeted only
    assert r.json()["data"]["bid"] is None


def test_sandbox_serves_best_match_and_is_never_billed(
    app: FastAPI, client: TestClient, clock: MovableClock
) -> None:
    pub = make_publisher(app, floor_cpm_micros=50_000_000)  # far above every bid
    campaign = live_campaign(client, app, clock)
    for messages in (None, OFF_TOPIC_CHAT):
        r = client.post(URL, json=bid_body(messages=messages, production=False), headers=pub.headers)
        assert r.json()["data"]["bid"]["headline"] == "Premium Running Shoes"
    assert _spent(app, campaign["id"]) == 0
    with ctx_of(app).db.read() as s:
        assert (
            s.execute(select(InsightsHourly).where(InsightsHourly.campaign_id == campaign["id"])).first()
            is None
        )
        rows = s.execute(
            select(impressions.c.production, impressions.c.charged_micros).where(
                impressions.c.campaign_id == campaign["id"]
            )
        ).all()
    assert [tuple(r) for r in rows] == [(False, 0), (False, 0)]


def test_exhausted_budget_stops_serving(app: FastAPI, client: TestClient, clock: MovableClock) -> None:
    # A $100 floor makes every impression cost $0.10: a $1 budget buys exactly ten.
    pub = make_publisher(app, floor_cpm_micros=100_000_000)
    campaign = live_campaign(client, app, clock, max_bid_micros=100_000_000, budget_micros=1_000_000)
    got = [client.post(URL, json=bid_body(), headers=pub.headers).json()["data"] for _ in range(12)]
    assert sum(1 for d in got if d["bid"]) == 10
    assert got[-1] == {"bid": None, "reason": "budget_exhausted"}
    assert _spent(app, campaign["id"]) == 1_000_000


def test_paused_campaign_stops_matching_within_a_second(
    app: FastAPI, client: TestClient, clock: MovableClock
) -> None:
    pub = make_publisher(app)
    campaign = live_campaign(client, app, clock)
    assert client.post(URL, json=bid_body(), headers=pub.headers).json()["data"]["bid"] is not None
    r = client.post(f"/v1/campaigns/{campaign['id']}/pause", headers=campaign["org"].headers)
    assert r.status_code == 200
    # The background refresh, not a manual one: wait for its rebuild, no longer than the promise.
    eventually(
        lambda: True if campaign["id"] not in engine(app).index.snapshot().campaigns else None,
        timeout=1.0,
        what="the background index refresh to drop the paused campaign",
    )
    assert client.post(URL, json=bid_body(), headers=pub.headers).json()["data"]["bid"] is None


def test_frequency_ad_offset_and_max_frequency(app: FastAPI, client: TestClient, clock: MovableClock) -> None:
    pub = make_publisher(app)
    live_campaign(client, app, clock)
    cfg = {"ad_offset": 2, "max_frequency": 3}
    served = []
    for turn in range(9):
        r = client.post(URL, json=bid_body(config=cfg, turn_number=turn), headers=pub.headers)
        data = r.json()["data"]
        served.append(data["bid"] is not None)
        if data["bid"] is None:
            assert data["reason"] == "frequency_capped"
    assert served == [False, False, True, False, False, True, False, False, True]


def test_headline_is_cut_to_max_headline_chars(app: FastAPI, client: TestClient, clock: MovableClock) -> None:
    pub = make_publisher(app)
    live_campaign(client, app, clock, ads=[_card("Premium Running Shoes For Every Marathon Runner")])
    r = client.post(URL, json=bid_body(config={"max_headline_chars": 30}), headers=pub.headers)
    headline = r.json()["data"]["bid"]["headline"]
    assert len(headline) == 30
    assert headline.endswith("…")


def _card(title: str) -> dict[str, Any]:
    from tests.serving.helpers import card

    return card(title[:50])


# -- errors ---------------------------------------------------------------------------------------


def test_bad_keys_are_401(app: FastAPI, client: TestClient) -> None:
    for headers in ({}, {"thrad-api-key": "pk_nope"}, {"thrad-api-key": "ak_x"}):
        _error(client.post(URL, json=bid_body(), headers={**UA, **headers}), 401, "Invalid API key.")


def test_bad_body_is_400(app: FastAPI, client: TestClient) -> None:
    pub = make_publisher(app)
    cases: list[tuple[Any, str]] = [
        ({"messages": bid_body()["messages"]}, "Missing required parameter: userId."),
        (
            bid_body(messages=bid_body()["messages"][:1]),
            "messages: List should have at least 2 items after validation, not 1",
        ),
        (
            bid_body(config={"max_headline_chars": 10}),
            "config.max_headline_chars: Input should be greater than or equal to 30",
        ),
        (bid_body(turn_number=-1), "turn_number: Input should be greater than or equal to 0"),
        (bid_body(production="yes"), "production: Input should be a valid boolean"),
    ]
    for body, message in cases:
        _error(client.post(URL, json=body, headers=pub.headers), 400, message)
    r = client.post(URL, content=b"{not json", headers={**pub.headers, "Content-Type": "application/json"})
    _error(r, 400, "The request body is not valid JSON.")


def test_context_headers_are_400(app: FastAPI, client: TestClient) -> None:
    pub = make_publisher(app)
    key = {"thrad-api-key": pub.api_key}
    _error(
        client.post(URL, json=bid_body(), headers={**key, "User-Agent": ""}),
        400,
        "The User-Agent header is required.",
    )
    _error(
        client.post(URL, json=bid_body(), headers={**key, "User-Agent": "x"}),
        400,
        "The X-Forwarded-For header is required.",
    )
    base = pub.headers
    _error(
        client.post(URL, json=bid_body(), headers={**base, "X-User-Country": "ZZ"}),
        400,
        "X-User-Country must be an ISO 3166-1 alpha-2 code.",
    )
    _error(
        client.post(URL, json=bid_body(), headers={**base, "X-User-Country": "US", "X-User-Timezone": "UTC"}),
        400,
        "X-User-Device (mobile|desktop) is required with X-User-Country.",
    )
    _error(
        client.post(
            URL,
            json=bid_body(),
            headers={
                **base,
                "X-User-Country": "US",
                "X-User-Device": "desktop",
                "X-User-Timezone": "Mars/Olympus",
            },
        ),
        400,
        "X-User-Timezone (IANA) is required with X-User-Country.",
    )


def test_cors_allow_list_and_preflight(app: FastAPI, client: TestClient, clock: MovableClock) -> None:
    pub = make_publisher(app, allowed_origins=["https://chat.example"])
    live_campaign(client, app, clock)
    r = client.post(URL, json=bid_body(), headers={**pub.headers, "Origin": "https://evil.example"})
    _error(r, 403, "Origin not allowed for this publisher.")
    r = client.post(URL, json=bid_body(), headers={**pub.headers, "Origin": "https://chat.example"})
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == "https://chat.example"
    r = client.options(
        URL,
        headers={
            "Origin": "https://chat.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "thrad-api-key, content-type",
        },
    )
    assert r.status_code == 204
    assert r.headers["access-control-allow-origin"] == "https://chat.example"
    assert r.headers["access-control-allow-headers"] == "thrad-api-key, content-type"
    assert "POST" in r.headers["access-control-allow-methods"]


def test_rate_limit_is_429_with_headers(app: FastAPI, client: TestClient) -> None:
    ctx = ctx_of(app)
    ctx.settings.serving_rate_limit_per_second = 3
    pub = make_publisher(app)
    # A sliding window may straddle a second boundary, so allow a few extra before the first 429.
    got = [client.post(URL, json=bid_body(), headers=pub.headers) for _ in range(10)]
    codes = [r.status_code for r in got]
    assert codes[:3] == [200, 200, 200]
    assert 429 in codes
    limited = got[codes.index(429)]
    _error(limited, 429, "Rate limit exceeded.")
    assert limited.headers["x-ratelimit-remaining"] == "0"
    assert int(limited.headers["x-ratelimit-reset"]) >= int(time.time())


def test_the_decision_runs_in_the_event_loop_once_the_index_is_built(
    app: FastAPI, client: TestClient, clock: MovableClock
) -> None:
    # The first request builds the index (a store read) in a worker thread; later ones plan in the loop.
    pub = make_publisher(app)
    live_campaign(client, app, clock, max_bid_micros=5_000_000)
    serving = engine(app)
    threads: list[str] = []
    plan = serving.plan

    def recording_plan(req: Any) -> Any:
        threads.append(threading.current_thread().name)
        return plan(req)

    serving.plan = recording_plan  # type: ignore[method-assign]
    was_ready = serving.index.ready()
    for _ in range(2):
        assert client.post(URL, json=bid_body(), headers=pub.headers).status_code == 200
    assert serving.index.ready()
    assert threads[-1] != "AnyIO worker thread"
    if not was_ready:
        assert threads[0] == "AnyIO worker thread"
