"""Every validation rule of the nested create, with the exact param path it reports."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.advertiser.conftest import NOW
from tests.advertiser.helpers import count, err
from tests.factories import CARD_AD, campaign_body, make_org
from threadline.config import Settings
from threadline.store.models import Campaign, Charge

WINDOW = 172800
POLL = {"type": "poll", "question": "Which distance?", "options": ["5k", "10k"]}


def with_creative(**fields: Any) -> dict[str, Any]:
    body = campaign_body()
    body["ad_groups"][0]["ads"][0]["creative"].update(fields)
    return body


def with_group(**fields: Any) -> dict[str, Any]:
    body = campaign_body()
    body["ad_groups"][0].update(fields)
    return body


def without_creative_field(name: str) -> dict[str, Any]:
    body = campaign_body()
    del body["ad_groups"][0]["ads"][0]["creative"][name]
    return body


def poll_with(**fields: Any) -> dict[str, Any]:
    return campaign_body(ad_groups=[{"name": "Polls", "ads": [{"creative": {**POLL, **fields}}]}])


AD0 = "ad_groups[0].ads[0].creative"

# (body, code, param) — the message is checked separately for our own rules.
CASES: list[tuple[dict[str, Any], str, str | None]] = [
    (campaign_body(name="ab"), "invalid_value", "name"),
    (campaign_body(name="   "), "invalid_value", "name"),
    (campaign_body(name="x" * 101), "invalid_value", "name"),
    (campaign_body(name=7), "invalid_value", "name"),
    (campaign_body(description="d" * 1001), "invalid_value", "description"),
    (
        campaign_body(budget={"lifetime_spend_limit_micros": 989_999}),
        "invalid_value",
        "budget.lifetime_spend_limit_micros",
    ),
    (
        campaign_body(budget={"lifetime_spend_limit_micros": 10**15 + 1}),
        "invalid_value",
        "budget.lifetime_spend_limit_micros",
    ),
    (
        campaign_body(budget={"lifetime_spend_limit_micros": "25000000"}),
        "invalid_value",
        "budget.lifetime_spend_limit_micros",
    ),
    (
        campaign_body(budget={"lifetime_spend_limit_micros": True}),
        "invalid_value",
        "budget.lifetime_spend_limit_micros",
    ),
    (
        campaign_body(budget={"lifetime_spend_limit_micros": 10**30}),
        "invalid_value",
        "budget.lifetime_spend_limit_micros",
    ),
    (campaign_body(budget={}), "missing_param", "budget.lifetime_spend_limit_micros"),
    (campaign_body(recurring_frequency="hourly"), "invalid_value", "recurring_frequency"),
    (campaign_body(pricing_model="cpa"), "invalid_value", "pricing_model"),
    (campaign_body(start_time=-1), "invalid_value", "start_time"),
    (campaign_body(start_time=NOW + WINDOW - 61), "invalid_value", "start_time"),
    (campaign_body(end_time=NOW + WINDOW), "invalid_value", "end_time"),
    (
        campaign_body(targeting={"locations": {"include": [{}]}}),
        "invalid_value",
        "targeting.locations.include",
    ),
    (
        campaign_body(targeting={"locations": {"include": ["US", "XX"]}}),
        "invalid_value",
        "targeting.locations.include[1]",
    ),
    (
        campaign_body(targeting={"locations": {"include": [{"country_code": "US", "id": "DE"}]}}),
        "invalid_value",
        "targeting.locations.include[0]",
    ),
    (
        campaign_body(targeting={"locations": {"include": [{"country_code": "US", "region": "CA"}]}}),
        "unknown_param",
        "targeting.locations.include[0].region",
    ),
    (
        campaign_body(targeting={"locations": {"include": [5]}}),
        "invalid_value",
        "targeting.locations.include[0]",
    ),
    (
        campaign_body(targeting={"locations": {"exclude": ["US"]}}),
        "unknown_param",
        "targeting.locations.exclude",
    ),
    (campaign_body(ad_groups=[]), "invalid_value", "ad_groups"),
    (campaign_body(ad_groups=[{"name": "Group", "ads": [CARD_AD]}] * 51), "invalid_value", "ad_groups"),
    (with_group(name="ab"), "invalid_value", "ad_groups[0].name"),
    (with_group(context_hints=["x"] * 51), "invalid_value", "ad_groups[0].context_hints"),
    (with_group(context_hints=["ok", ""]), "invalid_value", "ad_groups[0].context_hints[1]"),
    (with_group(context_hints=["h" * 101]), "invalid_value", "ad_groups[0].context_hints[0]"),
    (
        with_group(bidding_config={"max_bid_micros": 0}),
        "invalid_value",
        "ad_groups[0].bidding_config.max_bid_micros",
    ),
    (
        with_group(bidding_config={"max_bid_micros": 100_000_001}),
        "invalid_value",
        "ad_groups[0].bidding_config.max_bid_micros",
    ),
    (
        with_group(bidding_config={"billing_event_type": "click"}),
        "invalid_value",
        "ad_groups[0].bidding_config.billing_event_type",
    ),
    (with_group(ads=[]), "invalid_value", "ad_groups[0].ads"),
    (with_group(ads=[CARD_AD] * 51), "invalid_value", "ad_groups[0].ads"),
    (with_group(ads=[CARD_AD, {"creative": POLL}]), "invalid_value", "ad_groups[0].ads[1].creative.type"),
    (
        with_group(ads=[CARD_AD, {"creative": {**CARD_AD["creative"], "titel": "x"}}]),
        "unknown_param",
        "ad_groups[0].ads[1].creative.titel",
    ),
    (with_creative(type="video"), "invalid_value", f"{AD0}.type"),
    (without_creative_field("type"), "missing_param", f"{AD0}.type"),
    (with_creative(title="ab"), "invalid_value", f"{AD0}.title"),
    (with_creative(title="t" * 51), "invalid_value", f"{AD0}.title"),
    (without_creative_field("title"), "missing_param", f"{AD0}.title"),
    (with_creative(body=""), "invalid_value", f"{AD0}.body"),
    (with_creative(body="b" * 101), "invalid_value", f"{AD0}.body"),
    (without_creative_field("target_url"), "missing_param", f"{AD0}.target_url"),
    (with_creative(target_url="/relative"), "invalid_value", f"{AD0}.target_url"),
    (with_creative(target_url="javascript:alert(1)"), "invalid_value", f"{AD0}.target_url"),
    (with_creative(target_url="https://exa mple.com"), "invalid_value", f"{AD0}.target_url"),
    (with_creative(target_url="https://example.com/" + "p" * 2030), "invalid_value", f"{AD0}.target_url"),
    (with_creative(cta_text=""), "invalid_value", f"{AD0}.cta_text"),
    (with_creative(cta_text="c" * 21), "invalid_value", f"{AD0}.cta_text"),
    (with_creative(file_id="file_3a9b1c7d2e4f5a6b8c0d1e2f3a4b5c6d"), "invalid_value", f"{AD0}.file_id"),
    (with_creative(auto_generate=True), "invalid_value", f"{AD0}.auto_generate"),
    (poll_with(auto_generate=True), "poll_cannot_be_ai", f"{AD0}.auto_generate"),
    (poll_with(question="ab"), "invalid_value", f"{AD0}.question"),
    (poll_with(options=["only"]), "invalid_value", f"{AD0}.options"),
    (poll_with(options=["a", "b", "c", "d", "e"]), "invalid_value", f"{AD0}.options"),
    (poll_with(options=["a", "o" * 26]), "invalid_value", f"{AD0}.options[1]"),
    (poll_with(options=["a", ""]), "invalid_value", f"{AD0}.options[1]"),
    (poll_with(title="Polls have no title"), "unknown_param", f"{AD0}.title"),
    (campaign_body(status="active"), "use_status_action", "status"),
    (campaign_body(ad_account_id="6d2f1f7c-0000-4000-8000-000000000000"), "invalid_value", "ad_account_id"),
    (campaign_body(budget=None), "invalid_value", "budget"),
    (campaign_body(bogus=1), "unknown_param", "bogus"),
    # NUL cannot be stored by PostgreSQL: it must be a 400, never a driver error.
    (campaign_body(name="Sum\x00mer"), "invalid_value", "name"),
    (campaign_body(description="\x00"), "invalid_value", "description"),
    (with_group(context_hints=["a\x00"]), "invalid_value", "ad_groups[0].context_hints[0]"),
    (with_creative(file_id="f\x00"), "invalid_value", f"{AD0}.file_id"),
    (with_creative(body="b\x00"), "invalid_value", f"{AD0}.body"),
    (with_creative(title="Ti\x00tle"), "invalid_value", f"{AD0}.title"),
    (poll_with(options=["a", "b\x00"]), "invalid_value", f"{AD0}.options[1]"),
    (
        campaign_body(targeting={"locations": {"include": ["U\x00"]}}),
        "invalid_value",
        "targeting.locations.include[0].country_code",
    ),
]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # One key sends every case below: lift the 60/h create limit (tested in test_rate_limits.py).
    return settings.model_copy(update={"campaign_create_limit_per_hour": 10_000})


def test_invalid_bodies(app: FastAPI, client: TestClient) -> None:
    org = make_org(app)
    for body, code, param in CASES:
        r = client.post("/v1/campaigns", json=copy.deepcopy(body), headers=org.headers)
        assert r.status_code == 400, (code, param, r.text)
        error = r.json()["error"]
        assert (error["code"], error["param"], error["type"]) == (code, param, "invalid_request_error"), (
            r.text
        )
    assert count(app, Campaign) == 0
    assert count(app, Charge) == 0


def test_messages_of_our_own_rules(app: FastAPI, client: TestClient) -> None:
    org = make_org(app)
    cases = [
        (
            campaign_body(name="   "),
            err("name: must not be all spaces", "invalid_value", "name"),
        ),
        (
            campaign_body(start_time=NOW),
            err(
                "start_time must be at least 172800 seconds in the future (the launch window).",
                "invalid_value",
                "start_time",
            ),
        ),
        (
            campaign_body(targeting={"locations": {"include": [{"type": "country"}]}}),
            err(
                "Each targeting location needs a country_code (or id).",
                "invalid_value",
                "targeting.locations.include",
            ),
        ),
        (
            campaign_body(targeting={"locations": {"include": ["uk"]}}),
            err(
                "'uk' is not an ISO 3166-1 alpha-2 country code.",
                "invalid_value",
                "targeting.locations.include[0]",
            ),
        ),
        (
            with_creative(auto_generate=True),
            err("auto_generate is not available on this server.", "invalid_value", f"{AD0}.auto_generate"),
        ),
        (
            poll_with(auto_generate=True),
            err("Polls cannot be AI-generated.", "poll_cannot_be_ai", f"{AD0}.auto_generate"),
        ),
        (
            with_creative(type="video"),
            err(f"{AD0}.type: type must be one of: chat_card, poll", "invalid_value", f"{AD0}.type"),
        ),
        (
            campaign_body(ad_account_id="nope"),
            err("No such ad account.", "invalid_value", "ad_account_id"),
        ),
        (
            campaign_body(bogus=1),
            err("Unknown parameter: bogus.", "unknown_param", "bogus"),
        ),
    ]
    for body, expected in cases:
        r = client.post("/v1/campaigns", json=body, headers=org.headers)
        assert (r.status_code, r.json()) == (400, expected)


def test_bodies_that_are_not_json_objects(app: FastAPI, client: TestClient) -> None:
    org = make_org(app)
    headers = {**org.headers, "Content-Type": "application/json"}
    r = client.post("/v1/campaigns", content=b'{"name": ', headers=headers)
    assert (r.status_code, r.json()) == (400, err("The request body is not valid JSON.", "invalid_json"))
    r = client.post("/v1/campaigns", headers=org.headers)
    assert (r.status_code, r.json()) == (400, err("A JSON object request body is required.", "invalid_json"))


def test_start_time_within_clock_slack_is_accepted(app: FastAPI, client: TestClient) -> None:
    org = make_org(app)
    r = client.post("/v1/campaigns", json=campaign_body(start_time=NOW + WINDOW - 60), headers=org.headers)
    assert (r.status_code, r.json()["start_time"]) == (201, NOW + WINDOW - 60)
