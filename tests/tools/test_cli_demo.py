"""The tools' CLI commands and what `make run` prints for the tool API and MCP."""

from __future__ import annotations

import json
import re
from pathlib import Path

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from tests.test_cli import api, data_dir, run, run_json, runner  # noqa: F401 - fixtures
from tests.tools.conftest import call


def test_demo_prints_a_working_tool_key_curl_and_mcp_snippet(
    runner: CliRunner,  # noqa: F811
    data_dir: Path,  # noqa: F811
    api: TestClient,  # noqa: F811
) -> None:
    out = run(runner, "demo").stdout
    key = re.search(r"tool key\s+(sk_live_\S+)", out)
    assert key is not None
    tool_key = key.group(1)
    assert "/api/v1/tools/upload_tiktok_images/execute" in out
    assert '{"arguments": {"image_urls": ["https://cdn.example.com/a.jpg"]}}' in out
    snippet = out[out.index('{\n    "mcpServers"') - 2 :]
    config = json.loads("\n".join(line[2:] for line in snippet.splitlines() if line.startswith("  ")))
    assert config["mcpServers"]["threadline"]["headers"] == {"Authorization": f"Bearer {tool_key}"}
    assert config["mcpServers"]["threadline"]["url"].endswith("/mcp")
    # Printed again, the same key (it still works); and it works against the API.
    assert tool_key in run(runner, "demo").stdout
    h = {"Authorization": f"Bearer {tool_key}"}
    r = call(api, "upload_tiktok_images", {"image_urls": ["https://cdn.example.com/a.jpg"]}, h)
    assert r.status_code == 400
    assert r.json()["error"].startswith("No tiktok_ads account is connected.")
    r = call(api, "get_thrad_campaign_performance", {"by_campaign": True}, h)
    assert r.status_code == 200
    assert r.json()["data"]["structured"]["campaigns"][0]["campaign_name"]


def test_tool_cli_commands(runner: CliRunner, api: TestClient) -> None:  # noqa: F811
    org = run_json(runner, "orgs", "create", "Acme Inc.")
    key = run_json(runner, "tool-keys", "create", org["id"], "--label", "cli")
    assert key["api_key"].startswith("sk_live_")
    listed = run(runner, "tool-keys", "list", org["id"]).stdout
    assert f"{key['id']}\tcli" in listed
    plan = run_json(runner, "tool-plan", org["id"], "pro")
    assert (plan["tier"], plan["limit"]) == ("pro", 600)
    assert run(runner, "tool-plan", org["id"], "gold", ok=False).exit_code == 1
    conn = run_json(
        runner,
        "connections",
        "add-tiktok",
        org["id"],
        "--advertiser-id",
        "7123",
        "--name",
        "Acme US",
        "--access-token",
        "secret",
    )
    assert conn == {
        "platform": "tiktok_ads",
        "account_id": "7123",
        "name": "Acme US",
        "active": True,
        "selector": "advertiser_id",
    }
    h = {"Authorization": f"Bearer {key['api_key']}"}
    assert call(api, "list_thrad_campaigns", {}, h).status_code == 200
    calls = run_json(runner, "tool-calls", org["id"])
    assert [c["tool"] for c in calls["data"]] == ["list_thrad_campaigns"]
    run(runner, "tool-keys", "revoke", org["id"], key["id"])
    api.app.state.ctx.keys.clear()  # type: ignore[attr-defined]  # another process: its cache lives 1 s
    assert call(api, "list_thrad_campaigns", {}, h).status_code == 401
