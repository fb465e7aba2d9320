"""Recording a click: the row conversions attribute to, and its rollup, in the caller's transaction."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from threadline.advertiser.repository import ad_tree_ids
from threadline.insights import rollups
from threadline.kit.clock import Clock
from threadline.kit.errors import not_found
from threadline.kit.ids import new_id
from threadline.store.models import Click

# id, org_id, campaign_id, ad_group_id, ad_id, supply, country
ClickRow = Row[str, str, str, str, str, str, str]
MAX_CLICK_ID = 36  # the clicks.id column width: anything longer cannot exist


def record_click(
    session: Session,
    clock: Clock,
    *,
    ad_id: str,
    bid_id: str | None,
    publisher_id: str | None,
    supply: str,
    country: str,
    charge_micros: int = 0,
    click_id: str | None = None,
) -> Click:
    """Write the click and count it (plus its charge) in the hourly rollup.

    Budget reservation is the caller's business: ``charge_micros`` is what was already reserved.
    """
    ad = ad_tree_ids(session, ad_id)
    if ad is None:
        raise not_found("ad", "ad_id")
    now = clock.now_s()
    click = Click(
        id=click_id or new_id(),
        org_id=ad.org_id,
        campaign_id=ad.campaign_id,
        ad_group_id=ad.ad_group_id,
        ad_id=ad_id,
        bid_id=bid_id,
        publisher_id=publisher_id,
        supply=supply,
        country=country.upper(),
        charged_micros=charge_micros,
        created_at=now,
    )
    session.add(click)
    session.flush()
    rollups.bump(
        session,
        org_id=ad.org_id,
        campaign_id=ad.campaign_id,
        ad_group_id=ad.ad_group_id,
        ad_id=ad_id,
        ts=now,
        supply=supply,
        country=click.country,
        clicks=1,
        spend_micros=charge_micros,
    )
    return click


def find_clicks(session: Session, click_ids: Iterable[str]) -> dict[str, ClickRow]:
    """The clicks with these ids (what conversions are attributed to), one query."""
    ids = [c for c in click_ids if len(c) <= MAX_CLICK_ID]
    if not ids:
        return {}
    rows: Sequence[ClickRow] = session.execute(
        select(
            Click.id,
            Click.org_id,
            Click.campaign_id,
            Click.ad_group_id,
            Click.ad_id,
            Click.supply,
            Click.country,
        ).where(Click.id.in_(ids))
    ).all()
    return {r.id: r for r in rows}
