"""Charge records: every attempt to move money is written (``pending``) before the provider is called.

The pending row is the recovery point for a crash between "the provider took the money" and "our
campaign was committed":
- a retry with the same Idempotency-Key finds the row, re-issues the charge with the same provider
  idempotency key (the provider replays it, so nothing is charged twice) and finishes the work;
- :func:`reconcile_pending_charges` settles rows nobody came back for: money that moved is refunded,
  attempts the provider never saw are closed as ``declined``/``abandoned``.

Every status change is guarded on ``status = 'pending'`` so a retry and the reconciler can never both
settle the same row.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, exists, select, update
from sqlalchemy.orm import Session

from threadline.billing.providers import (
    CardDetails,
    ChargeResult,
    InvalidCardToken,
    PaymentProvider,
    ProviderError,
)
from threadline.context import AppContext
from threadline.kit.clock import Clock
from threadline.kit.ids import new_id
from threadline.store.models import Campaign, Charge, PaymentMethod

log = logging.getLogger("threadline.billing")

ABANDONED = "abandoned"


def deposit_provider_key(campaign_id: str) -> str:
    return f"deposit-{campaign_id}"


def card_of(pm: PaymentMethod) -> CardDetails:
    return CardDetails(
        provider_ref=pm.provider_ref, customer_ref=pm.provider_customer_ref, brand=pm.brand, last4=pm.last4
    )


def org_charges(org_id: str) -> Select[Charge]:
    """Every charge of the org, for a keyset page (the operator lists them)."""
    return select(Charge).where(Charge.org_id == org_id)


def latest_request_charge(session: Session, org_id: str, idempotency_key: str) -> Charge | None:
    """The org's most recent deposit attempt made under this request Idempotency-Key."""
    return session.execute(
        select(Charge)
        .where(Charge.org_id == org_id, Charge.idempotency_key == idempotency_key, Charge.kind == "deposit")
        .order_by(Charge.seq.desc())
        .limit(1)
    ).scalar_one_or_none()


def is_abandoned(charge: Charge) -> bool:
    """Closed by the reconciler: the request never finished, so a retry starts a fresh attempt."""
    return charge.status == "refunded" or (charge.status == "declined" and charge.failure_code == ABANDONED)


def begin_deposit(
    session: Session,
    clock: Clock,
    *,
    org_id: str,
    campaign_id: str,
    payment_method: PaymentMethod,
    amount_micros: int,
    provider: str,
    idempotency_key: str | None,
    request_body: dict[str, Any] | None,
) -> Charge:
    now = clock.now_s()
    charge = Charge(
        id=new_id(),
        org_id=org_id,
        campaign_id=campaign_id,
        payment_method_id=payment_method.id,
        amount_micros=amount_micros,
        currency="USD",
        kind="deposit",
        status="pending",
        provider=provider,
        provider_idempotency_key=deposit_provider_key(campaign_id),
        idempotency_key=idempotency_key,
        request_body=request_body,
        created_at=now,
        updated_at=now,
    )
    session.add(charge)
    session.flush()
    return charge


def call_provider(provider: PaymentProvider, charge: Charge, card: CardDetails) -> ChargeResult:
    """Charge (or replay) this attempt; an unusable card counts as a decline, not a server error."""
    try:
        return provider.charge(
            card=card,
            amount_micros=charge.amount_micros,
            currency=charge.currency,
            idempotency_key=charge.provider_idempotency_key,
            description=f"Threadline campaign deposit ({charge.campaign_id})",
        )
    except InvalidCardToken:
        return ChargeResult(status="declined", provider_ref=None, decline_code="invalid_card")


def settle(
    session: Session,
    clock: Clock,
    charge_id: str,
    *,
    status: str,
    provider_ref: str | None = None,
    failure_code: str | None = None,
) -> bool:
    """Move a pending charge to its final status; False if someone else settled it first."""
    values: dict[str, Any] = {"status": status, "updated_at": clock.now_s(), "failure_code": failure_code}
    if provider_ref is not None:
        values["provider_ref"] = provider_ref
    result = session.execute(
        update(Charge).where(Charge.id == charge_id, Charge.status == "pending").values(**values)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def list_charges(session: Session, org_id: str) -> list[Charge]:
    """The org's charges, newest first (the operator API renders them)."""
    return list(
        session.execute(select(Charge).where(Charge.org_id == org_id).order_by(Charge.seq.desc())).scalars()
    )


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
        stale = list(
            s.execute(
                select(Charge)
                .where(Charge.status == "pending", Charge.created_at <= cutoff)
                .order_by(Charge.seq)
            ).scalars()
        )
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
        has_campaign = s.execute(select(exists().where(Campaign.id == charge.campaign_id))).scalar()
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
            s.execute(
                update(Charge)
                .where(Charge.id == charge.id, Charge.status == "refunded")
                .values(status="pending")
            )
        raise
    return "refunded"
