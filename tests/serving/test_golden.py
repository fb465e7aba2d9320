"""Golden cases, Prebid-style: each fixtures/*.json is a setup, a wire request in and the full wire response out.

The setup goes through the production paths only: campaigns through the advertiser API, approval and
activation; spend through `serving.budget.reserve`; click/impression history through the rollup writer;
then the production snapshot builder (`ServingIndex.refresh_now`, serving/index.py). The request is sent to
the real endpoint and the whole JSON body compared. Values that differ on every run are checked first and
then replaced by placeholders: `<request-id>` (the X-Request-Id header), `<now>` (the clock), `<total-time>`,
`<bid-id>` (a UUID) and the signed tracking tokens `<click-token>`, `<view-token>`, `<poll-token>` (checked
against `serving.tokens.make_token`).

`auction` pins the decision behind the response: every ranked bid (ad, eCPM, relevance, clearing price) and
the no-bid reason, as the engine's auction returned them for this request (null when frequency rules
answered before any auction ran).

Regenerate after an intended change with THREADLINE_GOLDEN_REGENERATE=1 (off by default): the runner then
writes `response` and `auction` back into each file instead of comparing; review the diff before committing.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.factories import TestOrg, ctx_of, make_org
from tests.serving.helpers import UA, engine, launch, make_publisher
from threadline.insights.rollups import bump
from threadline.kit.clock import MovableClock
from threadline.serving import budget
from threadline.serving.auction import PricedBid
from threadline.serving.service import ServeRequest
from threadline.serving.tables import impressions
from threadline.serving.tokens import make_token
from threadline.store.models import Ad

FIXTURES = sorted((Path(__file__).parent / "fixtures").glob("*.json"))
REGENERATE = os.environ.get("THREADLINE_GOLDEN_REGENERATE") == "1"
ENDPOINTS = {"bid-request": "/api/v1/ssp/bid-request", "serve-ad": "/developer/serve-ad/"}
COUNTRY_HEADERS = {"X-User-Device": "desktop", "X-User-Timezone": "America/New_York"}


@pytest.fixture
def clock() -> MovableClock:
    # Frozen: the response's timestamp and its signed tokens must not depend on when a second ticks over.
    return MovableClock(frozen=True)


def _creative(ad: dict[str, Any]) -> dict[str, Any]:
    if ad.get("format") == "sponsored_poll":
        return {
            "type": "poll",
            "question": ad.get("question", ad["id"]),
            "options": ad.get("options", ["Yes", "No"]),
            "target_url": ad.get("target_url", "https://example.com"),
        }
    creative = {
        "type": "chat_card",
        "title": ad.get("title", ad["id"]),
        "body": ad.get("body", "Built for the long run."),
        "target_url": ad.get("target_url", "https://example.com"),
    }
    if "cta_text" in ad:
        creative["cta_text"] = ad["cta_text"]
    return creative


def _launch(
    client: TestClient, app: FastAPI, org: TestOrg, name: str, ads: list[dict[str, Any]]
) -> dict[str, Any]:
    """One campaign (one ad group per ad, as the fixture lists them) through the advertiser API, approved
    and activated. Campaign-level settings come from the campaign's first ad."""
    ctx = ctx_of(app)
    first = ads[0]
    body: dict[str, Any] = {
        "name": f"Campaign {name}",
        "start_time": ctx.clock.now_s() + ctx.settings.launch_window_seconds + 60,
        "budget": {"lifetime_spend_limit_micros": first.get("budget_micros", 100_000_000)},
        "pricing_model": first.get("pricing_model", "cpm"),
        "recurring_frequency": first.get("recurring_frequency", "daily"),
        "ad_groups": [
            {
                "name": f"Group {ad['id']}",
                "context_hints": ad["hints"],
                "bidding_config": {"max_bid_micros": ad["max_bid_micros"]},
                "ads": [{"name": ad["id"], "creative": _creative(ad)}],
            }
            for ad in ads
        ],
    }
    if first.get("countries"):
        body["targeting"] = {"locations": {"include": first["countries"]}}
    if first.get("end_after") is not None:
        body["end_time"] = body["start_time"] + first["end_after"]
    return launch(client, app, org, body)


