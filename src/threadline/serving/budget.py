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
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from threadline.serving.tables import campaign_pacing
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
    period = pacing_period(start_time, end_time, frequency, now)
    if period is not None and not _charge_period(session, campaign_id, period, amount):
        return Reservation(False, "paced", period.end)
    charged = session.execute(
        update(Campaign)
        .where(
            Campaign.id == campaign_id,
            Campaign.spent_micros + amount <= Campaign.lifetime_spend_limit_micros,
        )
        .values(spent_micros=Campaign.spent_micros + amount)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    if charged:
        return Reservation(True)
    if period is not None:  # give the period its share back; the row is already ours in this transaction
        session.execute(
            update(campaign_pacing)
            .where(
                campaign_pacing.c.campaign_id == campaign_id, campaign_pacing.c.period_start == period.start
            )
            .values(spent_micros=campaign_pacing.c.spent_micros - amount)
        )
    return Reservation(False, "budget_exhausted")


def _charge_period(session: Session, campaign_id: str, period: Period, amount: int) -> bool:
    stmt = (
        update(campaign_pacing)
        .where(
            campaign_pacing.c.campaign_id == campaign_id,
            campaign_pacing.c.period_start == period.start,
            campaign_pacing.c.spent_micros + amount <= campaign_pacing.c.cap_micros,
        )
        .values(spent_micros=campaign_pacing.c.spent_micros + amount)
    )
    if session.execute(stmt).rowcount:  # type: ignore[attr-defined]
        return True
    exists = session.execute(
        select(campaign_pacing.c.cap_micros).where(
            campaign_pacing.c.campaign_id == campaign_id, campaign_pacing.c.period_start == period.start
        )
    ).first()
    if exists is not None:
        return False
    row = session.execute(
        select(Campaign.spent_micros, Campaign.lifetime_spend_limit_micros).where(Campaign.id == campaign_id)
    ).first()
    if row is None:
        return False
    cap = max(0, (int(row[1]) - int(row[0])) // period.remaining)
    ins = insert_for(session, campaign_pacing)
    session.execute(
        ins.values(  # type: ignore[attr-defined]
            campaign_id=campaign_id, period_start=period.start, cap_micros=cap, spent_micros=0
        ).on_conflict_do_nothing()
    )
    return bool(session.execute(stmt).rowcount)  # type: ignore[attr-defined]
