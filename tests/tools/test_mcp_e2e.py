"""MCP with the SDK's own client against a real server process: over streamable HTTP and over stdio."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from tests.conftest import PG_URL
from tests.databases import throwaway_pg_database
from tests.e2e.server import ServerProcess
from tests.e2e.support import admin_headers, create_advertiser, server_env
from tests.factories import QUICKSTART_CAMPAIGN
from threadline.store.migrate import upgrade

pytestmark = pytest.mark.e2e


# One server process per store for the module (starting one costs seconds); each test has its own
# org and tool key, so quota counters and listings are the test's own.
@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('mcp') / 'mcp.db'}"
        return
    assert PG_URL
    with throwaway_pg_database(PG_URL, "threadline_mcp") as url:
        yield url


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory, database_url: str) -> Iterator[ServerProcess]:
    upgrade(database_url)
    proc = ServerProcess(tmp_path_factory.mktemp("mcp-server") / "data", server_env(database_url))
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture
def server(running: ServerProcess) -> tuple[ServerProcess, str, str]:
    with httpx.Client(base_url=running.base_url, timeout=10) as http:
        adv = create_advertiser(http)
        r = http.post(
            f"/admin/v1/orgs/{adv.org_id}/tool_keys", json={"label": "mcp"}, headers=admin_headers()
        )
        assert r.status_code == 201, r.text
        return running, adv.org_id, r.json()["api_key"]


def _client(url: str, key: str | None) -> Client:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return Client(streamable_http_client(url, http_client=httpx2.AsyncClient(headers=headers, timeout=30)))


def test_mcp_over_http(server: tuple[ServerProcess, str, str]) -> None:
    proc, org_id, key = server
    url = f"{proc.base_url}/mcp"

    async def session() -> dict[str, Any]:
        async with _client(url, key) as mcp:
            tools = await mcp.list_tools()
            read = await mcp.call_tool("list_connected_accounts", {})
            write = await mcp.call_tool("create_thrad_campaign", QUICKSTART_CAMPAIGN)
            failing = await mcp.call_tool("get_thrad_campaign_details", {"campaign_id": "nope"})
            bad_args = await mcp.call_tool("upload_tiktok_images", {"image_urls": ["http://x.example/a.jpg"]})
            unknown = await mcp.call_tool("no_such_tool", {})
            usage = await mcp.call_tool("get_usage_status", {})
            return {
                "tools": tools.tools,
                "read": read,
                "write": write,
                "failing": failing,
                "bad_args": bad_args,
                "unknown": unknown,
                "usage": usage,
            }

    out = anyio.run(session)
    by_name = {t.name: t for t in out["tools"]}
    upload = by_name["upload_tiktok_images"]
    assert upload.input_schema["properties"]["image_urls"]["maxItems"] == 20
    assert upload.input_schema["additionalProperties"] is False
    assert by_name["get_usage_status"].annotations.read_only_hint is True
    assert by_name["pause_thrad_campaign"].annotations.destructive_hint is True
    assert by_name["switch_primary_account"].annotations.idempotent_hint is True

    read = out["read"]
    assert read.is_error is False
    assert read.content[0].text.startswith("1 connected account(s):")
    assert read.structured_content["accounts"][0]["platform"] == "thrad"

    write = out["write"]
    assert write.is_error is False
    campaign_id = write.structured_content["campaign_id"]
    assert campaign_id in write.content[0].text

    failing = out["failing"]
    assert failing.is_error is True
    assert failing.content[0].text == "No such campaign."
    assert failing.structured_content["error"] == "No such campaign."
    assert out["bad_args"].is_error is True
    assert out["bad_args"].content[0].text == (
        "image_urls[0]: must be an absolute public https:// URL with a host (TikTok downloads it)"
    )
    assert out["unknown"].content[0].text == "Tool not found: no_such_tool"
    # The write counted; the failing call and the free ones did not.
    assert out["usage"].structured_content["used"] == 1
    # Same counter as REST, and the campaign is the org's own.
    with httpx.Client(base_url=proc.base_url, timeout=10) as http:
        r = http.post(
            "/api/v1/tools/get_thrad_campaign_details/execute",
            json={"arguments": {"campaign_id": campaign_id}},
            headers={"Authorization": f"Bearer {key}"},
        )
        assert r.status_code == 200
        assert r.json()["data"]["quota"]["used"] == 2
        calls = http.get(f"/admin/v1/orgs/{org_id}/tool_calls", headers=admin_headers()).json()["data"]
        assert {c["transport"] for c in calls} == {"mcp", "rest"}


@pytest.mark.parametrize("key", [None, "sk_live_wrong"])
def test_mcp_without_a_valid_key_is_401(server: tuple[ServerProcess, str, str], key: str | None) -> None:
    proc, _, _ = server
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    r = httpx.post(
        f"{proc.base_url}/mcp",
        json=body,
        headers={**headers, "Accept": "application/json, text/event-stream"},
    )
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"] == "Bearer"
    assert r.json()["error"].startswith("Not authenticated.")

    async def attempt() -> None:
        async with _client(f"{proc.base_url}/mcp", key) as mcp:
            await mcp.list_tools()

    with pytest.raises(BaseException):  # noqa: B017 - the SDK surfaces the 401 as its own error type
        anyio.run(attempt)


def test_mcp_over_stdio(server: tuple[ServerProcess, str, str], database_url: str) -> None:
    proc, _, key = server
    params = StdioServerParameters(
        command=str(Path(sys.executable).parent / "threadline"),
        args=["mcp", "--key", key],
        env={
            **{
                k: v for k, v in os.environ.items() if k.startswith(("PATH", "PYTHON", "HOME", "VIRTUAL_ENV"))
            },
            **server_env(database_url),
            "THREADLINE_DATA_DIR": str(proc.data_dir),
        },
    )

    async def session() -> tuple[Any, Any, Any]:
        async with Client(params) as mcp:
            tools = await mcp.list_tools()
            usage = await mcp.call_tool("get_usage_status", {})
            listed = await mcp.call_tool("list_thrad_campaigns", {})
            return tools, usage, listed

    tools, usage, listed = anyio.run(session)
    assert "upload_tiktok_images" in {t.name for t in tools.tools}
    assert usage.is_error is False
    assert usage.structured_content["tier"] == "free"
    assert listed.is_error is False
    assert listed.meta["threadline/quota"]["used"] == 1


def test_mcp_threads_tools_over_http(server: tuple[ServerProcess, str, str]) -> None:
    proc, org_id, key = server
    with httpx.Client(base_url=proc.base_url, timeout=10) as http:
        r = http.post(
            f"/admin/v1/orgs/{org_id}/profiles", json={"username": "agent"}, headers=admin_headers()
        )
        assert r.status_code == 201, r.text
        profile_id = r.json()["id"]

    async def session() -> tuple[Any, Any, Any, Any]:
        async with _client(f"{proc.base_url}/mcp", key) as mcp:
            published = await mcp.call_tool("publish_threads_post", {"text": "Hello over MCP"})
            listed = await mcp.call_tool("list_threads_posts", {})
            limit = await mcp.call_tool("get_threads_publishing_limit", {"profile_id": profile_id})
            bad = await mcp.call_tool("delete_threads_post", {"post_id": "1"})
            return published, listed, limit, bad

    published, listed, limit, bad = anyio.run(session)
    assert published.is_error is False
    post_id = published.structured_content["post_id"]
    assert published.structured_content["profile_id"] == profile_id
    assert [p["id"] for p in listed.structured_content["posts"]] == [post_id]
    assert limit.structured_content["quota_usage"] == 1
    assert bad.is_error is True
    assert bad.content[0].text.startswith("Unsupported request - Object with ID '1' does not exist")
    # The post is on the profile as REST sees it, and the MCP calls took the shared quota.
    with httpx.Client(base_url=proc.base_url, timeout=10) as http:
        r = http.post(
            "/api/v1/tools/list_threads_posts/execute",
            json={"arguments": {}},
            headers={"Authorization": f"Bearer {key}"},
        )
        assert r.json()["data"]["structured"]["posts"][0]["text"] == "Hello over MCP"
        assert r.json()["data"]["quota"]["used"] == 4
