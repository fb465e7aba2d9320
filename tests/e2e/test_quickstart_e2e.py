"""Seed 001 end to end against the real server process, then the loop it leads to: a publisher asks for
ads, a user views and clicks, the advertiser reports a conversion, and step 6's insights add up."""

from __future__ import annotations

import base64
import copy
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from thrads import ThradsClient

from tests.e2e.server import ServerProcess
from tests.e2e.support import US_USER, admin_headers, png, server_env
from tests.factories import QUICKSTART_CAMPAIGN, seed_org
from tests.waiting import eventually
from threadline.config import Settings
from threadline.context import build_context
from threadline.store.migrate import upgrade

pytestmark = pytest.mark.e2e

IDEMPOTENCY_KEY = "3f6c1a90-1d2e-4b8a-9c7f-0a1b2c3d4e5f"
STEP6_FIELDS = ("impressions", "clicks", "spend", "ctr", "cpc", "cpm")
RUNNING = [
    {"role": "user", "content": "I'm training for my first marathon, which running shoes should I buy?"},
    {"role": "assistant", "content": "For marathon training, look for cushioned running shoes."},
]
BAKING = [
    {"role": "user", "content": "How do I bake sourdough bread?"},
    {"role": "assistant", "content": "Start with an active starter and a long cold proof."},
]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[ServerProcess, str, str]]:
    """The server on SQLite with one org (Acme Inc., card on file) created by the operator's services."""
    data = tmp_path / "data"
    url = f"sqlite:///{tmp_path / 'quickstart.db'}"
    settings = Settings(data_dir=data, database_url=url)
    upgrade(url)
    ctx = build_context(settings)
    new = seed_org(ctx, "Acme Inc.", "https://acme.example.com")
    ctx.db.dispose()
    proc = ServerProcess(data, server_env(url, THREADLINE_AUTO_APPROVE="false"))
    proc.start()
    try:
        yield proc, new.org.id, new.api_key
    finally:
        proc.stop()


def _bid(
    http: httpx.Client, publisher_key: str, messages: list[dict[str, str]], **extra: Any
) -> dict[str, Any]:
    body = {"userId": "user-1", "chatId": f"chat-{time.monotonic_ns()}", "messages": messages, **extra}
    r = http.post("/api/v1/ssp/bid-request", json=body, headers={"thrad-api-key": publisher_key, **US_USER})
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()["data"]
    return data


