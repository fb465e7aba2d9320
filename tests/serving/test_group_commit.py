"""Serving writes are group-committed: concurrent requests share transactions, each is answered after
the COMMIT holding its rows, the budget stays a hard cap inside a batch, and a batch the store refuses
answers every waiting request with a 503 in the serving shape (nothing served, nothing charged) while
the next batch recovers."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text

from tests.factories import ctx_of
from tests.serving.helpers import bid_body, engine, live_campaign, make_publisher
from threadline.kit.clock import MovableClock
from threadline.serving.tables import impressions
from threadline.store.models import Campaign, Click

BID = "/api/v1/ssp/bid-request"
N = 24


def _bid(client: TestClient, pub: Any, i: int) -> Any:
    return client.post(
        BID, json=bid_body(userId=f"u{i}", chatId=f"c{i}", production=True), headers=pub.headers
    )


def _stored_bid_ids(app: FastAPI) -> set[str]:
    with ctx_of(app).db.read() as s:
        return {str(b) for b in s.execute(select(impressions.c.bid_id)).scalars()}


def _spent(app: FastAPI, campaign_id: str) -> int:
    with ctx_of(app).db.read() as s:
        return int(s.execute(select(Campaign.spent_micros).where(Campaign.id == campaign_id)).scalar_one())


def test_concurrent_bid_requests_share_transactions_and_are_stored_when_answered(
    app: FastAPI, client: TestClient, clock: MovableClock
) -> None:
    ctx_of(app).limiter.enabled = False
    live_campaign(client, app, clock)
    pub = make_publisher(app)
    writer = engine(app).writes
    writer.max_wait = 0.02  # let the concurrent requests meet in a batch on any machine
    before = writer.batches

    def one(i: int) -> str:
        r = _bid(client, pub, i)
        assert r.status_code == 200, r.text
        bid_id: str = r.json()["data"]["bid"]["bidId"]
        assert bid_id in _stored_bid_ids(app)  # answered only once committed
        return bid_id

    with ThreadPoolExecutor(max_workers=N) as pool:
        served = list(pool.map(one, range(N)))
    assert len(set(served)) == N
    assert writer.batches - before < N


def test_reservations_inside_one_batch_stop_at_the_budget(
    app: FastAPI, client: TestClient, clock: MovableClock
) -> None:
    """Budget for exactly 5 impressions at the floor (2,000 micros each), 24 requests in few batches."""
    ctx_of(app).limiter.enabled = False
    campaign = live_campaign(client, app, clock, budget_micros=1_000_000)
    with ctx_of(app).db.write() as s:  # leave 10,000 micros: five impressions at $2.00 CPM
        s.execute(
            Campaign.__table__.update().where(Campaign.id == campaign["id"]).values(spent_micros=990_000)
        )
    engine(app).index.refresh_now()
    pub = make_publisher(app, floor_cpm_micros=2_000_000)
    writer = engine(app).writes
    writer.max_wait = 0.05
    before = writer.batches
    with ThreadPoolExecutor(max_workers=N) as pool:
        bodies = [r.json()["data"] for r in pool.map(lambda i: _bid(client, pub, i), range(N))]
    assert writer.batches - before < N
    served = [b for b in bodies if b["bid"] is not None]
    assert len(served) == 5
    assert {b["reason"] for b in bodies if b["bid"] is None} == {"budget_exhausted"}
    assert _spent(app, campaign["id"]) == 1_000_000
    with ctx_of(app).db.read() as s:
        charged = s.execute(
            select(func.sum(impressions.c.charged_micros)).where(impressions.c.campaign_id == campaign["id"])
        ).scalar_one()
    assert charged == 10_000


@contextmanager
def _store_refuses_writes(app: FastAPI) -> Iterator[None]:
    """The store fails every impression and click write until the block ends (a trigger that raises)."""
    db = ctx_of(app).db
    if db.is_sqlite:
        on = [
            f"CREATE TRIGGER store_down_{t}_{op} BEFORE {op} ON {t} BEGIN SELECT RAISE(ABORT, 'store down'); END"
            for t, op in (("impressions", "INSERT"), ("impressions", "UPDATE"), ("clicks", "INSERT"))
        ]
        off = [f"DROP TRIGGER store_down_{t}_{op}" for t, op in
               (("impressions", "INSERT"), ("impressions", "UPDATE"), ("clicks", "INSERT"))]  # fmt: skip
    else:
        on = [
            "CREATE FUNCTION store_down() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'store down'; END $$ "
            "LANGUAGE plpgsql",
            "CREATE TRIGGER store_down BEFORE INSERT OR UPDATE ON impressions FOR EACH ROW "
            "EXECUTE FUNCTION store_down()",
            "CREATE TRIGGER store_down BEFORE INSERT ON clicks FOR EACH ROW EXECUTE FUNCTION store_down()",
        ]
        off = ["DROP TRIGGER store_down ON impressions", "DROP TRIGGER store_down ON clicks",
               "DROP FUNCTION store_down()"]  # fmt: skip
    with db.write() as s:
        for sql in on:
            s.execute(text(sql))
    try:
        yield
    finally:
        with db.write() as s:
            for sql in off:
                s.execute(text(sql))


def _assert_serving_503(r: Any, *, tracking: bool = False) -> None:
    """The serving error shape (tracking links add the code, as their 404 does)."""
    assert r.status_code == 503, r.text
    want = {
        "status": "error",
        "message": "The request could not be recorded. Retry later.",
        "requestId": r.headers["x-request-id"],
    }
    if tracking:
        want["code"] = "service_unavailable"
    assert r.json() == want
    assert r.headers["Retry-After"] == "1"


def test_a_failed_batch_answers_every_waiting_request_with_a_503_and_the_next_batch_recovers(
    app: FastAPI, client: TestClient, clock: MovableClock
) -> None:
    ctx_of(app).limiter.enabled = False
    campaign = live_campaign(client, app, clock, pricing_model="cpm")
    cpc = live_campaign(
        client, app, clock, pricing_model="cpc", hints=["trail running"], max_bid_micros=100_000
    )
    pub = make_publisher(app)
    trail = [
        {"role": "user", "content": "I'm getting into trail running, any tips?"},
        {"role": "assistant", "content": "Start with short trail running loops."},
    ]
    r = client.post(BID, json=bid_body(messages=trail, production=True), headers=pub.headers)
    click_url = r.json()["data"]["bid"]["url"]
    click_path = click_url[click_url.index("/t/c/") :]
    view_url = r.json()["data"]["bid"]["view_url"]
    engine(app).writes.max_wait = 0.02
    stored_before = _stored_bid_ids(app)

    with _store_refuses_writes(app):
        with ThreadPoolExecutor(max_workers=8) as pool:
            answers = list(pool.map(lambda i: _bid(client, pub, i), range(8)))
        for a in answers:
            _assert_serving_503(a)
        click = client.get(click_path, follow_redirects=False)
        _assert_serving_503(click, tracking=True)
        view = client.get(view_url[view_url.index("/t/v/") :])
        _assert_serving_503(view, tracking=True)
    assert _stored_bid_ids(app) == stored_before
    assert _spent(app, campaign["id"]) == 0
    with ctx_of(app).db.read() as s:
        assert s.execute(select(func.count()).select_from(Click)).scalar_one() == 0

    ok = _bid(client, pub, 99)
    assert ok.status_code == 200, ok.text
    assert ok.json()["data"]["bid"]["bidId"] in _stored_bid_ids(app)
    assert client.get(click_path, follow_redirects=False).status_code == 302
    assert _spent(app, campaign["id"]) > 0
    assert _spent(app, cpc["id"]) > 0
