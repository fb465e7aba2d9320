"""Queries for ad accounts, campaigns, ad groups and ads. Every lookup is scoped to the calling org."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import Row, exists, func, select
from sqlalchemy.orm import Session

from threadline.kit.errors import not_found
from threadline.kit.ids import is_uuid, new_id
from threadline.kit.pagination import Page, PageParams, keyset_page
from threadline.store.models import Ad, AdAccount, AdGroup, Campaign, Org


def find_campaign(session: Session, org_id: str, campaign_id: str, *, lock: bool = False) -> Campaign | None:
    if not is_uuid(campaign_id):
        return None
    stmt = select(Campaign).where(Campaign.id == campaign_id, Campaign.org_id == org_id)
    if lock:
        stmt = stmt.with_for_update()
    return session.execute(stmt).scalar_one_or_none()


def ad_creative(session: Session, ad_id: str) -> dict[str, object] | None:
    """An ad's creative JSON (any org: the caller holds a signed token naming the ad)."""
    creative = session.execute(select(Ad.creative).where(Ad.id == ad_id)).scalar_one_or_none()
    return None if creative is None else dict(creative)


def ad_tree_ids(session: Session, ad_id: str) -> Row[str, str, str] | None:
    """(org_id, campaign_id, ad_group_id) of an ad (any org: the caller holds a token naming it)."""
    return session.execute(select(Ad.org_id, Ad.campaign_id, Ad.ad_group_id).where(Ad.id == ad_id)).first()


def org_ad_accounts(session: Session, org_id: str) -> list[AdAccount]:
    """Every ad account of the org, oldest first."""
    return list(
        session.execute(select(AdAccount).where(AdAccount.org_id == org_id).order_by(AdAccount.created_at))
        .scalars()
        .all()
    )


def campaign_schedule(session: Session, campaign_id: str) -> Row[int, int | None, str] | None:
    """(start_time, end_time, recurring_frequency) of a campaign: what budget pacing needs."""
    return session.execute(
        select(Campaign.start_time, Campaign.end_time, Campaign.recurring_frequency).where(
            Campaign.id == campaign_id
        )
    ).first()


def campaign_exists(session: Session, campaign_id: str) -> bool:
    """Whether a campaign with this id exists (any org, any status)."""
    return bool(session.execute(select(exists().where(Campaign.id == campaign_id))).scalar())


def get_campaign(
    session: Session, org_id: str, campaign_id: str, *, param: str | None = None, lock: bool = False
) -> Campaign:
    campaign = find_campaign(session, org_id, campaign_id, lock=lock)
    if campaign is None:
        raise not_found("campaign", param)
    return campaign


def get_ad_group(session: Session, org_id: str, ad_group_id: str, *, param: str | None = None) -> AdGroup:
    group = None
    if is_uuid(ad_group_id):
        group = session.execute(
            select(AdGroup).where(AdGroup.id == ad_group_id, AdGroup.org_id == org_id)
        ).scalar_one_or_none()
    if group is None:
        raise not_found("ad group", param)
    return group


def get_ad(session: Session, org_id: str, ad_id: str) -> Ad:
    ad = None
    if is_uuid(ad_id):
        ad = session.execute(select(Ad).where(Ad.id == ad_id, Ad.org_id == org_id)).scalar_one_or_none()
    if ad is None:
        raise not_found("ad")
    return ad


def get_ad_account(session: Session, org_id: str, ad_account_id: str) -> AdAccount | None:
    if not is_uuid(ad_account_id):
        return None
    return session.execute(
        select(AdAccount).where(AdAccount.id == ad_account_id, AdAccount.org_id == org_id)
    ).scalar_one_or_none()


def default_ad_account(session: Session, org_id: str) -> AdAccount:
    account = session.execute(
        select(AdAccount).where(AdAccount.org_id == org_id, AdAccount.is_default.is_(True))
    ).scalar_one_or_none()
    if account is None:
        raise not_found("ad account")
    return account