def _setup(client: TestClient, app: FastAPI, clock: MovableClock, setup: dict[str, Any]) -> None:
    ctx = ctx_of(app)
    ads: list[dict[str, Any]] = setup.get("ads", [])
    by_campaign: dict[str, list[dict[str, Any]]] = {}
    for ad in ads:
        by_campaign.setdefault(ad["campaign"], []).append(ad)
    org = make_org(app, name=setup.get("advertiser", "Advertiser"))
    launched = {name: _launch(client, app, org, name, group) for name, group in by_campaign.items()}
    starts = [c["start_time"] for c in launched.values()]
    if starts:
        clock.set(max(starts) + 1)
    now = clock.now_s()
    with ctx.db.write() as s:
        for name, campaign in launched.items():
            first = by_campaign[name][0]
            spent = first.get("spent_micros", 0)
            if "remaining_micros" in first:
                spent = campaign["budget"]["lifetime_spend_limit_micros"] - first["remaining_micros"]
            if spent:
                # Lifetime spend only: the fixture's spend predates any pacing period.
                res = budget.reserve(
                    s, campaign_id=campaign["id"], amount=spent, now=now, start_time=now, end_time=None,
                    frequency="daily",
                )  # fmt: skip
                assert res.ok
            rows = s.execute(
                select(Ad.id, Ad.ad_group_id, Ad.name).where(Ad.campaign_id == campaign["id"])
            ).all()
            ids = {row.name: (row.id, row.ad_group_id) for row in rows}
            for ad in by_campaign[name]:
                if ad.get("impressions") or ad.get("clicks"):
                    ad_id, group_id = ids[ad["id"]]
                    bump(
                        s,
                        org_id=org.id,
                        campaign_id=campaign["id"],
                        ad_group_id=group_id,
                        ad_id=ad_id,
                        ts=now - 3600,
                        impressions=ad.get("impressions", 0),
                        clicks=ad.get("clicks", 0),
                    )
    engine(app).index.refresh_now()


def _send(client: TestClient, publisher_key: str, request: dict[str, Any]) -> Any:
    endpoint = request.get("endpoint", "bid-request")
    if endpoint == "bid-request":
        headers = {"thrad-api-key": publisher_key, **UA}
        if "X-User-Country" in request.get("headers", {}):
            headers.update(COUNTRY_HEADERS)
    else:
        headers = {"X-THRADS-API-KEY": publisher_key}
    headers.update(request.get("headers", {}))
    return client.post(ENDPOINTS[endpoint], json=request["body"], headers=headers)


def _normalise(app: FastAPI, r: Any) -> dict[str, Any]:
    """The response body with its per-run values checked, then replaced by placeholders."""
    ctx = ctx_of(app)
    body: dict[str, Any] = r.json()
    assert body["requestId"] == r.headers["x-request-id"]
    body["requestId"] = "<request-id>"
    assert isinstance(body["totalTime"], int | float)
    assert body["totalTime"] >= 0
    body["totalTime"] = "<total-time>"
    now = ctx.clock.now_s()
    assert body["timestamp"] == now
    body["timestamp"] = "<now>"
    base = ctx.settings.public_base_url.rstrip("/")

    def token(kind: str, bid_id: str) -> Callable[[str], str]:
        real = make_token(ctx.secret_key, kind, bid_id, now)
        placeholder = {"c": "<click-token>", "v": "<view-token>", "p": "<poll-token>"}[kind]
        return lambda text: text.replace(real, placeholder)

    bid = (body.get("data") or {}).get("bid") if "adStatus" not in body else None
    if bid is not None:
        bid_id = bid["bidId"]
        uuid.UUID(bid_id)
        bid["bidId"] = "<bid-id>"
        bid["url"] = token("c", bid_id)(bid["url"])
        bid["view_url"] = token("v", bid_id)(bid["view_url"])
        if "poll" in bid:
            poll_token = token("p", bid_id)
            bid["poll"]["vote_url"] = poll_token(bid["poll"]["vote_url"])
            bid["poll"]["results_url"] = poll_token(bid["poll"]["results_url"])
    if "adStatus" in body and body["data"] is not None:
        # The legacy shape has no bid id; the click URL carries the only one (its token's payload).
        url = body["data"]["prod_url"]
        assert url.startswith(f"{base}/t/c/")
        bid_id = _impression_bid_id(app)
        body["data"]["prod_url"] = token("c", bid_id)(url)
    return body


