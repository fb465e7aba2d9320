"""Serving test data: publishers (through the operator service) and live campaigns (through the
advertiser HTTP API + operator approval), plus small request builders."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.factories import CARD_AD, ctx_of, make_org
from threadline.advertiser import review
from threadline.kit.clock import MovableClock
from threadline.kit.ids import new_id
from threadline.operator import publishers
from threadline.operator.schemas import PublisherCreate
from threadline.serving.service import ServingEngine

UA = {"User-Agent": "pytest-chat/1.0", "X-Forwarded-For": "203.0.113.7"}


@dataclass
class TestPublisher:
    id: str
    api_key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"thrad-api-key": self.api_key, **UA}

    @property
    def legacy_headers(self) -> dict[str, str]:
        return {"X-THRADS-API-KEY": self.api_key}


def make_publisher(
    app: FastAPI,
    *,
    floor_cpm_micros: int = 1_000_000,
    supply: str = "direct",
    allowed_origins: list[str] | None = None,
) -> TestPublisher:
    body = PublisherCreate.model_validate(
        {
            "name": "Chat app",
            "supply": supply,
            "floor_cpm_micros": floor_cpm_micros,
            "allowed_origins": allowed_origins or [],
        }
    )
    new = publishers.create_publisher(ctx_of(app), body)
    return TestPublisher(new.id, new.api_key)


def engine(app: FastAPI) -> ServingEngine:
    eng: ServingEngine = ctx_of(app).serving
    return eng


def card(title: str = "Premium Running Shoes", **extra: Any) -> dict[str, Any]:
    ad = copy.deepcopy(CARD_AD)
    ad["creative"]["title"] = title
    ad["creative"].update(extra)
    return ad


def live_campaign(
    client: TestClient,
    app: FastAPI,
    clock: MovableClock,
    *,
    org: Any = None,
    hints: list[str] | None = None,
    max_bid_micros: int = 2_000_000,
    budget_micros: int = 25_000_000,
    pricing_model: str = "cpm",
    countries: list[str] | None = None,
    ads: list[dict[str, Any]] | None = None,
    end_after: int | None = None,
    recurring_frequency: str = "daily",
    advance: bool = True,
) -> dict[str, Any]:
    """Create, approve and activate a campaign, then move the clock to its start. Returns the campaign."""
    org = org or make_org(app, name=f"Org {new_id()[:6]}")
    ctx = ctx_of(app)
    start = clock.now_s() + ctx.settings.launch_window_seconds + 60
    body: dict[str, Any] = {
        "name": "Serving test",
        "start_time": start,
        "budget": {"lifetime_spend_limit_micros": budget_micros},
        "pricing_model": pricing_model,
        "recurring_frequency": recurring_frequency,
        "ad_groups": [
            {
                "name": "Core audience",
                "context_hints": ["running shoes", "marathon training"] if hints is None else hints,
                "bidding_config": {"max_bid_micros": max_bid_micros},
                "ads": ads or [card()],
            }
        ],
    }
    if countries:
        body["targeting"] = {"locations": {"include": countries}}
    if end_after is not None:
        body["end_time"] = start + end_after
    campaign = launch(client, app, org, body)
    if advance and clock.now_s() < start:
        clock.set(start + 1)
    engine(app).index.refresh_now()
    campaign["org"] = org
    return campaign


def launch(client: TestClient, app: FastAPI, org: Any, body: dict[str, Any]) -> dict[str, Any]:
    """POST /v1/campaigns, operator approval, activation: the campaign as the API returned it."""
    ctx = ctx_of(app)
    r = client.post("/v1/campaigns", json=body, headers=org.headers)
    assert r.status_code == 201, r.text
    campaign: dict[str, Any] = r.json()
    with ctx.db.write() as s:
        review.approve(s, ctx.clock, campaign["id"])
    r = client.post(f"/v1/campaigns/{campaign['id']}/activate", headers=org.headers)
    assert r.status_code == 200, r.text
    return campaign


RUNNING_CHAT = [
    {"role": "user", "content": "I'm training for my first marathon, which running shoes should I buy?"},
    {
        "role": "assistant",
        "content": "For marathon training, look for cushioned running shoes with good support.",
    },
]
OFF_TOPIC_CHAT = [
    {"role": "user", "content": "How do I bake sourdough bread?"},
    {"role": "assistant", "content": "Start with an active starter and a long cold proof."},
]


def bid_body(messages: list[dict[str, str]] | None = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"userId": "user-1", "chatId": "chat-1", "messages": messages or RUNNING_CHAT}
    body.update(extra)
    return body


def legacy_body(**extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "userId": "user-1",
        "chatId": "chat-1",
        "content": {"user": RUNNING_CHAT[0]["content"], "chatbot": RUNNING_CHAT[1]["content"]},
        "production": True,
    }
    body.update(extra)
    return body
