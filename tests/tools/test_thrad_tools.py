"""Thrad tools end to end through the advertiser, media and insights services."""

from __future__ import annotations

import copy
import functools
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.advertiser.test_campaign_create_billing import FailAfterCharge
from tests.e2e.support import png
from tests.factories import QUICKSTART_CAMPAIGN, ctx_of
from tests.insights.helpers import add_ad, add_ad_group, add_campaign, record
from tests.tools.conftest import ToolOrg, call, tool_org
from threadline.kit import http_fetch
from threadline.kit.clock import MovableClock
from threadline.media import service as media_service
from threadline.store.models import Campaign, Charge, SandboxPayment, Upload

IMAGE = png(16)


@pytest.fixture
def image_server() -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/img.png":
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(IMAGE)))
                self.end_headers()
                self.wfile.write(IMAGE)
            else:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _count(app: FastAPI, model: Any) -> int:
    with ctx_of(app).db.read() as s:
        return int(s.execute(select(func.count()).select_from(model)).scalar_one())


def test_upload_thrad_images_per_url(
    app: FastAPI, client: TestClient, org: ToolOrg, image_server: str
) -> None:
    urls = [f"{image_server}/img.png", f"{image_server}/missing.png", "http://127.1.2.3:9/x.png"]
    r = call(client, "upload_thrad_images", {"image_urls": urls}, org.headers)
    assert r.status_code == 200, r.text
    s = r.json()["data"]["structured"]
    assert s["uploaded"] == 1
    assert s["failed"] == 2
    [file_id] = s["file_ids"]
    assert s["results"][1] == {
        "image_url": urls[1],
        "success": False,
        "code": "image_fetch_failed",
        "error": "image_url returned HTTP 404.",
    }
    assert s["results"][2] == {
        "image_url": urls[2],
        "success": False,
        "code": "invalid_image_url",
        "error": "image_url points to an address that is not publicly routable.",
    }
    with ctx_of(app).db.read() as db:
        row = db.get(Upload, file_id)
        assert row is not None
        assert row.org_id == org.id
    assert client.get(f"/media/{file_id}").content == IMAGE


