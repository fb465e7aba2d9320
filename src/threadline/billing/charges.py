"""Charge records: every attempt to move money is written (``pending``) before the provider is called.

The pending row is the recovery point for a crash between "the provider took the money" and "our
campaign was committed":
- a retry with the same Idempotency-Key finds the row, re-issues the charge with the same provider
  idempotency key (the provider replays it, so nothing is charged twice) and finishes the work;
- the reconciler (advertiser/deposits.py: it knows whether the campaign landed) settles rows nobody
  came back for: money that moved is refunded,
  attempts the provider never saw are closed as ``declined``/``abandoned``.

Every status change is guarded on ``status = 'pending'`` so a retry and the reconciler can never both
settle the same row.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import Select, select, update
from sqlalchemy.orm import Session

from threadline.billing.providers import (
    CardDetails,
    ChargeResult,
    InvalidCardToken,
    PaymentProvider,
)
from threadline.kit.clock import Clock
from threadline.kit.ids import new_id
from threadline.kit.pagination import Page, PageParams, keyset_page
from threadline.store.models import Charge as Charge  # the rows callers get back
from threadline.store.models import PaymentMethod

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


def org_charge_page(session: Session, org_id: str, params: PageParams) -> Page[Charge]:
    """One keyset page of the org's charges (newest first unless ``params.order`` says otherwise)."""
    return keyset_page(session, org_charges(org_id), seq=Charge.seq, id_=Charge.id, params=params)


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


def stale_pending(session: Session, created_before: int) -> list[Charge]:
    """Pending charges created at or before ``created_before``, oldest first (the reconciler's input)."""
    return list(
        session.execute(
            select(Charge)
            .where(Charge.status == "pending", Charge.created_at <= created_before)
            .order_by(Charge.seq)
        ).scalars()
    )


def reopen_refunded(session: Session, charge_id: str) -> None:
    """Put a charge the reconciler claimed for a refund back to pending (the refund did not happen)."""
    session.execute(
        update(Charge).where(Charge.id == charge_id, Charge.status == "refunded").values(status="pending")
    )
