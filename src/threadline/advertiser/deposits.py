"""Settling campaign deposits whose launch never came back (the reconciler).

A deposit's pending charge row (billing/charges.py) is the recovery point of a launch
(advertiser/launch.py) that crashed between the provider call and the commit. Whether the money
belongs to a campaign depends on whether the campaign landed, which only this slice can tell, so the
reconciler lives here and settles through billing's named functions.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from threadline.advertiser.repository import campaign_exists
from threadline.billing.charges import ABANDONED, Charge, reopen_refunded, settle, stale_pending
from threadline.billing.providers import PaymentProvider, ProviderError
from threadline.context import AppContext

log = logging.getLogger("threadline.billing")


@dataclass(frozen=True)
class ReconcileReport:
    refunded: int = 0
    abandoned: int = 0
    declined: int = 0
    completed: int = 0
    failed: int = 0


def reconcile_pending_charges(ctx: AppContext, older_than_seconds: int) -> ReconcileReport:
    """Settle pending charges older than ``older_than_seconds`` whose request never finished.

    Pick ``older_than_seconds`` above the idempotency lease so a request that is still running (or a
    retry that is resuming it) is never raced. Runs from the CLI or a periodic job.
    """
    provider: PaymentProvider = ctx.payments
    cutoff = ctx.clock.now_s() - older_than_seconds
    with ctx.db.read() as s:
        stale = stale_pending(s, cutoff)
    counts = {"refunded": 0, "abandoned": 0, "declined": 0, "completed": 0, "failed": 0}
    for charge in stale:
        try:
            outcome = _reconcile_one(ctx, provider, charge)
        except (ProviderError, ValueError) as exc:
            log.warning("charge %s not reconciled: %s", charge.id, exc)
            outcome = "failed"
        counts[outcome] += 1
    return ReconcileReport(**counts)


def _reconcile_one(ctx: AppContext, provider: PaymentProvider, charge: Charge) -> str:
    with ctx.db.read() as s:
        has_campaign = campaign_exists(s, charge.campaign_id)
    found = provider.find_charge(charge.provider_idempotency_key)
    if has_campaign:
        # The tree and the charge status commit together, so this only happens if the row was edited
        # by hand; the campaign exists, so the money belongs to it.
        with ctx.db.write() as s:
            ref = found.provider_ref if found else None
            settle(s, ctx.clock, charge.id, status="succeeded", provider_ref=ref)
        return "completed"
    if found is None:
        with ctx.db.write() as s:
            settle(s, ctx.clock, charge.id, status="declined", failure_code=ABANDONED)
        return "abandoned"
    if found.status == "declined":
        with ctx.db.write() as s:
            settle(
                s,
                ctx.clock,
                charge.id,
                status="declined",
                provider_ref=found.provider_ref,
                failure_code=found.decline_code,
            )
        return "declined"
    assert found.provider_ref is not None
    # Claim the row first: once it is no longer pending, a late retry starts a fresh attempt instead
    # of finishing this one, so the refund below can never strand a campaign without its deposit.
    with ctx.db.write() as s:
        if not settle(s, ctx.clock, charge.id, status="refunded", provider_ref=found.provider_ref):
            return "completed"
    try:
        provider.refund(
            provider_ref=found.provider_ref, idempotency_key=f"refund-{charge.provider_idempotency_key}"
        )
    except BaseException:
        # Not refunded after all: put the row back so the next run tries again.
        with ctx.db.write() as s:
            reopen_refunded(s, charge.id)
        raise
    return "refunded"
