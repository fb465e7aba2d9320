"""Cards on file (the ``payment_methods`` table): the billing slice owns them; the operator adds and
removes them, the advertiser's launch charges the default one."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from threadline.billing.providers import CardDetails, InvalidCardToken, PaymentProvider
from threadline.kit.clock import Clock
from threadline.kit.errors import ApiError, not_found
from threadline.kit.ids import is_uuid, new_id
from threadline.store.models import PaymentMethod


def attach_card(provider: PaymentProvider, token: str) -> CardDetails:
    """Register a card token with the provider: a network call, so never inside a database transaction
    (on SQLite it would hold the write lock for as long as the provider takes)."""
    try:
        return provider.attach_card(token)
    except InvalidCardToken:
        raise ApiError(400, "invalid_value", "Unknown or unusable card token.", "token") from None


def add_default(
    session: Session, clock: Clock, provider: PaymentProvider, org_id: str, card: CardDetails
) -> PaymentMethod:
    """Store an attached card as the org's only default."""
    session.execute(
        update(PaymentMethod)
        .where(PaymentMethod.org_id == org_id, PaymentMethod.deleted_at.is_(None))
        .values(is_default=False)
    )
    pm = PaymentMethod(
        id=new_id(),
        org_id=org_id,
        provider=provider.name,
        provider_ref=card.provider_ref,
        provider_customer_ref=card.customer_ref,
        brand=card.brand,
        last4=card.last4,
        is_default=True,
        created_at=clock.now_s(),
    )
    session.add(pm)
    session.flush()
    return pm


def default_of(session: Session, org_id: str) -> PaymentMethod | None:
    return session.execute(
        select(PaymentMethod).where(
            PaymentMethod.org_id == org_id,
            PaymentMethod.deleted_at.is_(None),
            PaymentMethod.is_default.is_(True),
        )
    ).scalar_one_or_none()


def find(session: Session, org_id: str, payment_method_id: str) -> PaymentMethod | None:
    """The org's card by id, deleted or not (a resumed charge re-uses the card it started with)."""
    return session.execute(
        select(PaymentMethod).where(PaymentMethod.id == payment_method_id, PaymentMethod.org_id == org_id)
    ).scalar_one_or_none()


def delete(session: Session, clock: Clock, org_id: str, payment_method_id: str) -> None:
    pm = None
    if is_uuid(payment_method_id):
        pm = session.execute(
            select(PaymentMethod).where(
                PaymentMethod.id == payment_method_id,
                PaymentMethod.org_id == org_id,
                PaymentMethod.deleted_at.is_(None),
            )
        ).scalar_one_or_none()
    if pm is None:
        raise not_found("payment method", "id")
    pm.deleted_at = clock.now_s()
    pm.is_default = False


def cards_of(session: Session, org_id: str) -> list[PaymentMethod]:
    """The org's cards on file (not deleted), oldest first."""
    return list(
        session.execute(
            select(PaymentMethod)
            .where(PaymentMethod.org_id == org_id, PaymentMethod.deleted_at.is_(None))
            .order_by(PaymentMethod.seq)
        ).scalars()
    )
