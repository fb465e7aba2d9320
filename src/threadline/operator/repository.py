"""Queries of the operator slice."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from threadline.store.models import Ad, AdAccount, AdGroup, Charge, Org, Publisher


def live_orgs() -> Select[Org]:
    return select(Org).where(Org.deleted_at.is_(None))


def default_accounts(session: Session, org_ids: Iterable[str]) -> dict[str, AdAccount]:
    ids = list(org_ids)
    if not ids:
        return {}
    rows = session.execute(
        select(AdAccount).where(AdAccount.org_id.in_(ids), AdAccount.is_default.is_(True))
    ).scalars()
    return {a.org_id: a for a in rows}


def org_charges(org_id: str) -> Select[Charge]:
    return select(Charge).where(Charge.org_id == org_id)


def publishers() -> Select[Publisher]:
    return select(Publisher)


def campaign_children(session: Session, campaign_ids: list[str]) -> tuple[list[AdGroup], list[Ad]]:
    """Every ad group and ad of these campaigns in creation order: two queries for the whole queue."""
    if not campaign_ids:
        return [], []
    groups = session.execute(
        select(AdGroup).where(AdGroup.campaign_id.in_(campaign_ids)).order_by(AdGroup.seq)
    ).scalars()
    ads = session.execute(select(Ad).where(Ad.campaign_id.in_(campaign_ids)).order_by(Ad.seq)).scalars()
    return list(groups), list(ads)
