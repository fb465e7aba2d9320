"""Budget reservation and pacing: the only code that moves `campaigns.spent_micros`.

Every charge is one conditional UPDATE (`spent + amt <= limit`) evaluated by the database on the row
itself, so no interleaving of requests or server processes can push a campaign over its lifetime limit.
It runs in the caller's transaction, next to the impression/click row and the rollup it pays for.

Pacing (campaigns with an `end_time`): time from `start_time` is cut into `recurring_frequency` periods;
the first charge in a period fixes that period's cap at (limit - spent so far) / periods left, stored in
`campaign_pacing`, and every charge in the period is held under that cap by the same kind of UPDATE.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.orm import Session

from threadline.serving.tables import campaign_pacing
from threadline.store.bulk import execute_driver, pipelined, rows_source
from threadline.store.dialect import insert_for
from threadline.store.models import Campaign

PERIOD_SECONDS: dict[str, int] = {
    "daily": 86_400,
    "weekly": 7 * 86_400,
    "monthly": 30 * 86_400,
    "quarterly": 91 * 86_400,
    "yearly": 365 * 86_400,
}


@dataclass(frozen=True)
class Period:
    start: int
    end: int
    remaining: int  # periods left including this one


def pacing_period(start_time: int, end_time: int | None, frequency: str, now: float) -> Period | None:
    """The pacing period containing ``now``, or None when the campaign is not paced (no end time)."""
    if end_time is None or now >= end_time:
        return None
    length = PERIOD_SECONDS.get(frequency, PERIOD_SECONDS["daily"])
    k = max(0, int((now - start_time) // length))
    start = start_time + k * length
    return Period(start, min(start + length, end_time), max(1, math.ceil((end_time - start) / length)))


@dataclass(frozen=True)
class Reservation:
    ok: bool
    reason: str | None = None  # "budget_exhausted" | "paced"
    period_end: int | None = None


_campaigns: Table = Campaign.__table__  # type: ignore[assignment]
_c = _campaigns.c
_p = campaign_pacing.c
# Built once: on the hot path, constructing these statements cost as much as running them.
_CHARGE = (
    update(_campaigns)
    .where(_c.id == bindparam("cid"), _c.spent_micros + bindparam("amt") <= _c.lifetime_spend_limit_micros)
    .values(spent_micros=_c.spent_micros + bindparam("amt"))
)
_period = (_p.campaign_id == bindparam("cid"), _p.period_start == bindparam("start"))
_CHARGE_PERIOD = (
    update(campaign_pacing)
    .where(*_period, _p.spent_micros + bindparam("amt") <= _p.cap_micros)
    .values(spent_micros=_p.spent_micros + bindparam("amt"))
)
_REFUND_PERIOD = (
    update(campaign_pacing).where(*_period).values(spent_micros=_p.spent_micros - bindparam("amt"))
)
_REFUND = (
    update(_campaigns)
    .where(_c.id == bindparam("cid"))
    .values(spent_micros=_c.spent_micros - bindparam("amt"))
)
_PERIOD_CAP = select(_p.cap_micros).where(*_period)
_SPEND = select(_c.spent_micros, _c.lifetime_spend_limit_micros).where(_c.id == bindparam("cid"))


def reserve(
    session: Session,
    *,
    campaign_id: str,
    amount: int,
    now: float,
    start_time: int,
    end_time: int | None,
    frequency: str,
) -> Reservation:
    """Charge ``amount`` micros to the campaign if its lifetime budget (and period cap) allow."""
    if amount <= 0:
        return Reservation(True)
    conn = session.connection()
    period = pacing_period(start_time, end_time, frequency, now)
    if period is not None and not _charge_period(session, campaign_id, period, amount):
        return Reservation(False, "paced", period.end)
    if conn.execute(_CHARGE, {"cid": campaign_id, "amt": amount}).rowcount:
        return Reservation(True)
    if period is not None:  # give the period its share back; the row is already ours in this transaction
        conn.execute(_REFUND_PERIOD, {"cid": campaign_id, "start": period.start, "amt": amount})
    return Reservation(False, "budget_exhausted")


def lock_campaigns(session: Session, campaign_ids: Iterable[str]) -> None:
    """PostgreSQL: lock these campaign rows now, in id order, one order every process shares, so two
    processes' transactions charging the same campaigns wait for each other instead of deadlocking.
    SQLite: nothing (a write transaction holds the whole database)."""
    ids = sorted(set(campaign_ids))
    if ids and session.connection().dialect.name == "postgresql":
        t = _campaigns.name
        execute_driver(session, f"SELECT id FROM {t} WHERE id = ANY(%s) ORDER BY id FOR UPDATE", [ids])


def charge_many(
    session: Session, charges: Sequence[tuple[str, int]], *, lock_first: Iterable[str] = ()
) -> set[str]:
    """Lifetime charges (campaign, micros > 0) of distinct, unpaced campaigns in one statement: the
    campaigns charged (a batch sums each campaign's charges into one, ``service.write_batch``). Each row
    is the same conditional update as ``reserve``'s and no two touch one campaign, so the outcome is the
    one of making them one after another, in any order.

    ``UPDATE .. FROM`` locks its rows in the planner's join order, which is no order: a transaction
    locks every campaign it will charge this way first (``lock_first``, with its first call). On
    PostgreSQL that lock goes in one pipeline with the transaction's BEGIN and these charges (two round
    trips: the charges' results, then the pipeline's closing sync, instead of three)."""
    locks = list(lock_first)
    if not charges:
        lock_campaigns(session, locks)
        return set()
    assert len({cid for cid, _ in charges}) == len(charges), "one charge per campaign"
    source, params = rows_source(session, (("cid", "text"), ("amt", "bigint")), sorted(charges))
    t = _campaigns.name
    statement = (
        f"UPDATE {t} SET spent_micros = {t}.spent_micros + v.amt FROM {source} WHERE {t}.id = v.cid"
        f" AND {t}.spent_micros + v.amt <= {t}.lifetime_spend_limit_micros RETURNING {t}.id"
    )
    with pipelined(session) if locks else nullcontext():
        lock_campaigns(session, locks)
        charged = execute_driver(session, statement, params, returning=True)
    return {row[0] for row in charged}


def refund(session: Session, campaign_id: str, amount: int) -> None:
    """Take back a charge made earlier in this transaction (the row is locked by it: nobody saw it)."""
    session.connection().execute(_REFUND, {"cid": campaign_id, "amt": amount})


def _charge_period(session: Session, campaign_id: str, period: Period, amount: int) -> bool:
    conn = session.connection()
    params = {"cid": campaign_id, "start": period.start, "amt": amount}
    if conn.execute(_CHARGE_PERIOD, params).rowcount:
        return True
    if conn.execute(_PERIOD_CAP, params).first() is not None:
        return False
    row = conn.execute(_SPEND, params).first()
    if row is None:
        return False
    cap = max(0, (int(row[1]) - int(row[0])) // period.remaining)
    ins = insert_for(session, campaign_pacing)
    session.execute(
        ins.values(
            campaign_id=campaign_id, period_start=period.start, cap_micros=cap, spent_micros=0
        ).on_conflict_do_nothing()
    )
    return bool(conn.execute(_CHARGE_PERIOD, params).rowcount)