def _impression_bid_id(app: FastAPI) -> str:
    with ctx_of(app).db.read() as s:
        row = s.execute(select(impressions.c.bid_id).order_by(impressions.c.created_at.desc())).first()
    assert row is not None
    return str(row[0])


def _auction_record(app: FastAPI, names: dict[str, str]) -> tuple[list[Any], Callable[[], None]]:
    """Record what the engine's real auction returns for each request (a pass-through, not a stand-in)."""
    eng = engine(app)
    real = eng.auction
    seen: list[Any] = []

    def recording(req: ServeRequest, now: float) -> tuple[list[PricedBid], str | None]:
        ranked, reason = real(req, now)
        seen.append(
            {
                "ranking": [
                    {
                        "ad": names[p.bid.ad.ad_id],
                        "ecpm_micros": p.bid.ecpm_micros,
                        "relevance": round(p.bid.relevance, 6),
                        "price_micros": p.price_micros,
                    }
                    for p in ranked
                ],
                "reason": reason,
            }
        )
        return ranked, reason

    eng.auction = recording  # type: ignore[method-assign]

    def restore() -> None:
        eng.auction = real  # type: ignore[method-assign]

    return seen, restore


def _ad_names(app: FastAPI) -> dict[str, str]:
    """Indexed ad id -> the fixture's name for it (the ad's name is the fixture id)."""
    with ctx_of(app).db.read() as s:
        return {row.id: row.name for row in s.execute(select(Ad.id, Ad.name))}


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_golden_case(path: Path, app: FastAPI, client: TestClient, clock: MovableClock) -> None:
    case = json.loads(path.read_text())
    setup = case["setup"]
    pub = make_publisher(app, **setup.get("publisher", {}))
    _setup(client, app, clock, setup)
    for earlier in setup.get("before", []):
        assert _send(client, pub.api_key, earlier).status_code == 200
    seen, restore = _auction_record(app, _ad_names(app))
    try:
        r = _send(client, pub.api_key, case["request"])
    finally:
        restore()
    assert r.status_code == 200, r.text
    response = _normalise(app, r)
    auction = seen[-1] if seen else None
    if REGENERATE:
        case["response"] = response
        case["auction"] = auction
        path.write_text(json.dumps(case, indent=2, ensure_ascii=False) + "\n")
        return
    assert response == case["response"]
    assert auction == case["auction"]


def test_fixtures_cover_the_spec() -> None:
    """Every no-bid reason of spec 40, both formats, both endpoints, and at least 30 cases."""
    if REGENERATE:
        pytest.skip("regenerating the fixtures")
    cases = [json.loads(p.read_text()) for p in FIXTURES]
    assert len(cases) >= 30
    reasons = {c["response"]["data"]["reason"] for c in cases if "adStatus" not in c["response"]}
    assert reasons >= {
        None,
        "no_match",
        "below_floor",
        "frequency_capped",
        "budget_exhausted",
        "no_eligible_ads",
    }
    formats = {
        c["response"]["data"]["bid"]["ad_format"] for c in cases if (c["response"]["data"] or {}).get("bid")
    }
    assert formats == {"sponsored_message", "sponsored_poll"}
    assert {c["request"].get("endpoint", "bid-request") for c in cases} == set(ENDPOINTS)
