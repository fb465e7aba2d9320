"""Bid requests measured like an ad server: wrk against the real server, the bare JSON endpoint in the
same run.

Run alone (under /work/wt/cpu --bench):
    .venv/bin/python -m bench.serving_wrk_bench [--store sqlite|postgres] [--workers 1] [--seconds 8]

What it does, in one run on one seeded store (1,000 campaigns x 10 ads, the hints of serving_bench):
1. the in-process decision p99 (match + auction, no database), the reference of the latency target;
2. starts the server (`threadline.app:app_factory` under uvicorn, `--workers N`, which is what
   `threadline serve --workers N` runs), rate limits off;
3. finds the maximum throughput of POST /api/v1/ssp/bid-request with wrk (1 wrk thread, connection
   counts doubling from 4 until two doublings in a row gain less than 5%, at most 256; the best wins),
   the Lua script rotating 512 realistic conversations and user ids; the run at the maximum also says
   how the CPU was split (server processes, PostgreSQL, Redis, wrk; % of one core);
4. measures at 50% and 90% of that maximum: wrk has no fixed-rate mode (that is wrk2, not packaged in
   Debian), so each connection waits in wrk's `delay()` hook between requests; the delay is calibrated
   in short runs until the achieved rate is within 5% of the target (16 connections, doubled while
   they cannot reach it without pausing). Latency percentiles are wrk's
   (client side, closed loop per connection) and the server's own `totalTime` (server side);
5. the bid request alone: one connection pausing 5 ms between requests, no queue at all: the server
   time of a request on its own, below which no percentile under load can go;
6. the same as 3-4 for POST /bench/bare-json (THREADLINE_BENCH_BARE_ENDPOINTS=1): the ceiling of our
   HTTP stack;
7. the ratio once more from PAIRS alternating runs of both maxima (each at its best connection count):
   the median of the pairs' ratios, which a drift of the machine's speed between phases cannot skew.
Fill rate = share of 200 answers that carried a bid; errors = socket errors + non-2xx answers.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.e2e.server import ServerProcess

from bench.common import cpu_by_role, fresh_store, machine, process_cpu, report
from bench.serving_bench import conversation, pct, seed
from threadline.app import create_app
from threadline.config import Settings
from threadline.serving.relevance import threshold
from threadline.serving.service import ServeRequest
from threadline.store.models import Publisher

BODIES = 512
PAIRS = 3  # alternating bid / bare maxima for the ratio
CONNECTIONS = (4, 8, 16, 32, 64, 128, 256)

LUA = r"""
local bodies = {BODIES}
local path = "{PATH}"
local headers = {HEADERS}
local delay_ms = 0
local i = 0
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  delay_ms = tonumber(args[1] or "0")
  served = 0
  answered = 0
  server = {}
  i = math.random(#bodies)
end

function request()
  i = i % #bodies + 1
  return wrk.format("POST", path, headers, bodies[i])
end

function delay()
  return delay_ms
end

function response(status, hdrs, body)
  if status == 200 then
    answered = answered + 1
    if string.find(body, '"bid":{', 1, true) then
      served = served + 1
    end
    local t = string.match(body, '"totalTime":([%d%.]+)')
    if t then
      server[#server + 1] = tonumber(t)
    end
  end
end

function done(summary, latency, requests)
  local all, s, a = {}, 0, 0
  for _, thread in ipairs(threads) do
    s = s + thread:get("served")
    a = a + thread:get("answered")
    for _, v in ipairs(thread:get("server")) do
      all[#all + 1] = v
    end
  end
  table.sort(all)
  local function p(q)
    if #all == 0 then return -1 end
    return all[math.max(1, math.min(#all, math.floor(q / 100 * #all + 0.5)))]
  end
  local e = summary.errors
  io.write(string.format(
    'JSON {"requests":%d,"seconds":%.3f,"rps":%.1f,"p50_ms":%.3f,"p99_ms":%.3f,"p999_ms":%.3f,'
    .. '"server_p50_ms":%.3f,"server_p99_ms":%.3f,"server_p999_ms":%.3f,"answered":%d,"served":%d,'
    .. '"errors":%d,"non_2xx":%d}\n',
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency:percentile(99.9) / 1000,
    p(50), p(99), p(99.9), a, s, e.connect + e.read + e.write + e.timeout, e.status))
end
"""


def bench_env(data_dir: Path) -> dict[str, str]:
    """The server settings of these benchmarks: rate limits off, the bare endpoints on, no request log."""
    return {
        "THREADLINE_DATA_DIR": str(data_dir),
        "THREADLINE_RATE_LIMITS_ENABLED": "false",
        "THREADLINE_BENCH_BARE_ENDPOINTS": "1",
        "THREADLINE_LOG_REQUESTS": "false",
        "THREADLINE_SECRET_KEY": "bench-secret",
        "THREADLINE_ADMIN_TOKEN": "adm_bench",
    }


def bid_bodies(rng: random.Random) -> list[str]:
    """BODIES production bid requests: benchmark conversations, 97 user ids, one chat each."""
    bodies = []
    for k in range(BODIES):
        user, bot = conversation(rng)
        bodies.append(json.dumps({
            "userId": f"user-{k % 97}", "chatId": f"chat-{k}", "production": True,
            "messages": [{"role": "user", "content": user}, {"role": "assistant", "content": bot}],
        }))  # fmt: skip
    return bodies


def bid_headers(key: str) -> dict[str, str]:
    return {"thrad-api-key": key, "User-Agent": "wrk-bench", "X-Forwarded-For": "203.0.113.9",
            "Content-Type": "application/json"}  # fmt: skip


def lua_script(path: str, headers: dict[str, str], bodies: list[str]) -> str:
    def q(s: str) -> str:
        return json.dumps(s)  # a JSON string literal is a valid Lua string literal for this text

    return (
        LUA.replace("{BODIES}", "{" + ",".join(q(b) for b in bodies) + "}")
        .replace("{PATH}", path)
        .replace("{HEADERS}", "{" + ",".join(f"[{q(k)}]={q(v)}" for k, v in headers.items()) + "}")
    )


def run_wrk(
    url: str,
    script: str,
    *,
    connections: int,
    seconds: float,
    delay_ms: float = 0,
    server_pid: int | None = None,
) -> dict[str, Any]:
    """One wrk run; with ``server_pid``, also how the run's CPU was split (% of one core)."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
        fh.write(script)
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "-s", fh.name, url, "--",
           str(delay_ms)]  # fmt: skip
    before = process_cpu() if server_pid else {}
    wrk_before = _children_cpu()
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=seconds + 60).stdout
    finally:
        os.unlink(fh.name)
    m = re.search(r"^JSON (\{.*\})$", out, re.M)
    assert m, out
    result: dict[str, Any] = json.loads(m.group(1))
    result["connections"] = connections
    result["delay_ms"] = delay_ms
    if server_pid:
        split = cpu_by_role(before, process_cpu(), server_pid)
        split["wrk"] = _children_cpu() - wrk_before
        result["cpu_pct_of_one_core"] = {k: round(v / result["seconds"] * 100) for k, v in split.items()}
        result["server_cpu_ms_per_request"] = round(split["server"] * 1000 / max(1, result["requests"]), 3)
    return result


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # waited-for children: the wrk runs
    return usage.ru_utime + usage.ru_stime


def find_max(url: str, script: str, seconds: float, server_pid: int | None = None) -> dict[str, Any]:
    """The best over CONNECTIONS, doubling until two doublings in a row gain less than 5%: a closed
    loop with too few connections measures the latency of a request, not the server's ceiling."""
    best: dict[str, Any] | None = None
    flat = 0
    for c in CONNECTIONS:
        r = run_wrk(url, script, connections=c, seconds=seconds, server_pid=server_pid)
        print(f"  {c} connections: {r['rps']:.0f} req/s", flush=True)
        gained = best is None or r["rps"] >= best["rps"] * 1.05
        if best is None or r["rps"] > best["rps"]:
            best = r
        flat = 0 if gained else flat + 1
        if flat == 2:
            break
    assert best is not None
    return best


def at_rate(url: str, script: str, target: float, seconds: float, connections: int = 16) -> dict[str, Any]:
    """wrk at about ``target`` req/s: each connection pauses in delay() between requests. Where
    ``connections`` cannot reach the target even without pausing, their number doubles."""
    delay = max(0.0, connections / target * 1000)
    for _ in range(8):
        probe = run_wrk(url, script, connections=connections, seconds=3, delay_ms=round(delay, 2))
        if abs(probe["rps"] - target) <= 0.05 * target:
            break
        if delay == 0 and probe["rps"] < target and connections < CONNECTIONS[-1]:
            connections *= 2
            delay = max(0.0, connections * 1000 * (1 / target - 1 / max(probe["rps"] * 2, 1.0)))
            continue
        # rate ≈ connections / (delay + response time): move the delay by the error in per-request time
        delay = max(0.0, delay + connections * 1000 * (1 / target - 1 / max(probe["rps"], 1.0)))
    final = run_wrk(url, script, connections=connections, seconds=seconds, delay_ms=round(delay, 2))
    final["target_rps"] = round(target, 1)
    return final


def _rss_mb() -> float:
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def decision_p99(settings: Settings, rng: random.Random, n: int = 3000) -> tuple[float, float]:
    app = create_app(settings)
    ctx = app.state.ctx
    engine = ctx.serving
    rss, t0 = _rss_mb(), time.perf_counter()
    snap = engine.index.snapshot()
    report("index build", ads=len(snap.ads), groups=len(snap.groups),
           build_ms=round((time.perf_counter() - t0) * 1000, 1), rss_growth_mb=round(_rss_mb() - rss, 1))  # fmt: skip
    with ctx.db.read() as s:
        pid = s.execute(Publisher.__table__.select()).mappings().first()["id"]  # type: ignore[index]
    publisher = engine.index.publisher(pid)
    assert publisher is not None
    convs = [conversation(rng) for _ in range(n)]
    samples = []
    for k, msgs in enumerate(convs):
        req = ServeRequest(
            publisher=publisher, user_id=f"u{k}", chat_id=None, messages=msgs,
            formats=frozenset({"sponsored_message"}), country="", threshold=threshold("high"), sandbox=False,
        )  # fmt: skip
        t = time.perf_counter()
        engine.auction(req, time.time())
        samples.append((time.perf_counter() - t) * 1000)
    engine.stop()
    ctx.db.dispose()
    samples = samples[200:]  # warm-up
    return pct(samples, 50), pct(samples, 99)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--campaigns", type=int, default=1000)
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--max-seconds", type=float, default=4.0)
    ap.add_argument("--redis-url", default=os.environ.get("THREADLINE_BENCH_REDIS_URL", ""))
    ap.add_argument("--skip-bare", action="store_true")
    ap.add_argument("--decision-only", action="store_true", help="only the in-process decision figures")
    args = ap.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is required: apt-get install -y wrk")
    rng = random.Random(42)
    print(f"machine: {machine()}; load average before: {os.getloadavg()}", flush=True)
    data_dir = Path(tempfile.mkdtemp(prefix="tl-wrk-"))
    env = bench_env(data_dir)
    with fresh_store(args.store) as url:
        os.environ.update({**env, "THREADLINE_DATABASE_URL": url})
        settings = Settings()
        key = seed(settings, args.campaigns, 10, rng)
        p50, p99 = decision_p99(settings, rng)
        report("in-process decision", ads=args.campaigns * 10, p50_ms=round(p50, 3), p99_ms=round(p99, 3))
        if args.decision_only:
            return
        server_env = {**env}
        if args.redis_url:
            server_env["THREADLINE_REDIS_URL"] = args.redis_url
        bodies = bid_bodies(rng)
        headers = bid_headers(key)
        server = ServerProcess(data_dir, {**server_env, "THREADLINE_DATABASE_URL": url}, workers=args.workers)
        server.start()
        assert server.proc is not None
        server_pid = server.proc.pid
        try:
            base = server.base_url
            targets = [("bid-request", "/api/v1/ssp/bid-request")]
            if not args.skip_bare:
                targets.append(("bare-json", "/bench/bare-json"))
            results: dict[str, dict[str, Any]] = {}
            scripts = {name: lua_script(path, headers, bodies) for name, path in targets}
            for name, path in targets:
                script = scripts[name]
                run_wrk(base + path, script, connections=8, seconds=2)  # warm-up
                top = find_max(base + path, script, args.max_seconds, server_pid)
                report(f"{name} max", store=args.store, workers=args.workers, **top)
                results[name] = top
                for share in (0.5, 0.9):
                    r = at_rate(base + path, script, top["rps"] * share, args.seconds)
                    report(
                        f"{name} at {int(share * 100)}% of max", store=args.store, workers=args.workers, **r
                    )
                    results[f"{name}@{share}"] = r
                if name == "bid-request":
                    # No queue at all: one connection pausing 5 ms between requests. The server time of a
                    # request on its own, the floor of any percentile under load.
                    alone = run_wrk(base + path, script, connections=1, seconds=args.seconds, delay_ms=5)
                    report("bid-request alone (1 connection, 5 ms pauses)", store=args.store, **alone)
                    results["bid-request alone"] = alone
            bid = results["bid-request"]
            fill = bid["served"] / max(1, bid["answered"])
            line: dict[str, Any] = {"fill_rate": round(fill, 3), "decision_p99_ms": round(p99, 3),
                                    "server_p99_at_50pct_ms": results["bid-request@0.5"]["server_p99_ms"]}  # fmt: skip
            line["server_p99_over_decision_p99"] = round(line["server_p99_at_50pct_ms"] / p99, 2)
            alone = results["bid-request alone"]
            line["server_p50_p99_alone_ms"] = [alone["server_p50_ms"], alone["server_p99_ms"]]
            line["server_p99_alone_over_decision_p99"] = round(alone["server_p99_ms"] / p99, 2)
            if "bare-json" in results:
                line["bid_over_bare"] = round(bid["rps"] / results["bare-json"]["rps"], 2)
                # This machine's speed drifts within a run: alternate the two maxima and take the median
                # of the pairs' ratios, so a drift between the bid and the bare phases cannot skew it.
                ratios = []
                for _ in range(PAIRS):
                    pair = [
                        run_wrk(base + path, scripts[name], connections=results[name]["connections"],
                                seconds=args.max_seconds)["rps"]
                        for name, path in targets
                    ]  # fmt: skip
                    ratios.append(pair[0] / pair[1])
                    report(
                        "alternating max pair", bid_rps=pair[0], bare_rps=pair[1], ratio=round(ratios[-1], 3)
                    )
                line["bid_over_bare_alternating_median"] = round(sorted(ratios)[len(ratios) // 2], 3)
            report("summary", store=args.store, workers=args.workers, **line)
        finally:
            server.stop()
    print(f"load average after: {os.getloadavg()}", flush=True)
    shutil.rmtree(data_dir, ignore_errors=True)
    sys.exit(0)


if __name__ == "__main__":
    main()
