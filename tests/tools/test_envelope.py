"""The execute envelope: every status of spec 80 with its exact body, and bad input of every kind."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.factories import QUICKSTART_CAMPAIGN
from tests.tools.conftest import ToolOrg, call
from threadline.tools.catalog import registry
from threadline.tools.envelope import NOT_AUTHENTICATED


def err(tool: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"success": False, "error": message, "is_error": True, "tool": tool, **extra}


def test_200_envelope_has_text_quota_and_structured(client: TestClient, org: ToolOrg) -> None:
    r = call(client, "get_usage_status", {}, org.headers)
    assert r.status_code == 200
    body = r.json()
    assert body["success"] is True
    assert body["tool"] == "get_usage_status"
    quota = {"used": 0, "limit": 15, "tier": "free", "period_end": body["data"]["quota"]["period_end"]}
    assert body["data"]["quota"] == quota
    assert body["data"]["structured"] == {
        **quota,
        "remaining": 15,
        "upgrade_url": "https://threadline.dev/pricing",
    }
    assert body["data"]["text"] == (
        f"0/15 tool calls used on the Free tier this month; 15 left. The counter resets on {quota['period_end']}."
    )


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer sk_live_nope"},
        {"Authorization": "Basic abc"},
        {"Authorization": "Bearer"},
    ],
)
def test_401_without_a_valid_tool_key(client: TestClient, org: ToolOrg, headers: dict[str, str]) -> None:
    r = call(client, "get_usage_status", {}, headers)
    assert r.status_code == 401
    assert r.json() == err("get_usage_status", NOT_AUTHENTICATED)


def test_401_for_an_advertiser_key(client: TestClient, org: ToolOrg) -> None:
    r = call(client, "get_usage_status", {}, {"Authorization": f"Bearer {org.api_key}"})
    assert r.status_code == 401
    assert r.json() == err("get_usage_status", NOT_AUTHENTICATED)


def test_404_unknown_tool(client: TestClient, org: ToolOrg) -> None:
    r = call(client, "delete_everything", {}, org.headers)
    assert r.status_code == 404
    assert r.json() == err("delete_everything", "Tool not found: delete_everything")


def _raw(client: TestClient, org: ToolOrg, content: bytes, tool: str = "get_usage_status") -> Any:
    h = {**org.headers, "Content-Type": "application/json"}
    return client.post(f"/api/v1/tools/{tool}/execute", content=content, headers=h)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{not json", "The request body is not valid JSON."),
        (b"", "The request body is not valid JSON."),
        (b"[1, 2]", 'The request body must be a JSON object: {"arguments": {...}}.'),
        (b'"arguments"', 'The request body must be a JSON object: {"arguments": {...}}.'),
        (b"{}", "Missing required field: arguments (an object; {} for tools without inputs)."),
        (b'{"arguments": []}', "arguments must be a JSON object ({} for tools without inputs)."),
        (b'{"arguments": null}', "arguments must be a JSON object ({} for tools without inputs)."),
        (b'{"arguments": "x"}', "arguments must be a JSON object ({} for tools without inputs)."),
        (b'{"arguments": {}, "tool": "x"}', 'Unknown field: tool. Send {"arguments": {...}}.'),
    ],
)
def test_400_bad_bodies(client: TestClient, org: ToolOrg, content: bytes, message: str) -> None:
    r = _raw(client, org, content)
    assert r.status_code == 400
    assert r.json() == err("get_usage_status", message)


@pytest.mark.parametrize(
    ("tool", "arguments", "message"),
    [
        ("get_usage_status", {"x": 1}, "Unknown argument: x."),
        ("explain_platform_error", {}, "Missing required argument: error."),
        ("explain_platform_error", {"error": 5}, "error: Input should be a valid string"),
        (
            "list_connected_accounts",
            {"platform": "myspace"},
            "platform: Input should be 'thrad', 'threads' or 'tiktok_ads'",
        ),
        ("list_thrad_campaigns", {"limit": "5"}, "limit: Input should be a valid integer"),
        ("list_thrad_campaigns", {"limit": 101}, "limit: Input should be less than or equal to 100"),
        (
            "get_thrad_campaign_performance",
            {"lookback_days": 31},
            "lookback_days: Input should be 7, 14, 30, 60 or 90",
        ),
        (
            "get_thrad_campaign_performance",
            {"start_date": "2026-01-01"},
            "start_date and end_date go together",
        ),
        (
            "upload_tiktok_images",
            {"image_urls": [f"https://cdn.example.com/{i}.jpg" for i in range(21)]},
            "image_urls: List should have at most 20 items after validation, not 21",
        ),
        (
            "upload_tiktok_images",
            {"image_urls": []},
            "image_urls: List should have at least 1 item after validation, not 0",
        ),
        (
            "upload_tiktok_images",
            {"image_urls": ["https://cdn.example.com/a.jpg", "http://cdn.example.com/b.jpg"]},
            "image_urls[1]: must be an absolute public https:// URL with a host (TikTok downloads it)",
        ),
        (
            "upload_thrad_images",
            {"image_urls": ["file:///etc/passwd"]},
            "image_urls[0]: must be an absolute http(s) URL with a host",
        ),
        (
            "upload_thrad_images",
            {"image_urls": "https://a.example/x.png"},
            "image_urls: Input should be a valid array",
        ),
        (
            "upload_thrad_images",
            {"image_urls": [f"https://cdn.example.com/{i}.png" for i in range(21)]},
            "image_urls: List should have at most 20 items after validation, not 21",
        ),
        (
            "upload_tiktok_images",
            {"image_urls": ["file:///etc/passwd"]},
            "image_urls[0]: must be an absolute public https:// URL with a host (TikTok downloads it)",
        ),
        (
            "publish_threads_post",
            {"image_url": "file:///etc/passwd"},
            "image_url: must be an absolute http(s) URL with a host",
        ),
        (
            "publish_threads_post",
            {
                "carousel": [{"image_url": "https://a.example/1.png", "video_url": "https://a.example/1.mp4"}]
                * 2
            },
            "carousel[0]: each carousel item takes exactly one of image_url or video_url",
        ),
        (
            "schedule_threads_post",
            {"text": "x"},
            "Missing required argument: publish_at.",
        ),
        (
            "cancel_threads_scheduled_post",
            {"schedule_id": ""},
            "schedule_id: String should have at least 1 character",
        ),
        (
            "delete_threads_post",
            {"post_id": 123},
            "post_id: Input should be a valid string",
        ),
    ],
)
def test_400_names_the_argument_and_the_rule(
    client: TestClient, org: ToolOrg, tool: str, arguments: dict[str, Any], message: str
) -> None:
    r = call(client, tool, arguments, org.headers)
    assert r.status_code == 400, r.text
    assert r.json() == err(tool, message)


def test_400_wrong_type_deep_in_the_nested_create(client: TestClient, org: ToolOrg) -> None:
    body = copy.deepcopy(QUICKSTART_CAMPAIGN)
    body["ad_groups"][0]["ads"][0]["creative"]["title"] = 42
    r = call(client, "create_thrad_campaign", body, org.headers)
    assert r.status_code == 400
    assert r.json() == err(
        "create_thrad_campaign", "ad_groups[0].ads[0].creative.title: Input should be a valid string"
    )
    body = copy.deepcopy(QUICKSTART_CAMPAIGN)
    body["ad_groups"][0]["bidding_config"]["max_bid_micros"] = "2"
    r = call(client, "create_thrad_campaign", body, org.headers)
    assert r.json() == err(
        "create_thrad_campaign", "ad_groups[0].bidding_config.max_bid_micros: Input should be a valid integer"
    )


def test_402_quota_exhausted_exact_body(
    client: TestClient, org: ToolOrg, admin_headers: dict[str, str]
) -> None:
    r = client.put(f"/admin/v1/orgs/{org.id}/tool_plan", json={"tier": "plus"}, headers=admin_headers)
    assert r.status_code == 200
    period_end = r.json()["period_end"]
    assert r.json() == {"org_id": org.id, "tier": "plus", "limit": 150, "used": 0, "period_end": period_end}
    from tests.factories import ctx_of
    from threadline.store.models import ToolUsage
    from threadline.tools.quota import period_of

    ctx = ctx_of(client.app)  # type: ignore[arg-type]
    with ctx.db.write() as s:
        s.add(ToolUsage(org_id=org.id, period=period_of(ctx.clock.now())[0], used=150))
    r = call(client, "list_thrad_campaigns", {}, org.headers)
    assert r.status_code == 402
    assert r.json() == {
        "success": False,
        "error": "\U0001f6a8 Monthly limit reached (150/150 tool calls on Plus tier).\n"
        "Upgrade to Pro at https://threadline.dev/pricing to keep building.",
        "is_error": True,
        "tool": "list_thrad_campaigns",
        "quota": {
            "used": 150,
            "limit": 150,
            "tier": "plus",
            "period_end": period_end,
            "upgrade_url": "https://threadline.dev/pricing",
        },
    }
    # Quota-free tools keep working.
    assert call(client, "get_usage_status", {}, org.headers).status_code == 200


def test_409_idempotency_key_reused_with_other_arguments(client: TestClient, org: ToolOrg) -> None:
    first = call(client, "list_thrad_campaigns", {"limit": 5}, org.headers, key="k-1")
    assert first.status_code == 200
    replay = call(client, "list_thrad_campaigns", {"limit": 5}, org.headers, key="k-1")
    assert replay.status_code == 200
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.content == first.content
    other = call(client, "list_thrad_campaigns", {"limit": 6}, org.headers, key="k-1")
    assert other.status_code == 409
    assert other.json() == err(
        "list_thrad_campaigns", "This Idempotency-Key was already used with different arguments."
    )


def test_400_bad_idempotency_key(client: TestClient, org: ToolOrg) -> None:
    r = call(client, "get_usage_status", {}, org.headers, key="x" * 256)
    assert r.status_code == 400
    assert r.json() == err("get_usage_status", "Idempotency-Key must be 1-255 printable ASCII characters.")


@pytest.fixture
def slow_rate(settings: Any) -> None:
    settings.tool_rate_limit_per_minute = 2


@pytest.mark.usefixtures("slow_rate")
def test_429_per_key_rate(client: TestClient, org: ToolOrg) -> None:
    assert call(client, "get_usage_status", {}, org.headers).status_code == 200
    assert call(client, "get_usage_status", {}, org.headers).status_code == 200
    r = call(client, "get_usage_status", {}, org.headers)
    assert r.status_code == 429
    retry = r.headers["Retry-After"]
    assert r.json() == err(
        "get_usage_status",
        f"Rate limit exceeded (2 tool calls per minute per key). Retry after {retry} seconds.",
    )


def test_500_is_our_bug_with_the_request_id(
    app: FastAPI, client: TestClient, org: ToolOrg, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dataclasses

    tool = registry().get("get_connections_status")
    assert tool is not None

    async def broken(call: Any, args: Any) -> Any:
        raise RuntimeError("boom")

    reg = registry()
    monkeypatch.setitem(reg._tools, tool.name, dataclasses.replace(tool, handler=broken))
    r = call(client, "get_connections_status", {}, org.headers)
    assert r.status_code == 500
    body = r.json()
    request_id = body["error"].removeprefix("Internal error: ")
    assert re.fullmatch(r"[0-9a-f]{32}", request_id), body
    assert body == err("get_connections_status", f"Internal error: {request_id}")
    assert "detail" not in r.text


def test_list_tools_and_openapi_read_the_registry(client: TestClient) -> None:
    names = [t.name for t in registry().all()]
    listed = client.get("/api/v1/tools").json()["data"]
    assert [t["name"] for t in listed] == names
    upload = next(t for t in listed if t["name"] == "upload_tiktok_images")
    assert upload["platform"] == "tiktok_ads"
    assert upload["selector"] == "advertiser_id"
    assert upload["input_schema"]["properties"]["image_urls"]["maxItems"] == 20
    paths = client.get("/openapi.json").json()["paths"]
    for name in names:
        op = paths[f"/api/v1/tools/{name}/execute"]["post"]
        assert set(op["responses"]) >= {"200", "400", "401", "402", "404", "409", "429", "500"}
    assert "/api/v1/tools/{tool_name}/execute" not in paths
