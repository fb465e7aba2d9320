"""One worker against two on the same store, interleaved: for a machine whose speed drifts within minutes.

Run alone:
    .venv/bin/python -m bench.serving_workers_ab [--rounds 3] [--store postgres] [--redis-url URL] [--tree DIR]

One seeded store (1,000 campaigns x 10 ads, the hints of serving_bench; budgets far above what a run
spends) serves every run. Per round: a 1-worker server, then a 2-worker server (`uvicorn --workers N`,
what `threadline serve --workers N` runs), each warmed up for 3 s and then driven by wrk with the Lua
script of serving_wrk_bench at 64, 128 and 256 connections; a server's maximum is its best of the three.
The ratio is taken within each round, so a drift of the machine between rounds falls on both alike; the
median of the rounds' ratios is the figure. Each maximum also says how the CPU was split.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import tempfile
from pathlib import Path
from typing import Any

from tests.e2e.server import ServerProcess

from bench.common import fresh_store, machine, report
from bench.serving_bench import seed
from bench.serving_wrk_bench import bench_env, bid_bodies, bid_headers, lua_script, run_wrk
from threadline.config import Settings

BID = "/api/v1/ssp/bid-request"
CONNECTIONS = (64, 128, 256)


def maximum(env: dict[str, str], data_dir: Path, script: str, workers: int, seconds: float) -> dict[str, Any]:
    server = ServerProcess(data_dir, env, workers=workers)
    server.start()
    try:
        assert server.proc is not None
        url = server.base_url + BID
        run_wrk(url, script, connections=16, seconds=3)  # warm-up: the index, the pools, the caches
        runs = [
            run_wrk(url, script, connections=c, seconds=seconds, server_pid=server.proc.pid)
            for c in CONNECTIONS
        ]
    finally:
        server.stop()
    return max(runs, key=lambda r: float(r["rps"]))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--store", choices=["sqlite", "postgres"], default="postgres")
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--redis-url", default=os.environ.get("THREADLINE_BENCH_REDIS_URL", ""))
    ap.add_argument(
        "--tree", type=Path, help="serve another checkout of this repository (PYTHONPATH=<tree>/src)"
    )
    args = ap.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is required: apt-get install -y wrk")
    print(f"machine: {machine()}; load average before: {os.getloadavg()}", flush=True)
    rng = random.Random(42)
    data_dir = Path(tempfile.mkdtemp(prefix="tl-workers-"))
    env = bench_env(data_dir)
    ratios: list[float] = []
    try:
        with fresh_store(args.store) as url:
            os.environ.update({**env, "THREADLINE_DATABASE_URL": url})
            key = seed(Settings(), 1000, 10, rng)
            script = lua_script(BID, bid_headers(key), bid_bodies(rng))
            server_env = {**env, "THREADLINE_DATABASE_URL": url}
            if args.redis_url:
                server_env["THREADLINE_REDIS_URL"] = args.redis_url
            if args.tree:
                server_env["PYTHONPATH"] = str(args.tree.resolve() / "src")
            for r in range(1, args.rounds + 1):
                one = maximum(server_env, data_dir, script, 1, args.seconds)
                two = maximum(server_env, data_dir, script, 2, args.seconds)
                ratios.append(float(two["rps"]) / float(one["rps"]))
                for workers, top in ((1, one), (2, two)):
                    report(
                        "max", round=r, store=args.store, workers=workers, rps=top["rps"],
                        connections=top["connections"], errors=top["errors"] + top["non_2xx"],
                        server_p50_ms=top["server_p50_ms"], server_p99_ms=top["server_p99_ms"],
                        cpu_pct_of_one_core=top["cpu_pct_of_one_core"],
                        server_cpu_ms_per_request=top["server_cpu_ms_per_request"],
                    )  # fmt: skip
                report("round", round=r, two_over_one=round(ratios[-1], 3))
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    report("summary", store=args.store, rounds=[round(x, 3) for x in ratios],
           median_two_over_one=round(sorted(ratios)[len(ratios) // 2], 3))  # fmt: skip


if __name__ == "__main__":
    main()
