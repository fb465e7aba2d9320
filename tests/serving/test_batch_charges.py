"""A batch's first charges are made in one statement (one summed charge per campaign), with the outcome
of making them one after another: a refused charge sends its decision on alone (its own charge, then its
next bid) before any later charge."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Sequence
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from tests.factories import ctx_of
from tests.serving.helpers import engine, live_campaign, make_publisher
from threadline.kit.clock import MovableClock
from threadline.serving import budget, service
from threadline.serving.relevance import threshold
from threadline.serving.service import Plan, PlanWrite, ServeRequest, Written, impression_charge
from threadline.store.models import Campaign

SHOES = ["Which running shoes suit marathon training?", "Cushioned running shoes help on long runs."]
BOOTS = ["Which hiking boots for a mountain trail?", "Waterproof hiking boots keep feet dry."]


def _plan(app: FastAPI, publisher_id: str, messages: Sequence[str], user: str) -> Plan:
    eng = engine(app)
    publisher = eng.index.publisher(publisher_id)
    assert publisher is not None
    req = ServeRequest(
        publisher=publisher, user_id=user, chat_id=None, messages=list(messages),
        formats=frozenset({"sponsored_message"}), country="", threshold=threshold("high"), sandbox=False,
    )  # fmt: skip
    plan = eng.plan(req)
    assert plan.ranked, plan.decided
    return plan


def _set_remaining(app: FastAPI, campaign_id: str, remaining: int) -> None:
    table = Campaign.__table__
    with ctx_of(app).db.write() as s:
        s.execute(
            table.update()
            .where(table.c.id == campaign_id)
            .values(spent_micros=table.c.lifetime_spend_limit_micros - remaining)
        )


def _spent(app: FastAPI, campaign_id: str) -> int:
    with ctx_of(app).db.read() as s:
        return int(s.execute(select(Campaign.spent_micros).where(Campaign.id == campaign_id)).scalar_one())


def _run(app: FastAPI, writes: list[Any]) -> list[Written]:
    with ctx_of(app).db.write() as s:
        outcomes = service.write_batch(s, writes)
    assert all(isinstance(o, Written) for o in outcomes), outcomes
    return outcomes


@pytest.fixture
def campaigns(app: FastAPI, client: TestClient, clock: MovableClock) -> dict[str, str]:
    """shoes: the best bid on running shoes; both: second on running shoes, the only one on boots."""
    shoes = live_campaign(client, app, clock, hints=["running shoes"], max_bid_micros=9_000_000)
    both = live_campaign(
        client, app, clock, hints=["running shoes", "hiking boots"], max_bid_micros=5_000_000
    )
    engine(app).index.refresh_now()
    return {"shoes": shoes["id"], "both": both["id"]}


@pytest.fixture
def charge_calls(monkeypatch: pytest.MonkeyPatch) -> list[list[tuple[str, int]]]:
    """Every ``budget.charge_many`` call's charges, in order."""
    calls: list[list[tuple[str, int]]] = []
    real = budget.charge_many

    def spy(s: Any, charges: Sequence[tuple[str, int]], *, lock_first: Any = ()) -> set[str]:
        calls.append(list(charges))
        return real(s, charges, lock_first=lock_first)

    monkeypatch.setattr(budget, "charge_many", spy)
    return calls