def test_upload_thrad_images_refuses_rebinding_hosts(
    client: TestClient, org: ToolOrg, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def rebinding(host: str, port: int) -> list[str]:
        return ["93.184.216.34", "10.0.0.7"] if host == "cdn.rebind.example" else ["192.168.1.1"]

    monkeypatch.setattr(media_service, "fetch", functools.partial(http_fetch.fetch, resolver=rebinding))
    urls = ["https://cdn.rebind.example/a.png", "http://intranet.example/b.png"]
    r = call(client, "upload_thrad_images", {"image_urls": urls}, org.headers)
    assert r.status_code == 400
    body = r.json()
    assert body["error"] == (
        "None of the 2 image(s) could be uploaded:\n"
        f"- {urls[0]}: image_url points to an address that is not publicly routable.\n"
        f"- {urls[1]}: image_url points to an address that is not publicly routable."
    )
    assert body["structured_content"]["file_ids"] == []


def test_validate_draft_charges_nothing_and_is_free(app: FastAPI, client: TestClient, org: ToolOrg) -> None:
    r = call(client, "validate_thrad_campaign_draft", QUICKSTART_CAMPAIGN, org.headers)
    assert r.status_code == 200, r.text
    s = r.json()["data"]["structured"]
    assert s["valid"] is True
    assert (s["ad_groups"], s["ads"], s["ad_account_id"]) == (1, 1, org.ad_account_id)
    assert r.json()["data"]["quota"]["used"] == 0
    assert _count(app, Charge) == 0
    assert _count(app, Campaign) == 0
    bad = copy.deepcopy(QUICKSTART_CAMPAIGN)
    bad["ad_groups"][0]["ads"][0]["creative"]["file_id"] = "uploads/2026/01/" + "0" * 32 + ".png"
    r = call(client, "validate_thrad_campaign_draft", bad, org.headers)
    assert r.status_code == 400
    assert r.json()["error"] == (
        "ad_groups[0].ads[0].creative.file_id: No such file: upload the image with POST /v1/upload first."
    )


def test_validate_draft_checks_billing(app: FastAPI, client: TestClient) -> None:
    cardless = tool_org(app, "No card", card=None)
    r = call(client, "validate_thrad_campaign_draft", QUICKSTART_CAMPAIGN, cardless.headers)
    assert r.status_code == 400
    assert r.json()["error"] == (
        "This organization has no default payment method. Add a card before creating a campaign."
    )


def test_create_retried_with_the_same_key_never_charges_twice(
    app: FastAPI, client: TestClient, org: ToolOrg
) -> None:
    ctx = ctx_of(app)
    flaky = FailAfterCharge(ctx.payments)
    ctx.payments = flaky
    first = call(client, "create_thrad_campaign", QUICKSTART_CAMPAIGN, org.headers, key="launch-1")
    assert first.status_code == 429  # the provider dropped the line after charging: retry
    assert first.headers["Retry-After"] == "1"
    second = call(client, "create_thrad_campaign", QUICKSTART_CAMPAIGN, org.headers, key="launch-1")
    assert second.status_code == 200, second.text
    campaign_id = second.json()["data"]["structured"]["campaign_id"]
    third = call(client, "create_thrad_campaign", QUICKSTART_CAMPAIGN, org.headers, key="launch-1")
    assert third.content == second.content
    assert third.headers["Idempotent-Replayed"] == "true"
    assert _count(app, SandboxPayment) == 1
    assert _count(app, Campaign) == 1
    with ctx.db.read() as s:
        [charge] = s.execute(select(Charge)).scalars().all()
    assert (charge.status, charge.campaign_id) == ("succeeded", campaign_id)
    assert flaky.calls == 2
    assert second.json()["data"]["quota"]["used"] == 1  # the failed first try gave its call back


def test_campaign_lifecycle_tools(
    app: FastAPI, client: TestClient, org: ToolOrg, admin_headers: dict[str, str]
) -> None:
    created = call(client, "create_thrad_campaign", QUICKSTART_CAMPAIGN, org.headers).json()["data"][
        "structured"
    ]
    cid = created["campaign_id"]
    listed = call(client, "list_thrad_campaigns", {}, org.headers).json()["data"]
    assert [c["id"] for c in listed["structured"]["campaigns"]] == [cid]
    assert cid in listed["text"]
    details = call(client, "get_thrad_campaign_details", {"campaign_id": cid}, org.headers).json()["data"]
    [group] = details["structured"]["campaign"]["ad_groups"]
    assert len(group["ads"]) == 1
    assert group["id"] in details["text"]
    r = call(client, "update_thrad_campaign", {"campaign_id": cid, "name": "Renamed"}, org.headers)
    assert r.json()["data"]["structured"]["campaign"]["name"] == "Renamed"
    assert r.json()["data"]["structured"]["updated_fields"] == ["name"]
    r = call(client, "pause_thrad_campaign", {"campaign_id": cid}, org.headers)
    assert r.status_code == 400
    assert r.json()["error"] == "This campaign is not running; there is nothing to pause."
    assert client.post(f"/admin/v1/campaigns/{cid}/approve", headers=admin_headers).status_code == 200
    r = call(client, "resume_thrad_campaign", {"campaign_id": cid}, org.headers)
    assert r.json()["data"]["structured"]["campaign"]["status"] == "active"
    r = call(client, "pause_thrad_campaign", {"campaign_id": cid}, org.headers)
    assert r.json()["data"]["structured"]["campaign"]["status"] == "paused"
    ad = {
        "ad_group_id": group["id"],
        "name": "Second card",
        "creative": {
            "type": "chat_card",
            "title": "Trail shoes",
            "body": "Grip.",
            "target_url": "https://example.com/t",
        },
    }
    r = call(client, "add_thrad_ad", ad, org.headers)
    assert r.status_code == 200, r.text
    assert r.json()["data"]["structured"]["ad"]["name"] == "Second card"
    other = tool_org(app, "Other")
    r = call(client, "get_thrad_campaign_details", {"campaign_id": cid}, other.headers)
    assert r.status_code == 400
    assert r.json()["error"] == "No such campaign."


def test_performance_from_rollups(
    app: FastAPI, client: TestClient, org: ToolOrg, clock: MovableClock
) -> None:
    from tests.factories import TestOrg

    now = 1775088000 + 12 * 3600  # 2026-04-02T12:00Z
    clock.set(now)
    owner = TestOrg(org.id, org.api_key, org.ad_account_id)
    cid = add_campaign(app, owner)
    gid = add_ad_group(app, owner, cid)
    ads = [add_ad(app, owner, cid, gid, f"ad {i}") for i in range(3)]
    for day in range(40):
        for ad in ads:
            record(app, ad, now - day * 86400, impressions=10, clicks=1, spend_micros=500_000)
    r = call(client, "get_thrad_campaign_performance", {"campaign_id": cid, "lookback_days": 7}, org.headers)
    assert r.status_code == 200, r.text
    s = r.json()["data"]["structured"]
    assert (s["since"], s["until"]) == ("2026-03-27", "2026-04-02")
    assert s["metrics"]["impressions"] == 7 * 3 * 10
    assert s["metrics"]["clicks"] == 21
    assert s["metrics"]["spend"] == 10.5
    assert s["metrics"]["ctr"] == 0.1
    assert len(s["daily"]) == 7
    assert s["daily"][-1] == {"date": "2026-04-02", **{k: s["daily"][-1][k] for k in s["metrics"]}}
    window = {"start_date": "2026-03-01", "end_date": "2026-03-10"}
    r = call(client, "get_thrad_campaign_performance", window, org.headers)
    assert "campaigns" not in r.json()["data"]["structured"]
    r = call(client, "get_thrad_campaign_performance", {**window, "by_campaign": True}, org.headers)
    s = r.json()["data"]["structured"]
    assert s["metrics"]["impressions"] == 10 * 3 * 10
    assert [c["campaign_id"] for c in s["campaigns"]] == [cid]
    r = call(client, "get_thrad_campaign_performance", {"raw_data": True}, org.headers)
    import json

    assert json.loads(r.json()["data"]["text"]) == r.json()["data"]["structured"]["metrics"]
    assert r.json()["data"]["structured"]["metrics"]["impressions"] == 30 * 3 * 10


def test_performance_total_and_series_from_one_aggregate(
    app: FastAPI, client: TestClient, org: ToolOrg, clock: MovableClock
) -> None:
    from tests.factories import TestOrg

    now = 1775088000 + 12 * 3600  # 2026-04-02T12:00Z
    clock.set(now)
    owner = TestOrg(org.id, org.api_key, org.ad_account_id)
    cid = add_campaign(app, owner)
    ad = add_ad(app, owner, cid, add_ad_group(app, owner, cid), "ad")
    for day in (0, 200, 365):  # the longest window insights allows (366 days), every day in one page
        record(app, ad, now - day * 86400, impressions=10, clicks=2, spend_micros=1_000_000)
    window = {"campaign_id": cid, "start_date": "2025-04-02", "end_date": "2026-04-02"}
    r = call(client, "get_thrad_campaign_performance", window, org.headers)
    assert r.status_code == 200, r.text
    s = r.json()["data"]["structured"]
    assert s["metrics"]["impressions"] == 30
    assert s["metrics"]["ctr"] == 0.2
    assert s["metrics"]["cpc"] == 0.5
    assert [d["date"] for d in s["daily"]] == ["2025-04-02", "2025-09-14", "2026-04-02"]
    # Nothing in the window: zeros, not an error.
    idle = {**window, "start_date": "2025-05-01", "end_date": "2025-05-31"}
    s = call(client, "get_thrad_campaign_performance", idle, org.headers).json()["data"]["structured"]
    assert s["metrics"]["impressions"] == 0
    assert s["metrics"]["ctr"] == 0.0
    assert s["daily"] == []
