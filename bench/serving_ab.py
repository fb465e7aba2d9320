"""Bid requests of two source trees, interleaved: for a machine whose speed drifts within minutes.

Run alone:
    .venv/bin/python -m bench.serving_ab --rounds 3 /path/to/base /work/main

Each tree is a checkout of this repository; its server runs with ``PYTHONPATH=<tree>/src`` in this
venv. Per round and tree: a fresh seeded SQLite store (1,000 campaigns x 10 ads, the hints of
serving_bench), one server (1 worker), a 3 s warm-up, the bid request at 32 connections (the Lua
script of serving_wrk_bench), then the bare JSON endpoint at 16 connections on the same server. CPU is
the server process's utime + stime over each run divided by its requests. Trees alternate, so a drift
of the machine falls on both alike; compare within a round.
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

from bench.common import cpu_seconds, fresh_store, machine, report
from bench.serving_bench import seed
from bench.serving_wrk_bench import bench_env, bid_bodies, bid_headers, lua_script, run_wrk
from threadline.config import Settings

BID, BARE = "/api/v1/ssp/bid-request", "/bench/bare-json"


def one(tree: Path, seconds: float) -> dict[str, Any]:
    rng = random.Random(42)
    data_dir = Path(tempfile.mkdtemp(prefix="tl-ab-"))
    env = bench_env(data_dir)
    try:
        with fresh_store("sqlite") as url:
            os.environ.update({**env, "THREADLINE_DATABASE_URL": url})
            key = seed(Settings(), 1000, 10, rng)
            bodies, headers = bid_bodies(rng), bid_headers(key)
            server_env = {**env, "THREADLINE_DATABASE_URL": url, "PYTHONPATH": str(tree / "src")}
            server = ServerProcess(data_dir, server_env)
            server.start()
            try:
                assert server.proc is not None
                pid = server.proc.pid
                bid_script, bare_script = lua_script(BID, headers, bodies), lua_script(BARE, headers, bodies)
                run_wrk(server.base_url + BID, bid_script, connections=16, seconds=3)  # warm-up
                c0 = cpu_seconds(pid)
                bid = run_wrk(server.base_url + BID, bid_script, connections=32, seconds=seconds)
                c1 = cpu_seconds(pid)
                bare = run_wrk(server.base_url + BARE, bare_script, connections=16, seconds=seconds * 2 / 3)
                c2 = cpu_seconds(pid)
            finally:
                server.stop()
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    return {
        "bid_rps": bid["rps"],
        "bid_cpu_ms_per_request": round((c1 - c0) * 1000 / max(1, bid["requests"]), 3),
        "bid_server_p50_ms": bid["server_p50_ms"],
        "bid_server_p99_ms": bid["server_p99_ms"],
        "fill": round(bid["served"] / max(1, bid["answered"]), 3),
        "errors": bid["errors"] + bid["non_2xx"],
        "bare_rps": bare["rps"],
        "bare_cpu_ms_per_request": round((c2 - c1) * 1000 / max(1, bare["requests"]), 3),
        "bid_over_bare": round(bid["rps"] / bare["rps"], 3),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("trees", nargs="+", type=Path, help="checkouts of this repository")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=6.0, help="bid run length (bare: two thirds)")
    args = ap.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is required: apt-get install -y wrk")
    print(f"machine: {machine()}; load average before: {os.getloadavg()}", flush=True)
    for r in range(1, args.rounds + 1):
        for tree in args.trees:
            report("round", round=r, tree=str(tree), **one(tree.resolve(), args.seconds))


if __name__ == "__main__":
    main()