def test_distinct_first_charges_are_one_statement_and_all_served(
    app: FastAPI,
    campaigns: dict[str, str],
    charge_calls: list[list[tuple[str, int]]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    locked: list[list[str]] = []
    real_lock = budget.lock_campaigns

    def lock_spy(s: Any, ids: Any) -> None:
        locked.append(list(ids))
        real_lock(s, locked[-1])

    monkeypatch.setattr(budget, "lock_campaigns", lock_spy)
    pub = make_publisher(app)
    p1, p2 = _plan(app, pub.id, SHOES, "u1"), _plan(app, pub.id, BOOTS, "u2")
    assert [p.ranked[0].bid.ad.campaign.id for p in (p1, p2) if p.ranked] == [
        campaigns["shoes"],
        campaigns["both"],
    ]
    before = {k: _spent(app, v) for k, v in campaigns.items()}
    out = _run(app, [PlanWrite(engine(app), p1), PlanWrite(engine(app), p2)])
    c1, c2 = (impression_charge(p.ranked[0]) for p in (p1, p2) if p.ranked)
    assert charge_calls == [[(campaigns["shoes"], c1), (campaigns["both"], c2)]]
    assert locked == [[campaigns["shoes"], campaigns["both"]]]  # the batch's first charges, up front
    assert [o.decision.served.ad.campaign.id for o in out if o.decision.served] == [
        campaigns["shoes"],
        campaigns["both"],
    ]
    assert [o.charges for o in out] == [[(campaigns["shoes"], c1)], [(campaigns["both"], c2)]]
    assert _spent(app, campaigns["shoes"]) == before["shoes"] + c1
    assert _spent(app, campaigns["both"]) == before["both"] + c2


def test_a_refused_charge_tries_its_next_bid_before_later_charges(
    app: FastAPI, campaigns: dict[str, str]
) -> None:
    """p1 ranks shoes (spent out elsewhere) then both; p2 ranks both first; both can pay one of them.

    One after another: p1 is refused by shoes, then served by both; p2 is refused by both. Had p2's
    charge stood while p1 moved on, p2 would have been served and p1 not."""
    pub = make_publisher(app)
    p1, p2 = _plan(app, pub.id, SHOES, "u1"), _plan(app, pub.id, BOOTS, "u2")
    assert p1.ranked
    assert p2.ranked
    assert len(p1.ranked) >= 2
    assert [b.bid.ad.campaign.id for b in p1.ranked[:2]] == [campaigns["shoes"], campaigns["both"]]
    assert p2.ranked[0].bid.ad.campaign.id == campaigns["both"]
    c1, c2 = impression_charge(p1.ranked[1]), impression_charge(p2.ranked[0])
    assert c1 > 0
    assert c2 > 0
    _set_remaining(app, campaigns["shoes"], 0)  # another process spent it: this index does not know
    _set_remaining(app, campaigns["both"], max(c1, c2))
    out = _run(app, [PlanWrite(engine(app), p1), PlanWrite(engine(app), p2)])
    served = out[0].decision.served
    assert served is not None
    assert served.ad.campaign.id == campaigns["both"]
    assert out[0].charges == [(campaigns["both"], c1)]
    assert out[1].decision.served is None or out[1].decision.served.ad.campaign.id != campaigns["both"]
    assert out[1].charges == []
    assert _spent(app, campaigns["both"]) == _limit(app, campaigns["both"]) - max(c1, c2) + c1
    assert _spent(app, campaigns["shoes"]) == _limit(app, campaigns["shoes"])


def test_a_repeated_campaign_pays_its_summed_charges_in_one_statement(
    app: FastAPI, campaigns: dict[str, str], charge_calls: list[list[tuple[str, int]]]
) -> None:
    """Three decisions, two of them charging one campaign that can pay both: one statement, all served."""
    pub = make_publisher(app)
    p1, p2, p3 = (_plan(app, pub.id, m, u) for m, u in ((BOOTS, "u1"), (SHOES, "u2"), (BOOTS, "u3")))
    assert [p.ranked[0].bid.ad.campaign.id for p in (p1, p2, p3) if p.ranked] == [
        campaigns["both"],
        campaigns["shoes"],
        campaigns["both"],
    ]
    c1, c2, c3 = (impression_charge(p.ranked[0]) for p in (p1, p2, p3) if p.ranked)
    _set_remaining(app, campaigns["both"], c1 + c3)
    out = _run(app, [PlanWrite(engine(app), p) for p in (p1, p2, p3)])
    assert charge_calls == [[(campaigns["both"], c1 + c3), (campaigns["shoes"], c2)]]
    assert [o.charges for o in out] == [
        [(campaigns["both"], c1)],
        [(campaigns["shoes"], c2)],
        [(campaigns["both"], c3)],
    ]
    assert _spent(app, campaigns["both"]) == _limit(app, campaigns["both"])


def test_a_repeated_campaign_that_cannot_pay_the_sum_pays_in_order(
    app: FastAPI, campaigns: dict[str, str], charge_calls: list[list[tuple[str, int]]]
) -> None:
    """Two decisions charging one campaign that can pay one: the first is served, the second is not,
    and the charge of the decision between them is taken back and made again after the first."""
    pub = make_publisher(app)
    p1, p2, p3 = (_plan(app, pub.id, m, u) for m, u in ((BOOTS, "u1"), (SHOES, "u2"), (BOOTS, "u3")))
    c1, c2, c3 = (impression_charge(p.ranked[0]) for p in (p1, p2, p3) if p.ranked)
    _set_remaining(app, campaigns["both"], c1)
    shoes_before = _spent(app, campaigns["shoes"])
    out = _run(app, [PlanWrite(engine(app), p) for p in (p1, p2, p3)])
    assert charge_calls[0] == [(campaigns["both"], c1 + c3), (campaigns["shoes"], c2)]  # both: refused
    assert out[0].charges == [(campaigns["both"], c1)]
    assert out[1].charges == [(campaigns["shoes"], c2)]
    assert out[2].charges == []
    assert out[2].decision.served is None
    assert _spent(app, campaigns["both"]) == _limit(app, campaigns["both"])
    assert _spent(app, campaigns["shoes"]) == shoes_before + c2


def test_charge_many_takes_only_what_fits_and_refund_gives_it_back(
    app: FastAPI, campaigns: dict[str, str]
) -> None:
    _set_remaining(app, campaigns["shoes"], 100)
    _set_remaining(app, campaigns["both"], 100)
    with ctx_of(app).db.write() as s:
        charged = budget.charge_many(s, [(campaigns["shoes"], 100), (campaigns["both"], 101), ("nope", 1)])
        assert charged == {campaigns["shoes"]}
        budget.refund(s, campaigns["shoes"], 40)
    assert _limit(app, campaigns["shoes"]) - _spent(app, campaigns["shoes"]) == 40
    assert _limit(app, campaigns["both"]) - _spent(app, campaigns["both"]) == 100
    with ctx_of(app).db.write() as s:
        assert budget.charge_many(s, []) == set()


def _limit(app: FastAPI, campaign_id: str) -> int:
    with ctx_of(app).db.read() as s:
        return int(
            s.execute(
                select(Campaign.lifetime_spend_limit_micros).where(Campaign.id == campaign_id)
            ).scalar_one()
        )


def test_charges_lock_their_campaigns_in_id_order_on_postgresql(
    app: FastAPI, campaigns: dict[str, str]
) -> None:
    """Two processes' batches sharing campaigns must take their row locks in one order, or they
    deadlock: a batch waiting for a campaign holds every campaign before it in id order."""
    db = ctx_of(app).db
    if db.is_sqlite:
        pytest.skip("SQLite: a write transaction holds the whole database")
    first, second = sorted(campaigns.values())
    holder = db.engine.connect()
    holder.exec_driver_sql("BEGIN")
    holder.exec_driver_sql("SELECT id FROM campaigns WHERE id = %s FOR UPDATE", (second,))
    result: list[str] = []

    def batch() -> None:
        with db.write() as s:
            budget.lock_campaigns(s, [second, first])
            result.append("locked")

    thread = threading.Thread(target=batch)
    thread.start()
    try:
        probe = db.engine.connect()
        deadline = time.monotonic() + 10
        locked = False
        while not locked and time.monotonic() < deadline:  # the batch takes `first`, then waits on `second`
            probe.exec_driver_sql("BEGIN")
            try:
                probe.exec_driver_sql("SELECT id FROM campaigns WHERE id = %s FOR UPDATE NOWAIT", (first,))
            except OperationalError:
                locked = True
            probe.rollback()
        probe.close()
        assert locked
        assert thread.is_alive()  # still waiting for `second`
    finally:
        holder.rollback()
        holder.close()
        thread.join(10)
    assert result == ["locked"]


def test_a_batch_has_the_outcome_of_its_decisions_one_after_another(
    app: FastAPI, campaigns: dict[str, str]
) -> None:
    """Random batches of decisions on two campaigns with random budgets left: who is served, what each
    pays and what each campaign has spent are the same as when each decision is written alone, in order."""
    rng = random.Random(7)
    pub = make_publisher(app)
    plans = {
        name: _plan(app, pub.id, messages, f"u-{name}") for name, messages in (("s", SHOES), ("b", BOOTS))
    }
    price = {name: impression_charge(p.ranked[0]) for name, p in plans.items() if p.ranked}
    eng = engine(app)

    def outcome(batched: bool, order: list[str], left: dict[str, int]) -> tuple[Any, ...]:
        for name, remaining in left.items():
            _set_remaining(app, campaigns[name], remaining)
        with ctx_of(app).db.write() as s:
            if batched:
                written = service.write_batch(s, [PlanWrite(eng, plans[n]) for n in order])
            else:
                written = [eng.write(plans[n], s) for n in order]
                service.flush_rows(s)
        served = [w.decision.served.ad.campaign.id if w.decision.served else None for w in written]
        return served, [w.charges for w in written], {n: _spent(app, c) for n, c in campaigns.items()}

    for _ in range(40):
        order = [rng.choice("sb") for _ in range(rng.randint(1, 6))]
        left = {name: price[rng.choice("sb")] * rng.randint(0, 3) for name in campaigns}
        assert outcome(True, order, left) == outcome(False, order, left), (order, left)
