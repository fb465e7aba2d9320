"""Test data for the events slice: an org with an event key, an ad tree inserted through the ORM, a click."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from sqlalchemy.orm import Session

from tests.factories import ctx_of, make_org
from threadline.auth.keys import mint_key
from threadline.events import service
from threadline.kit.clock import Clock
from threadline.kit.ids import new_id
from threadline.operator.orgs import create_org
from threadline.serving.clicks import record_click
from threadline.store.db import Database
from threadline.store.models import Ad, AdGroup, Campaign


@dataclass
class AdTree:
    campaign_id: str
    ad_group_id: str
    ad_id: str


@dataclass
class EventOrg:
    id: str
    event_key: str
    ad: AdTree
    click_id: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.event_key}"}


def insert_ad_tree(session: Session, clock: Clock, org_id: str, ad_account_id: str) -> AdTree:
    """Campaign -> ad group -> ad rows (the advertiser service is built elsewhere; this is test data)."""
    now = clock.now_s()
    campaign = Campaign(
        id=new_id(),
        org_id=org_id,
        ad_account_id=ad_account_id,
        name="Summer launch",
        status="active",
        review_status="approved",
        review_submitted_at=now,
        start_time=now,
        lifetime_spend_limit_micros=25_000_000,
        spent_micros=0,
        recurring_frequency="none",
        pricing_model="cpc",
        target_countries=["US"],
        created_at=now,
        updated_at=now,
    )
    group = AdGroup(
        id=new_id(),
        org_id=org_id,
        campaign_id=campaign.id,
        name="Core audience",
        context_hints=["running shoes"],
        max_bid_micros=2_000_000,
        status="active",
        creative_type="chat_card",
        created_at=now,
        updated_at=now,
    )
    ad = Ad(
        id=new_id(),
        org_id=org_id,
        campaign_id=campaign.id,
        ad_group_id=group.id,
        name="Hero card",
        status="active",
        creative={"type": "chat_card", "title": "Shoes", "body": "Run.", "target_url": "https://example.com"},
        created_at=now,
        updated_at=now,
    )
    session.add(campaign)
    session.flush()
    session.add(group)
    session.flush()
    session.add(ad)
    session.flush()
    return AdTree(campaign.id, group.id, ad.id)


def add_event_key(app: FastAPI, org_id: str, label: str = "backend") -> str:
    ctx = ctx_of(app)
    with ctx.db.write() as s:
        _, plain = mint_key(s, ctx.clock, kind="event", org_id=org_id, label=label)
    return plain


def add_click(
    app: FastAPI, ad_id: str, *, supply: str = "direct", country: str = "US", charge_micros: int = 0
) -> str:
    ctx = ctx_of(app)
    with ctx.db.write() as s:
        click = record_click(
            s,
            ctx.clock,
            ad_id=ad_id,
            bid_id=None,
            publisher_id=None,
            supply=supply,
            country=country,
            charge_micros=charge_micros,
        )
    return click.id


def make_event_org(app: FastAPI, name: str = "Acme Inc.", label: str = "backend") -> EventOrg:
    org = make_org(app, name=name, card=None)
    ctx = ctx_of(app)
    with ctx.db.write() as s:
        tree = insert_ad_tree(s, ctx.clock, org.id, org.ad_account_id)
    key = add_event_key(app, org.id, label)
    return EventOrg(org.id, key, tree, add_click(app, tree.ad_id))


@dataclass(frozen=True)
class SeededEvents:
    org_id: str
    event_key: str
    click_id: str


def seed_event_org(database_url: str, name: str = "Events Inc.", label: str = "e2e") -> SeededEvents:
    """An org, an event key and a click straight in a store (for tests and benchmarks of server processes)."""
    db = Database(database_url)
    clock = Clock()
    try:
        with db.write() as s:
            new = create_org(s, clock, name=name)
            tree = insert_ad_tree(s, clock, new.org.id, new.ad_account.id)
            _, event_key = mint_key(s, clock, kind="event", org_id=new.org.id, label=label)
            click = record_click(
                s, clock, ad_id=tree.ad_id, bid_id=None, publisher_id=None, supply="direct", country="US"
            )
        return SeededEvents(new.org.id, event_key, click.id)
    finally:
        db.dispose()


def conversion_row(
    n: int,
    org_id: str,
    click_id: str,
    key: str | None,
    order_id: str | None,
    event_type: str = "purchase_completed",
) -> dict[str, Any]:
    """A conversion row as the route builds it (before attribution), with Idempotency-Key ``key``."""
    return {
        "id": f"00000000-0000-4000-8000-{n:012d}",
        "org_id": org_id,
        "key_id": "k",
        "dedupe_key": service.conversion_explicit_key(key, None),
        "order_key": service.conversion_order_key(click_id, event_type, order_id),
        "click_id": click_id,
        "event_type": event_type,
        "conversion_time": 1771524000,
        "conversion_value_micros": 1,
        "currency": "USD",
        "order_id": order_id,
        "event_id": None,
        "data": {},
        "received_at": float(n),
    }
