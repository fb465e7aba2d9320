"""Queries of the operator slice."""

from __future__ import annotations

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from threadline.store.models import Ad, AdGroup, Charge, Org, Publisher


def live_orgs() -> Select[Org]:
    return select(Org).where(Org.deleted_at.is_(None))


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
