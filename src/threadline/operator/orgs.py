"""Organisations, their advertiser keys and their cards (the cards themselves are billing's)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from threadline.advertiser import repository as advertiser_repository
from threadline.auth import keys
from threadline.billing import payment_methods
from threadline.billing.providers import CardDetails, PaymentProvider
from threadline.kit.clock import Clock
from threadline.kit.errors import not_found
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
    account = advertiser_repository.add_default_ad_account(
        session, org_id=org.id, name=name, url=url, now=now
    )
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


def rotate_advertiser_key(session: Session, clock: Clock, org_id: str, grace_seconds: int) -> tuple[str, int]:
    """A new key; the previous ones stop working after the grace window."""
    get_org(session, org_id)
    return keys.rotate_keys(session, clock, kind="advertiser", org_id=org_id, grace_seconds=grace_seconds)


def revoke_advertiser_keys(session: Session, clock: Clock, org_id: str) -> None:
    get_org(session, org_id)
    keys.revoke_keys(session, kind="advertiser", org_id=org_id, at=clock.now_s())


def add_payment_method(
    session: Session, clock: Clock, provider: PaymentProvider, org_id: str, card: CardDetails
) -> PaymentMethod:
    get_org(session, org_id)
    return payment_methods.add_default(session, clock, provider, org_id, card)


def delete_payment_method(session: Session, clock: Clock, org_id: str, pm_id: str) -> None:
    get_org(session, org_id)
    payment_methods.delete(session, clock, org_id, pm_id)
