"""Test data builders that go through the real services (never around them)."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI

from threadline.billing import payment_methods
from threadline.context import AppContext
from threadline.operator import orgs


@dataclass
class TestOrg:
    __test__ = False  # a data holder, not a test class

    id: str
    api_key: str
    ad_account_id: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}


def ctx_of(app: FastAPI) -> AppContext:
    ctx: AppContext = app.state.ctx
    return ctx


def seed_org(
    ctx: AppContext,
    name: str = "Acme Inc.",
    url: str = "https://acme.example.com",
    card: str | None = "tok_visa",
) -> orgs.NewOrg:
    """An org (and its default card) through the operator services, as the admin API creates them."""
    provider = ctx.payments
    details = payment_methods.attach_card(provider, card) if card else None
    with ctx.db.write() as s:
        new = orgs.create_org(s, ctx.clock, name=name, url=url)
        if details is not None:
            orgs.add_payment_method(s, ctx.clock, provider, new.org.id, details)
    return new


def make_org(app: FastAPI, name: str = "Acme Inc.", card: str | None = "tok_visa") -> TestOrg:
    new = seed_org(ctx_of(app), name, card=card)
    return TestOrg(new.org.id, new.api_key, new.ad_account.id)


CARD_AD: dict[str, Any] = {
    "name": "Hero card",
    "creative": {
        "type": "chat_card",
        "title": "Premium Running Shoes",
        "body": "Lightweight and built for the long run.",
        "target_url": "https://example.com/shoes",
    },
}

QUICKSTART_CAMPAIGN: dict[str, Any] = {
    "name": "Summer launch",
    "description": "Q3 awareness push",
    "budget": {"lifetime_spend_limit_micros": 25000000},
    "targeting": {"locations": {"include": ["US"]}},
    "ad_groups": [
        {
            "name": "Core audience",
            "context_hints": ["running shoes", "marathon training"],
            "bidding_config": {"max_bid_micros": 2000000},
            "ads": [CARD_AD],
        }
    ],
}


def campaign_body(**overrides: Any) -> dict[str, Any]:
    body = copy.deepcopy(QUICKSTART_CAMPAIGN)
    body.update(overrides)
    return body


def run_jobs(app: FastAPI, limit: int | None = None) -> int:
    """Run the durable jobs due now (test apps have no background worker); how many ran."""
    from threadline.kit.jobs import JobWorker

    ctx = ctx_of(app)
    return JobWorker(ctx.db, ctx.jobs, ctx.clock).run_pending(limit=limit)
