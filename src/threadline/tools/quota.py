"""Tiers, monthly quotas and the counter: checked and counted in the transaction that records the call."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

import anyio.to_thread
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from threadline.config import Settings
from threadline.store.dialect import insert_for
from threadline.store.models import ToolPlan, ToolUsage
from threadline.tools.envelope import ToolError

if TYPE_CHECKING:
    from threadline.context import AppContext

TIERS = ("free", "plus", "pro", "max")
# How long a process may answer quota reads (get_usage_status, the block of every free call) from memory.
# This process's own reservations update the copy at once; another process's show up within this time.
CACHE_SECONDS = 1.0


@dataclass(frozen=True)
class Quota:
    used: int
    limit: int
    tier: str
    period_end: str  # YYYY-MM-DD: the first day of the next month (UTC), when the counter resets

    def block(self) -> dict[str, int | str]:
        return {"used": self.used, "limit": self.limit, "tier": self.tier, "period_end": self.period_end}


def tier_limit(settings: Settings, tier: str) -> int:
    limit: int = getattr(settings, f"tool_quota_{tier}")
    return limit


def period_of(now: float) -> tuple[str, str]:
    """(``YYYY-MM`` of ``now`` in UTC, the ISO date the period ends)."""
    d = datetime.fromtimestamp(now, UTC).date()
    end = date(d.year + 1, 1, 1) if d.month == 12 else date(d.year, d.month + 1, 1)
    return f"{d.year:04d}-{d.month:02d}", end.isoformat()


def tier_of(session: Session, org_id: str) -> str:
    tier = session.execute(select(ToolPlan.tier).where(ToolPlan.org_id == org_id)).scalar_one_or_none()
    return tier or "free"


def current(session: Session, settings: Settings, org_id: str, now: float) -> Quota:
    period, period_end = period_of(now)
    # One round trip: get_usage_status and every quota-free call read this.
    tier, used = session.execute(
        select(
            select(ToolPlan.tier).where(ToolPlan.org_id == org_id).scalar_subquery(),
            select(ToolUsage.used)
            .where(ToolUsage.org_id == org_id, ToolUsage.period == period)
            .scalar_subquery(),
        )
    ).one()
    tier = tier or "free"
    return Quota(used or 0, tier_limit(settings, tier), tier, period_end)


def reserve(session: Session, settings: Settings, org_id: str, now: float) -> Quota | None:
    """Take one call of this month's quota in the caller's transaction; None when none is left.

    The conditional UPDATE is the check: concurrent callers serialise on the counter row (SQLite's
    single writer, PostgreSQL's row lock re-evaluating ``used < limit``), so one call left admits one.
    """
    period, period_end = period_of(now)
    tier = tier_of(session, org_id)
    limit = tier_limit(settings, tier)
    exists = session.execute(
        select(ToolUsage.used).where(ToolUsage.org_id == org_id, ToolUsage.period == period)
    ).scalar_one_or_none()
    if exists is None:
        _insert_counter(session, org_id, period)
    taken = session.execute(
        update(ToolUsage)
        .where(ToolUsage.org_id == org_id, ToolUsage.period == period, ToolUsage.used < limit)
        .values(used=ToolUsage.used + 1)
        .returning(ToolUsage.used)
    ).scalar_one_or_none()
    if taken is None:
        return None
    return Quota(int(taken), limit, tier, period_end)


def refund(session: Session, org_id: str, period: str) -> None:
    session.execute(
        update(ToolUsage)
        .where(ToolUsage.org_id == org_id, ToolUsage.period == period, ToolUsage.used > 0)
        .values(used=ToolUsage.used - 1)
    )


def _insert_counter(session: Session, org_id: str, period: str) -> None:
    session.execute(
        insert_for(session, ToolUsage.__table__)
        .values(org_id=org_id, period=period, used=0)
        .on_conflict_do_nothing()
    )


def exhausted(settings: Settings, quota: Quota) -> ToolError:
    tier = quota.tier.capitalize()
    nxt = TIERS[TIERS.index(quota.tier) + 1].capitalize() if quota.tier != "max" else None
    url = settings.tool_upgrade_url
    advice = f"Upgrade to {nxt} at {url} to keep building." if nxt else f"Contact {url} to raise your limit."
    return ToolError(
        402,
        "quota_exhausted",
        f"\U0001f6a8 Monthly limit reached ({quota.used}/{quota.limit} tool calls on {tier} tier).\n{advice}",
        quota={**quota.block(), "upgrade_url": url},
    )


async def status(ctx: AppContext, org_id: str) -> Quota:
    """The org's quota now: from the short in-memory copy (no thread hop, no query) or one read."""
    now = ctx.clock.now()
    hit = ctx.tool_quotas.get(org_id)
    if hit is not None and _fresh(hit, now) and hit[1].period_end == period_of(now)[1]:
        found: Quota = hit[1]
        return found

    def read() -> Quota:
        with ctx.db.read() as s:
            return current(s, ctx.settings, org_id, now)

    q = await anyio.to_thread.run_sync(read)
    remember(ctx.tool_quotas, now, org_id, q)
    return q


def _fresh(hit: tuple[float, Quota], now: float) -> bool:
    # Read at ``hit[0]``; a clock set backwards ends the copy too.
    return 0 <= now - hit[0] < CACHE_SECONDS


def remember(cache: dict[str, Any], now: float, org_id: str, q: Quota) -> None:
    """Keep ``q`` unless the copy already shows more use in the same period (reservations only add)."""
    hit = cache.get(org_id)
    if hit is not None and _fresh(hit, now) and hit[1].period_end == q.period_end and hit[1].used > q.used:
        return
    cache[org_id] = (now, q)


def forget(cache: dict[str, Any], org_id: str) -> None:
    cache.pop(org_id, None)
