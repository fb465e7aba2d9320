"""Organisations, their advertiser keys and their cards."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from threadline.auth import keys
from threadline.billing.providers import CardDetails, InvalidCardToken, PaymentProvider
from threadline.kit.clock import Clock
from threadline.kit.errors import ApiError, not_found
from threadline.kit.ids import is_uuid, new_id
from threadline.store.models import AdAccount, Org, PaymentMethod


@dataclass(frozen=True)
class NewOrg:
    org: Org
    ad_account: AdAccount
    api_key: str


def create_org(session: Session, clock: Clock, *, name: str, url: str = "") -> NewOrg:
    now = clock.now_s()
    org = Org(id=new_id(), name=name, url=url, created_at=now)
    session.add(org)
    session.flush()
    account = AdAccount(id=new_id(), org_id=org.id, name=name, url=url, is_default=True, created_at=now)
    session.add(account)
    _, plain = keys.mint_key(session, clock, kind="advertiser", org_id=org.id, label="default")
    session.flush()
    return NewOrg(org, account, plain)


def get_org(session: Session, org_id: str) -> Org:
    org = None
    if is_uuid(org_id):
        org = session.execute(
            select(Org).where(Org.id == org_id, Org.deleted_at.is_(None))
        ).scalar_one_or_none()
    if org is None:
        raise not_found("organization", "org_id")
    return org


def default_ad_account(session: Session, org_id: str) -> AdAccount:
    account = session.execute(
        select(AdAccount).where(AdAccount.org_id == org_id, AdAccount.is_default.is_(True))
    ).scalar_one_or_none()
    if account is None:
        raise not_found("ad account")
    return account


def rotate_advertiser_key(session: Session, clock: Clock, org_id: str, grace_seconds: int) -> tuple[str, int]:
    """A new key; the previous ones stop working after the grace window."""
    get_org(session, org_id)
    expires_at = clock.now_s() + grace_seconds
    keys.expire_live_keys(session, kind="advertiser", org_id=org_id, at=expires_at)
    _, plain = keys.mint_key(session, clock, kind="advertiser", org_id=org_id, label="rotated")
    return plain, expires_at


def revoke_advertiser_keys(session: Session, clock: Clock, org_id: str) -> None:
    get_org(session, org_id)
    keys.revoke_keys(session, kind="advertiser", org_id=org_id, at=clock.now_s())


def attach_card(provider: PaymentProvider, token: str) -> CardDetails:
    """Register a card token with the provider: a network call, so never inside a database transaction
    (on SQLite it would hold the write lock for as long as the provider takes)."""
    try:
        return provider.attach_card(token)
    except InvalidCardToken:
        raise ApiError(400, "invalid_value", "Unknown or unusable card token.", "token") from None


def add_payment_method(
    session: Session, clock: Clock, provider: PaymentProvider, org_id: str, card: CardDetails
) -> PaymentMethod:
    """Store an attached card as the org's only default."""
    get_org(session, org_id)
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


def default_payment_method(session: Session, org_id: str) -> PaymentMethod | None:
    return session.execute(
        select(PaymentMethod).where(
            PaymentMethod.org_id == org_id,
            PaymentMethod.deleted_at.is_(None),
            PaymentMethod.is_default.is_(True),
        )
    ).scalar_one_or_none()


def delete_payment_method(session: Session, clock: Clock, org_id: str, pm_id: str) -> None:
    get_org(session, org_id)
    pm = None
    if is_uuid(pm_id):
        pm = session.execute(
            select(PaymentMethod).where(
                PaymentMethod.id == pm_id, PaymentMethod.org_id == org_id, PaymentMethod.deleted_at.is_(None)
            )
        ).scalar_one_or_none()
    if pm is None:
        raise not_found("payment method", "id")
    pm.deleted_at = clock.now_s()
    pm.is_default = False
