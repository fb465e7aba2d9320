"""Tool API and MCP benchmarks against the real server process.

    .venv/bin/python -m bench.tools_bench [--store sqlite|postgres] [--seconds 5] [--ads 1000] [--runs 30]

Figures (one JSON line each):
1. get_usage_status over REST: throughput as a ratio to the bare POST endpoint on the same server
   (target >= 0.6), and its p99 (wrk, 32 connections).
2. get_thrad_campaign_performance over 30 days of hourly rollups for 1,000 ads (720k rows, the insights
   benchmark's loader): p50 over REST and over MCP (sequential calls, one connection), for the whole
   account (default arguments) and for one campaign (100 of the ads).
3. MCP tools/list and one tools/call (get_usage_status) round trip p50 over HTTP with the SDK client.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import anyio
import httpx
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from bench.common import fresh_store, machine, percentiles, report, start_server, wrk
from bench.insights_bench import END, HOUR, _entities, _load
from threadline.app import create_app
from threadline.config import Settings
from threadline.kit.clock import MovableClock
from threadline.operator import orgs
from threadline.tools import keys
from threadline.tools.schemas import ToolKeyCreate

POST_LUA = """
wrk.method = "POST"
wrk.body = '{"arguments": {}}'
wrk.headers["Content-Type"] = "application/json"
"""


def _seed(url: str, data_dir: Path, n_ads: int, hours: int) -> tuple[str, str]:
    clock = MovableClock(start=END - hours * HOUR - 86400, frozen=True)
    app = create_app(
        Settings(data_dir=data_dir, database_url=url, secret_key="bench-secret", log_requests=False),
        clock=clock,
    )
    ctx = app.state.ctx
    with ctx.db.write() as s:
        new = orgs.create_org(s, clock, name="Bench Inc.")
    ads = _entities(ctx, new.org.id, new.ad_account.id, n_ads, clock.now_s())
    _load(ctx.db.engine, new.org.id, ads, hours)
    key = keys.create_tool_key(ctx, new.org.id, ToolKeyCreate(label="bench")).api_key
    ctx.db.dispose()
    return key, ads[0][0]


def _mcp_client(url: str, key: str) -> Client:
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}"}, timeout=60)
    return Client(streamable_http_client(url, http_client=http))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--ads", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    print(f"# machine: {machine()} (shared with other work while measured)")
    with fresh_store(args.store) as url:
        data_dir = Path(tempfile.mkdtemp(prefix="threadline-bench-tools-"))
        started = time.perf_counter()
        key, campaign_id = _seed(url, data_dir, args.ads, 720)
        print(f"# seeded {args.ads} ads x 720 h of rollups in {time.perf_counter() - started:.0f}s")
        server = start_server(
            url,
            data_dir,
            THREADLINE_SECRET_KEY="bench-secret",
            THREADLINE_RATE_LIMITS_ENABLED="false",
            THREADLINE_TOOL_QUOTA_FREE="1000000000",
        )
        try:
            base = server.base_url
            auth = {"Authorization": f"Bearer {key}"}
            wrk(f"{base}/bench/bare-json", seconds=2, lua=POST_LUA)  # warm up
            bare = wrk(f"{base}/bench/bare-json", seconds=args.seconds, lua=POST_LUA)
            usage = wrk(
                f"{base}/api/v1/tools/get_usage_status/execute",
                seconds=args.seconds,
                headers=auth,
                lua=POST_LUA,
            )
            report(
                "tools_get_usage_status_vs_bare",
                store=args.store,
                bare_rps=round(bare["rps"]),
                usage_rps=round(usage["rps"]),
                ratio=round(usage["rps"] / bare["rps"], 3),
                target_ratio=0.6,
                usage_p99_ms=round(usage["p99_ms"], 2),
                non_2xx=usage["non_2xx"],
            )
            since = time.strftime("%Y-%m-%d", time.gmtime(END - 30 * 86400))
            until = time.strftime("%Y-%m-%d", time.gmtime(END - 86400))
            window = {"start_date": since, "end_date": until}
            for scope, perf_args in (
                ("account", window),
                ("one_campaign", {**window, "campaign_id": campaign_id}),
            ):
                rest_ms = []
                with httpx.Client(base_url=base, headers=auth, timeout=60) as http:
                    for _ in range(args.runs + 2):
                        t0 = time.perf_counter()
                        r = http.post(
                            "/api/v1/tools/get_thrad_campaign_performance/execute",
                            json={"arguments": perf_args},
                        )
                        rest_ms.append((time.perf_counter() - t0) * 1000)
                        assert r.status_code == 200, r.text
                    impressions = r.json()["data"]["structured"]["metrics"]["impressions"]
                mcp = anyio.run(_mcp_figures, f"{base}/mcp", key, perf_args, args.runs)
                report(
                    f"tools_campaign_performance_30d_1000_ads_{scope}",
                    store=args.store,
                    impressions=impressions,
                    rest_p50_ms=round(percentiles(rest_ms[2:])["p50_ms"], 1),
                    mcp_p50_ms=round(mcp["perf"], 1),
                    runs=args.runs,
                )
            report(
                "mcp_http_round_trips",
                store=args.store,
                tools_list_p50_ms=round(mcp["list"], 2),
                tools_call_get_usage_status_p50_ms=round(mcp["call"], 2),
                runs=args.runs,
            )
        finally:
            server.stop()


async def _mcp_figures(url: str, key: str, perf_args: dict[str, str], runs: int) -> dict[str, float]:
    out: dict[str, list[float]] = {"list": [], "call": [], "perf": []}
    async with _mcp_client(url, key) as mcp:
        await mcp.list_tools()
        for _ in range(runs):
            t0 = time.perf_counter()
            await mcp.list_tools()
            out["list"].append((time.perf_counter() - t0) * 1000)
            t0 = time.perf_counter()
            result = await mcp.call_tool("get_usage_status", {})
            out["call"].append((time.perf_counter() - t0) * 1000)
            assert not result.is_error
        for _ in range(runs):
            t0 = time.perf_counter()
            result = await mcp.call_tool("get_thrad_campaign_performance", perf_args)
            out["perf"].append((time.perf_counter() - t0) * 1000)
            assert not result.is_error, result.content
    return {k: percentiles(v)["p50_ms"] for k, v in out.items()}


if __name__ == "__main__":
    main()
