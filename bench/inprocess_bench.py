"""Per-request CPU of our own stack, in process (no HTTP server, no load generator).

The ASGI app is called directly, 32 requests in flight at a time, so the figure is the CPU our middleware,
routing, authentication, rate limiting and handler cost per request (`time.process_time`, so the events
writer thread's commit counts too). Figures:

1. cpu_per_request: µs for GET /bench/bare-json, GET /v1/ad_account, POST /bench/bare-204 and
   POST /v1/api/collect, and the two ratios (bare / route, i.e. the throughput ratio a CPU-bound
   server would show).
2. routing_surfaces (with --surfaces): the same GET /v1/ad_account and POST /v1/api/collect with the
   three extra surfaces that exist today plus four synthetic ones (Graph, tools, MCP, dashboard shapes,
   12 routes each) mounted: the routing cost must not grow with the number of surfaces.
3. --profile: the top functions by cumulative time for one route (cProfile).

Runs against whatever `threadline` is importable, so the same script measures main and a branch
(`PYTHONPATH=/path/to/main/src python -m bench.inprocess_bench`).

Usage: python -m bench.inprocess_bench [--store sqlite|postgres] [--requests 4000] [--surfaces] [--profile ROUTE]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import os
import pstats
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI
from tests.factories import seed_org

from bench.common import fresh_store, machine, report
from threadline.app import create_app
from threadline.auth.keys import mint_key
from threadline.config import Settings

Call = Callable[[], Awaitable[int]]


def _caller(app: FastAPI, method: str, path: str, headers: dict[str, str], body: bytes = b"") -> Call:
    raw_headers = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    if body:
        raw_headers.append((b"content-length", str(len(body)).encode()))

    async def call() -> int:
        scope: dict[str, Any] = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": list(raw_headers),
            "client": ("127.0.0.1", 40000),
            "server": ("127.0.0.1", 8000),
        }
        status = 0

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]

        await app(scope, receive, send)
        return status

    return call


CONCURRENCY = 32  # requests in flight at once, as wrk's connections are: events share commits


async def _measure(call: Call, n: int, expect: int) -> float:
    for _ in range(200):  # warm caches (key cache, ad_account cache, route tables)
        assert await call() == expect
    start = time.process_time()
    for _ in range(n // CONCURRENCY):
        statuses = await asyncio.gather(*(call() for _ in range(CONCURRENCY)))
        assert all(s == expect for s in statuses), statuses
    return (time.process_time() - start) / (n // CONCURRENCY * CONCURRENCY) * 1e6


# Shaped like the real Graph/tools/MCP/dashboard surfaces but under prefixes no real surface
# uses: the real ones (/v1.0/, /app/, ...) are mounted now, and a second surface on the same
# prefix is refused by the surface table.
_SYNTHETIC = {
    "graph": "/bench-graph/v1.0/",
    "tools": "/bench-tools/api/v1/tools/",
    "mcp": "/bench-mcp/",
    "dashboard": "/bench-app/",
}


def _add_synthetic_surfaces(app: FastAPI) -> int:
    """Four more surfaces shaped like the coming ones, mounted the way the running code mounts routes."""
    names = _SYNTHETIC
    routers = []
    for name, prefix in names.items():
        router = APIRouter()
        for i in range(12):

            async def endpoint() -> dict[str, Any]:
                return {}

            router.add_api_route(f"{prefix}thing{i}/{{item_id}}", endpoint, methods=["GET", "POST"])
        routers.append((name, prefix, router))
    try:
        from threadline.kit.errors import render_openai
        from threadline.kit.surface import Surface
        from threadline.routing import install_dispatcher, mount
    except ImportError:  # before surfaces existed: routers are included one after another
        for _, _, router in routers:
            app.include_router(router)
        return len(names)
    table = app.state.surfaces
    for name, prefix, router in routers:
        table.add(Surface(name, (prefix,), render_openai))
        mount(app, router)
    install_dispatcher(app, table)
    return len(names)


def _routing_cost(app: FastAPI) -> dict[str, float]:
    """ns per lookup + match for three paths, with 3, 7 and 11 surfaces declared (same routes)."""
    from starlette.routing import Match

    from threadline.kit.errors import render_openai
    from threadline.kit.surface import Surface, SurfaceTable
    from threadline.routing import route_tables
    from threadline.surfaces import ADVERTISER, EVENTS, OPERATOR, PUBLIC, SERVING, SERVING_LEGACY, TRACKING

    extra_routes = []
    synthetic = []
    for name, prefix in _SYNTHETIC.items():
        router = APIRouter()
        for i in range(12):

            async def endpoint() -> dict[str, Any]:
                return {}

            router.add_api_route(f"{prefix}thing{i}/{{item_id}}", endpoint, methods=["GET", "POST"])
        extra_routes.extend(router.routes)
        synthetic.append(Surface(name, (prefix,), render_openai))
    routes = [*app.router.routes, *extra_routes]
    configs = {
        3: [ADVERTISER, EVENTS, SERVING],
        7: [ADVERTISER, EVENTS, SERVING, SERVING_LEGACY, TRACKING, OPERATOR, synthetic[0]],
        11: [ADVERTISER, EVENTS, SERVING, SERVING_LEGACY, TRACKING, OPERATOR, *synthetic],
    }
    probes = [("GET", "/v1/ad_account"), ("POST", "/v1/api/collect"), ("POST", "/api/v1/ssp/bid-request")]
    out: dict[str, float] = {}
    for n, surfaces in configs.items():
        table = SurfaceTable(PUBLIC, surfaces)
        tables = route_tables(routes, table)
        scopes = [{"type": "http", "method": m, "path": p, "root_path": ""} for m, p in probes]

        def route(scope: dict[str, Any], table: SurfaceTable = table, tables: Any = tables) -> None:
            for r in tables[table.lookup(scope["path"])]:
                if r.matches(scope)[0] is Match.FULL:
                    return
            raise AssertionError(scope["path"])

        best = float("inf")
        for _ in range(5):
            start = time.perf_counter_ns()
            for _ in range(2000):
                for scope in scopes:
                    route(scope)
            best = min(best, (time.perf_counter_ns() - start) / (2000 * len(scopes)))
        out[f"surfaces_{n}_ns"] = round(best)
    out["change_3_to_7"] = round(out["surfaces_7_ns"] / out["surfaces_3_ns"] - 1, 3)
    out["change_3_to_11"] = round(out["surfaces_11_ns"] / out["surfaces_3_ns"] - 1, 3)
    return out


def _seed(url: str, data_dir: Path) -> tuple[FastAPI, dict[str, str], dict[str, str]]:
    os.environ["THREADLINE_BENCH_BARE_ENDPOINTS"] = "1"
    settings = Settings(
        data_dir=data_dir,
        database_url=url,
        admin_token="adm_bench",
        secret_key="bench-secret",
        log_requests=False,
        rate_limit_per_hour=1_000_000_000,
        events_rate_limit_per_hour=1_000_000_000,
    )
    app = create_app(settings)
    ctx = app.state.ctx
    new = seed_org(ctx, "Bench Org", "https://bench.example.com")
    with ctx.db.write() as s:
        _, event_key = mint_key(s, ctx.clock, kind="event", org_id=new.org.id, label="bench")
    return app, {"Authorization": f"Bearer {new.api_key}"}, {"Authorization": f"Bearer {event_key}"}


async def _run(args: argparse.Namespace, url: str, data_dir: Path) -> None:
    app, adv, ev = _seed(url, data_dir)
    collect_body = b'{"event_name":"page_view","event_id":"x"}'
    calls = {
        "bare_json": (_caller(app, "GET", "/bench/bare-json", {}), 200),
        "ad_account": (_caller(app, "GET", "/v1/ad_account", adv), 200),
        "bare_204": (_caller(app, "POST", "/bench/bare-204", {}), 204),
        "collect": (
            _caller(app, "POST", "/v1/api/collect", {**ev, "content-type": "application/json"}, collect_body),
            204,
        ),
    }
    async with app.router.lifespan_context(app):
        if args.profile:
            call, expect = calls[args.profile]
            await _measure(call, 200, expect)
            profiler = cProfile.Profile()
            profiler.enable()
            us = await _measure(call, args.requests, expect)
            profiler.disable()
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(25)
            print(out.getvalue())
            report("profile", route=args.profile, cpu_us=round(us, 1))
            return
        us = {name: await _measure(call, args.requests, expect) for name, (call, expect) in calls.items()}
        report(
            "cpu_per_request",
            store=args.store,
            **{f"{k}_us": round(v, 1) for k, v in us.items()},
            ad_account_ratio=round(us["bare_json"] / us["ad_account"], 3),
            collect_ratio=round(us["bare_204"] / us["collect"], 3),
        )
        if args.surfaces:
            report("routing_cost", **_routing_cost(app))
            base = {k: us[k] for k in ("ad_account", "collect")}
            added = _add_synthetic_surfaces(app)
            more = {k: await _measure(calls[k][0], args.requests, calls[k][1]) for k in base}
            again = {k: await _measure(calls[k][0], args.requests, calls[k][1]) for k in base}
            report(
                "routing_surfaces",
                store=args.store,
                surfaces_added=added,
                **{f"{k}_us_before": round(base[k], 1) for k in base},
                **{f"{k}_us_after": round(min(more[k], again[k]), 1) for k in base},
                **{f"{k}_change": round(min(more[k], again[k]) / base[k] - 1, 3) for k in base},
            )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--surfaces", action="store_true")
    parser.add_argument("--profile", choices=["bare_json", "ad_account", "bare_204", "collect"])
    args = parser.parse_args()
    print(f"# machine: {machine()}")
    with fresh_store(args.store) as url:
        data_dir = Path(tempfile.mkdtemp(prefix="threadline-bench-data-"))
        asyncio.run(_run(args, url, data_dir))


if __name__ == "__main__":
    main()
