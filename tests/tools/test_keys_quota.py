"""Tool keys, tiers and quotas: one transaction for check + count + record; REST and MCP share it."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import anyio
from fastapi import FastAPI
from fastapi.testclient import TestClient
from mcp import Client

from tests.factories import ctx_of
from tests.tools.conftest import ToolOrg, call, tool_org
from threadline.kit.clock import MovableClock
from threadline.store.models import ApiKey, ToolUsage
from threadline.tools import keys, quota
from threadline.tools.auth import ToolPrincipal
from threadline.tools.mcp_server import ThreadlineMCP
from threadline.tools.quota import period_of


def _used(app: FastAPI, org: ToolOrg) -> int:
    ctx = ctx_of(app)
    with ctx.db.read() as s:
        row = s.get(ToolUsage, (org.id, period_of(ctx.clock.now())[0]))
        return row.used if row else 0


def _set_used(app: FastAPI, org: ToolOrg, used: int) -> None:
    ctx = ctx_of(app)
    with ctx.db.write() as s:
        period = period_of(ctx.clock.now())[0]
        row = s.get(ToolUsage, (org.id, period))
        if row is None:
            s.add(ToolUsage(org_id=org.id, period=period, used=used))
        else:
            row.used = used


def test_operator_mints_labels_and_revokes_tool_keys(
    app: FastAPI, client: TestClient, org: ToolOrg, admin_headers: dict[str, str]
) -> None:
    r = client.post(f"/admin/v1/orgs/{org.id}/tool_keys", json={"label": "n8n"}, headers=admin_headers)
    assert r.status_code == 201
    created = r.json()
    assert set(created) == {"id", "label", "api_key", "created_at"}
    assert created["label"] == "n8n"
    assert created["api_key"].startswith("sk_live_")
    with ctx_of(app).db.read() as s:
        row = s.get(ApiKey, created["id"])
        assert row is not None
        assert row.kind == "tool"
        assert created["api_key"] not in (row.key_hash, row.label)  # only the hash is stored
    h = {"Authorization": f"Bearer {created['api_key']}"}
    assert call(client, "get_usage_status", {}, h).status_code == 200
    r = client.delete(f"/admin/v1/orgs/{org.id}/tool_keys/{created['id']}", headers=admin_headers)
    assert r.status_code == 204
    assert call(client, "get_usage_status", {}, h).status_code == 401
    assert (
        client.delete(f"/admin/v1/orgs/{org.id}/tool_keys/{created['id']}", headers=admin_headers).status_code
        == 404
    )
    # The other key of the org still works.
    assert call(client, "get_usage_status", {}, org.headers).status_code == 200


def test_tool_keys_of_another_org_are_not_found(
    app: FastAPI, client: TestClient, admin_headers: dict[str, str]
) -> None:
    a, b = tool_org(app, "A"), tool_org(app, "B")
    r = client.delete(f"/admin/v1/orgs/{b.id}/tool_keys/{a.tool_key_id}", headers=admin_headers)
    assert r.status_code == 404
    assert call(client, "get_usage_status", {}, a.headers).status_code == 200


def test_only_successful_billable_calls_consume(app: FastAPI, client: TestClient, org: ToolOrg) -> None:
    for tool in ("get_usage_status", "list_connected_accounts", "get_connections_status"):
        assert call(client, tool, {}, org.headers).status_code == 200
    assert call(client, "explain_platform_error", {"error": "card_declined"}, org.headers).status_code == 200
    assert _used(app, org) == 0
    r = call(client, "list_thrad_campaigns", {}, org.headers)
    assert r.json()["data"]["quota"]["used"] == 1
    # A tool error (unknown campaign) gives its call back; so does a validation error (never reserved).
    assert call(client, "get_thrad_campaign_details", {"campaign_id": "nope"}, org.headers).status_code == 400
    assert call(client, "list_thrad_campaigns", {"limit": 0}, org.headers).status_code == 400
    assert _used(app, org) == 1


def test_twenty_concurrent_calls_with_one_left_give_exactly_one_200(
    app: FastAPI, client: TestClient, org: ToolOrg
) -> None:
    _set_used(app, org, 14)  # free tier: 15
    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = list(
            pool.map(lambda _: call(client, "list_thrad_campaigns", {}, org.headers).status_code, range(20))
        )
    assert sorted(statuses) == [200] + [402] * 19
    assert _used(app, org) == 15


def test_a_replay_takes_no_quota(app: FastAPI, client: TestClient, org: ToolOrg) -> None:
    first = call(client, "list_thrad_campaigns", {}, org.headers, key="once")
    for _ in range(3):
        again = call(client, "list_thrad_campaigns", {}, org.headers, key="once")
        assert again.content == first.content
    assert _used(app, org) == 1


def test_period_rolls_over_on_the_first(
    app: FastAPI, client: TestClient, org: ToolOrg, clock: MovableClock
) -> None:
    clock.set(datetime(2026, 12, 31, 23, 59, tzinfo=UTC).timestamp())
    _set_used(app, org, 15)
    r = call(client, "list_thrad_campaigns", {}, org.headers)
    assert r.status_code == 402
    assert r.json()["quota"]["period_end"] == "2027-01-01"
    clock.set(datetime(2027, 1, 1, 0, 0, 1, tzinfo=UTC).timestamp())
    r = call(client, "list_thrad_campaigns", {}, org.headers)
    assert r.status_code == 200
    assert r.json()["data"]["quota"] == {"used": 1, "limit": 15, "tier": "free", "period_end": "2027-02-01"}


def test_rest_and_mcp_share_one_counter(app: FastAPI, client: TestClient, org: ToolOrg) -> None:
    assert call(client, "list_thrad_campaigns", {}, org.headers).status_code == 200
    server = ThreadlineMCP(ctx_of(app), ToolPrincipal(org.id, org.tool_key_id, "agent"))

    async def over_mcp() -> Any:
        async with Client(server) as mcp:
            return await mcp.call_tool("list_thrad_campaigns", {})

    result = anyio.run(over_mcp)
    assert result.is_error is False
    assert result.meta["threadline/quota"]["used"] == 2
    r = call(client, "get_usage_status", {}, org.headers)
    assert r.json()["data"]["quota"]["used"] == 2


def test_tool_call_log(app: FastAPI, client: TestClient, org: ToolOrg, admin_headers: dict[str, str]) -> None:
    call(client, "list_thrad_campaigns", {}, org.headers)
    call(client, "get_thrad_campaign_details", {"campaign_id": "nope"}, org.headers)
    call(client, "get_usage_status", {}, org.headers)  # read-only and free: not logged
    r = client.get(f"/admin/v1/orgs/{org.id}/tool_calls", headers=admin_headers)
    assert r.status_code == 200
    rows = r.json()["data"]
    assert [(c["tool"], c["status"], c["outcome"], c["quota_used"], c["transport"]) for c in rows] == [
        ("get_thrad_campaign_details", 400, "error", False, "rest"),
        ("list_thrad_campaigns", 200, "ok", True, "rest"),
    ]
    assert rows[0]["error"] == "No such campaign."
    assert all(c["key_id"] == org.tool_key_id for c in rows)
    other = tool_org(app, "Other")
    assert client.get(f"/admin/v1/orgs/{other.id}/tool_calls", headers=admin_headers).json()["data"] == []
    assert client.get("/admin/v1/orgs/not-an-org/tool_calls", headers=admin_headers).status_code == 404


def test_usage_status_after_concurrent_calls_counts_every_one(
    app: FastAPI, client: TestClient, org: ToolOrg
) -> None:
    assert call(client, "get_usage_status", {}, org.headers).json()["data"]["structured"]["used"] == 0
    with ThreadPoolExecutor(max_workers=10) as pool:
        statuses = list(
            pool.map(lambda _: call(client, "list_thrad_campaigns", {}, org.headers).status_code, range(10))
        )
    assert statuses == [200] * 10
    # This process's own reservations update the quota copy at once, whatever order they finished in.
    assert call(client, "get_usage_status", {}, org.headers).json()["data"]["structured"]["used"] == 10


def test_usage_status_sees_another_process_within_the_copy_lifetime(
    app: FastAPI, client: TestClient, org: ToolOrg, clock: MovableClock
) -> None:
    assert call(client, "get_usage_status", {}, org.headers).json()["data"]["quota"]["used"] == 0
    _set_used(app, org, 7)  # as another server process counting calls would
    clock.advance(quota.CACHE_SECONDS)
    assert call(client, "get_usage_status", {}, org.headers).json()["data"]["quota"]["used"] == 7


def test_a_new_tier_applies_at_once(app: FastAPI, client: TestClient, org: ToolOrg) -> None:
    assert call(client, "get_usage_status", {}, org.headers).json()["data"]["quota"]["limit"] == 15
    keys.set_plan(ctx_of(app), org.id, "pro")
    q = call(client, "get_usage_status", {}, org.headers).json()["data"]["quota"]
    assert (q["tier"], q["limit"]) == ("pro", 600)


def test_a_refunded_call_is_not_counted(client: TestClient, org: ToolOrg) -> None:
    assert call(client, "get_thrad_campaign_details", {"campaign_id": "nope"}, org.headers).status_code == 400
    assert call(client, "get_usage_status", {}, org.headers).json()["data"]["quota"]["used"] == 0