def test_quickstart_then_serving_conversion_and_insights(server: tuple[ServerProcess, str, str]) -> None:
    proc, org_id, key = server
    auth = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=proc.base_url, timeout=10) as http:
        # Step 2: confirm access; a bad key gets the bare 401.
        r = http.get("/v1/ad_account", headers=auth)
        assert r.status_code == 200
        account = r.json()
        assert {k: account[k] for k in ("name", "url", "timezone", "currency_code")} == {
            "name": "Acme Inc.",
            "url": "https://acme.example.com",
            "timezone": "UTC",
            "currency_code": "USD",
        }
        r = http.get("/v1/ad_account", headers={"Authorization": "Bearer ak_not_a_key"})
        assert r.status_code == 401
        assert r.json() == {
            "error": {
                "message": "Invalid API key.",
                "type": "authentication_error",
                "param": None,
                "code": "invalid_api_key",
            }
        }

        # Step 3: upload the creative; it is served back as is.
        image = png()
        r = http.post("/v1/upload", files={"file": ("creative.png", image, "image/png")}, headers=auth)
        assert r.status_code == 201, r.text
        file_id = r.json()["file_id"]
        assert list(r.json()) == ["file_id"]
        assert http.get(f"/media/{file_id}").content == image

        # Step 4: the nested create with an Idempotency-Key; a retry replays it byte for byte.
        body = copy.deepcopy(QUICKSTART_CAMPAIGN)
        body["ad_groups"][0]["ads"][0]["creative"]["file_id"] = file_id
        headers = {**auth, "Idempotency-Key": IDEMPOTENCY_KEY}
        before = int(time.time())
        created = http.post("/v1/campaigns", json=body, headers=headers)
        assert created.status_code == 201, created.text
        campaign = created.json()
        campaign_id = campaign["id"]
        assert campaign["status"] == "paused"
        assert campaign["review_status"] == "in_review"
        assert campaign["budget"] == {"lifetime_spend_limit_micros": 25000000}
        # read back in the expanded form (reference §8: each country becomes an object)
        us = {"id": "US", "type": "country", "country_code": "US"}
        assert campaign["targeting"] == {"locations": {"include": [us]}}
        assert (campaign["recurring_frequency"], campaign["pricing_model"]) == ("daily", "cpm")
        assert campaign["end_time"] is None
        assert before <= campaign["start_time"] <= int(time.time()) + 1  # this server's launch window is 0
        assert "idempotent-replayed" not in created.headers

        replay = http.post("/v1/campaigns", json=body, headers=headers)
        assert replay.status_code == 201, replay.text
        assert replay.content == created.content
        assert replay.headers["idempotent-replayed"] == "true"
        reused = http.post("/v1/campaigns", json={**body, "name": "Other"}, headers=headers)
        assert reused.status_code == 409
        assert reused.json() == {
            "error": {
                "message": "This Idempotency-Key was already used with a different request.",
                "type": "idempotency_error",
                "param": "Idempotency-Key",
                "code": "idempotency_key_reused",
            }
        }
        listed = http.get("/v1/campaigns", headers=auth).json()["data"]
        assert [c["id"] for c in listed] == [campaign_id]  # the replay created nothing

        # Step 5: activate before review is refused; the operator approves; then pause and resume.
        r = http.post(f"/v1/campaigns/{campaign_id}/activate", headers=auth)
        assert r.status_code == 400
        assert r.json()["error"]["code"] == "campaign_not_approved"
        queue = http.get("/admin/v1/review_queue", headers=admin_headers()).json()["data"]
        assert [c["id"] for c in queue] == [campaign_id]
        r = http.post(f"/admin/v1/campaigns/{campaign_id}/approve", headers=admin_headers())
        assert r.status_code == 200, r.text
        assert r.json()["review_status"] == "approved"
        for action, status in (("activate", "active"), ("pause", "paused"), ("activate", "active")):
            r = http.post(f"/v1/campaigns/{campaign_id}/{action}", headers=auth)
            assert r.status_code == 200, r.text
            assert (r.json()["status"], r.json()["review_status"]) == (status, "approved")

        # The operator onboards a publisher and gives the advertiser an event key.
        r = http.post("/admin/v1/publishers", json={"name": "Chat app"}, headers=admin_headers())
        assert r.status_code == 201, r.text
        publisher_key = r.json()["api_key"]
        r = http.post(
            f"/admin/v1/orgs/{org_id}/event_keys", json={"label": "checkout"}, headers=admin_headers()
        )
        assert r.status_code == 201, r.text
        event_key = r.json()["api_key"]

        # The publisher asks for ads: on topic it gets the campaign's ad, off topic nothing.
        first = eventually(
            lambda: _bid(http, publisher_key, RUNNING)["bid"], what="the approved campaign to serve"
        )
        bids = [first] + [_bid(http, publisher_key, RUNNING)["bid"] for _ in range(2)]
        for bid in bids:
            assert bid is not None
            assert bid["headline"] == "Premium Running Shoes"
            assert bid["description"] == "Lightweight and built for the long run."
            assert bid["advertiser"] == "Acme Inc."
            assert bid["domain"] == "example.com"
            assert bid["price"] == 1.0  # alone in the auction: it pays the publisher's $1.00 floor
            assert bid["placement"] == "image"
            assert bid["image_url"] == f"{proc.base_url}/media/{file_id}"
            assert bid["url"].startswith(f"{proc.base_url}/t/c/")
            assert bid["view_url"].startswith(f"{proc.base_url}/t/v/")
        assert _bid(http, publisher_key, BAKING) == {"bid": None, "reason": "no_match"}
        sandbox = _bid(http, publisher_key, RUNNING, production=False)["bid"]
        assert sandbox is not None  # served, but not counted anywhere

        # The thrads-sdk client (legacy endpoint) gets the same ad with its image inlined.
        sdk = ThradsClient(publisher_key, base_url=proc.base_url)
        content = {"user": RUNNING[0]["content"], "chatbot": RUNNING[1]["content"]}
        ad = sdk.get_ad(
            user_id="u2", chat_id="sdk-chat", content=content, user_region="US", production=True, force=True
        )
        assert ad is not None
        assert ad.prod_name == "Premium Running Shoes"
        assert ad.img_url == "data:image/png;base64," + base64.b64encode(image).decode()
        assert ad.prod_url.startswith(f"{proc.base_url}/t/c/")
        impressions = len(bids) + 1

        # The user sees one ad and clicks it (twice: the second click within 30 s is the same click).
        assert http.get(bids[0]["view_url"]).status_code == 204
        clicks = [http.get(bids[0]["url"], follow_redirects=False) for _ in range(2)]
        assert [c.status_code for c in clicks] == [302, 302]
        location = urlsplit(clicks[0].headers["location"])
        assert (location.scheme, location.netloc, location.path) == ("https", "example.com", "/shoes")
        query = parse_qs(location.query)
        assert set(query) == {"thrad_click_id", "thrad_exp", "thrad_sig", "thrad_bid_id"}
        assert query["thrad_bid_id"] == [bids[0]["bidId"]]
        click_id = query["thrad_click_id"][0]
        assert parse_qs(urlsplit(clicks[1].headers["location"]).query)["thrad_click_id"] == [click_id]

        # The advertiser's backend reports the purchase.
        conversion = {
            "click_id": click_id,
            "conversion_time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "conversion_value": 49.99,
            "currency": "USD",
        }
        r = http.post("/v1/api/conversion", json=conversion, headers={"Authorization": f"Bearer {event_key}"})
        assert r.status_code == 200, r.text
        assert r.json() == {"status": "ok"}

        # Step 6: exactly the documented fields, non-empty and consistent with what happened.
        query_string = "&".join(f"fields[]={f}" for f in STEP6_FIELDS)
        r = http.get(f"/v1/campaigns/{campaign_id}/insights?{query_string}", headers=auth)
        assert r.status_code == 200, r.text
        page = r.json()
        assert (page["object"], page["has_more"], page["count"]) == ("list", False, len(page["data"]))
        today = datetime.now(UTC).strftime("%Y-%m-%d")
        row = page["data"][-1]
        assert list(row) == [
            "id",
            "start_time",
            "end_time",
            "readable_time",
            "timezone",
            "campaign_id",
            "campaign_name",
            *STEP6_FIELDS,
        ]
        assert row["id"] == f"start={row['start_time']}:end={row['end_time']}:entity_id={campaign_id}"
        assert (row["readable_time"], row["timezone"]) == (today, "UTC")
        assert (row["campaign_id"], row["campaign_name"]) == (campaign_id, "Summer launch")
        assert row["end_time"] - row["start_time"] == 86_400
        assert {f: row[f] for f in STEP6_FIELDS} == {
            "impressions": impressions,
            "clicks": 1,
            "spend": round(impressions * 0.001, 6),  # $1.00 CPM each
            "ctr": round(1 / impressions, 6),
            "cpc": round(impressions * 0.001, 6),
            "cpm": 1.0,
        }
        assert (page["first_id"], page["last_id"]) == (page["data"][0]["id"], row["id"])

        r = http.get(
            "/v1/ad_account/insights?time_granularity=none&fields[]=viewable_impressions"
            "&fields[]=conversions&fields[]=conversion_value&fields[]=cpa&fields[]=roas",
            headers=auth,
        )
        assert r.status_code == 200, r.text
        (total,) = r.json()["data"]
        assert "readable_time" not in total
        assert total["ad_account_id"] == account["id"]
        spend = round(impressions * 0.001, 6)
        assert {
            k: total[k] for k in ("viewable_impressions", "conversions", "conversion_value", "cpa", "roas")
        } == {
            "viewable_impressions": 1,
            "conversions": 1,
            "conversion_value": 49.99,
            "cpa": spend,
            "roas": round(49.99 / spend, 6),
        }