def default_ad_accounts(session: Session, org_ids: Iterable[str]) -> dict[str, AdAccount]:
    """The default account of each of these orgs, in one query."""
    ids = list(org_ids)
    if not ids:
        return {}
    rows = session.execute(
        select(AdAccount).where(AdAccount.org_id.in_(ids), AdAccount.is_default.is_(True))
    ).scalars()
    return {a.org_id: a for a in rows}


def add_default_ad_account(session: Session, *, org_id: str, name: str, url: str, now: int) -> AdAccount:
    """Every org gets one ad account when it is created (the operator creates orgs)."""
    account = AdAccount(id=new_id(), org_id=org_id, name=name, url=url, is_default=True, created_at=now)
    session.add(account)
    return account


def live_ad_group_count(session: Session, campaign_id: str) -> int:
    return int(
        session.execute(
            select(func.count())
            .select_from(AdGroup)
            .where(AdGroup.campaign_id == campaign_id, AdGroup.status != "archived")
        ).scalar_one()
    )


def live_ad_count(session: Session, ad_group_id: str) -> int:
    return int(
        session.execute(
            select(func.count()).select_from(Ad).where(Ad.ad_group_id == ad_group_id, Ad.status != "archived")
        ).scalar_one()
    )


def campaign_page(session: Session, org_id: str, params: PageParams) -> Page[Campaign]:
    stmt = select(Campaign).where(Campaign.org_id == org_id)
    return keyset_page(session, stmt, seq=Campaign.seq, id_=Campaign.id, params=params)


def ad_group_page(session: Session, org_id: str, campaign_id: str, params: PageParams) -> Page[AdGroup]:
    stmt = select(AdGroup).where(AdGroup.org_id == org_id, AdGroup.campaign_id == campaign_id)
    return keyset_page(session, stmt, seq=AdGroup.seq, id_=AdGroup.id, params=params)


def ad_page(session: Session, org_id: str, ad_group_id: str, params: PageParams) -> Page[Ad]:
    stmt = select(Ad).where(Ad.org_id == org_id, Ad.ad_group_id == ad_group_id)
    return keyset_page(session, stmt, seq=Ad.seq, id_=Ad.id, params=params)


def campaign_children(session: Session, campaign_ids: list[str]) -> tuple[list[AdGroup], list[Ad]]:
    """Every ad group and ad of these campaigns in creation order: two queries for the whole queue."""
    if not campaign_ids:
        return [], []
    groups = session.execute(
        select(AdGroup).where(AdGroup.campaign_id.in_(campaign_ids)).order_by(AdGroup.seq)
    ).scalars()
    ads = session.execute(select(Ad).where(Ad.campaign_id.in_(campaign_ids)).order_by(Ad.seq)).scalars()
    return list(groups), list(ads)


def servable_ads(session: Session, now: int) -> Sequence[Row[Ad, AdGroup, Campaign, str]]:
    """Every ad that may serve (serving's snapshot): active and approved campaign not yet ended, active
    ad group and ad, live org; with the org's name. Spent campaigns are included (serving says why they
    do not bid). In ad creation order."""
    return session.execute(
        select(Ad, AdGroup, Campaign, Org.name)
        .join(AdGroup, AdGroup.id == Ad.ad_group_id)
        .join(Campaign, Campaign.id == AdGroup.campaign_id)
        .join(Org, Org.id == Campaign.org_id)
        .where(
            Campaign.status == "active",
            Campaign.review_status == "approved",
            (Campaign.end_time.is_(None)) | (Campaign.end_time > now),
            AdGroup.status == "active",
            Ad.status == "active",
            Org.deleted_at.is_(None),
        )
        .order_by(Ad.seq)
    ).all()


def live_campaign_spend(session: Session) -> Sequence[Row[str, int]]:
    """(id, spent_micros) of every active, approved campaign."""
    return session.execute(
        select(Campaign.id, Campaign.spent_micros).where(
            Campaign.status == "active", Campaign.review_status == "approved"
        )
    ).all()
