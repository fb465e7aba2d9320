"""Events API throughput and latency against the real server (uvicorn, 1 worker) on loopback.

    python -m bench.events_bench --store sqlite|postgres [--duration 10] [--connections 64]

Figures (one line each): bare 204 endpoint req/s, collect events/s (durably acknowledged), their ratio,
the server's CPU time per request for both (steadier than req/s on a shared machine: other processes
take CPU away from the server but do not make its requests cost more),
collect p50/p99 at 50% of the max rate (open loop, so queueing delay counts), conversion req/s with
a mix of new and duplicate keys, its p99 and the server's CPU time per conversion. Throughput uses
`wrk` (light, C) when installed, else a Python asyncio load generator; the fixed-rate latency run
always uses the asyncio generator.
PostgreSQL: a fresh database is created next to THREADLINE_BENCH_DATABASE_URL (default
postgresql://postgres@127.0.0.1:5432/postgres) and dropped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

from tests.e2e.server import ServerProcess
from tests.events.helpers import seed_event_org

from bench.common import cpu_seconds, fresh_store

R = TypeVar("R")
PG_DEFAULT = "postgresql://postgres@127.0.0.1:5432/postgres"

COLLECT_LUA = """
local n = 0
local prefix = ""
function init(args) prefix = args[1] .. "-" .. tostring(math.random(1, 1000000000)) end
function request()
  n = n + 1
  local body = '{"event_name":"page_view","tag_id":"bench","event_id":"' .. prefix .. '-' .. n ..
    '","page_url":"https://shop.example.com/checkout","params":{"step":"shipping"}}'
  return wrk.format("POST", "/v1/api/collect", {["Authorization"] = "Bearer KEY",
    ["Content-Type"] = "application/json"}, body)
end
"""

CONVERSION_LUA = """
local n = 0
local prefix = ""
function init(args) prefix = args[1] .. "-" .. tostring(math.random(1, 1000000000)) end
function request()
  n = n + 1
  local key = n
  if n % 4 == 0 then key = n - 1 end  -- every 4th request repeats the previous key: a duplicate
  local body = '{"click_id":"CLICK","conversion_time":"2026-02-19T18:00:00Z","conversion_value":49.99,' ..
    '"currency":"USD","order_id":"o-' .. key .. '","customer_tier":"gold"}'
  return wrk.format("POST", "/v1/api/conversion", {["Authorization"] = "Bearer KEY",
    ["Content-Type"] = "application/json", ["Idempotency-Key"] = prefix .. "-" .. key}, body)
end
"""

BARE_LUA = """
function request()
  return wrk.format("POST", "/bench/bare-204", {["Content-Type"] = "application/json"},
    '{"event_name":"page_view","tag_id":"bench"}')
end
"""


# ---- wrk ----


def run_wrk(
    url: str, script: str, duration: int, connections: int, workdir: Path, tag: str
) -> tuple[float, dict[str, float], int]:
    path = workdir / f"{tag}.lua"
    path.write_text(script)
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", "-s", str(path), url, "--", tag],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    pct = {m.group(1): _ms(m.group(2)) for m in re.finditer(r"^\s+(50|75|90|99)%\s+(\S+)", out, re.M)}
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*", out)
    if errors:
        print(f"  (wrk {tag}: {errors.group(0)})")
    return rps, pct, int(bad.group(1)) if bad else 0


def _ms(value: str) -> float:
    num = float(re.match(r"[\d.]+", value).group(0))  # type: ignore[union-attr]
    if value.endswith("us"):
        return num / 1000
    if value.endswith("ms"):
        return num
    if value.endswith("s"):
        return num * 1000
    return num


# ---- asyncio load generator (raw HTTP/1.1 keep-alive; far lighter than an HTTP client library) ----


def collect_request(host: str, key: str, n: int, prefix: str) -> bytes:
    body = (
        f'{{"event_name":"page_view","tag_id":"bench","event_id":"{prefix}-{n}",'
        f'"page_url":"https://shop.example.com/checkout","params":{{"step":"shipping"}}}}'
    ).encode()
    head = (
        f"POST /v1/api/collect HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    return head + body


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> int:
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    match = re.search(rb"(?i)content-length:\s*(\d+)", head)
    if match and int(match.group(1)):
        await reader.readexactly(int(match.group(1)))
    return status


async def open_loop(
    host: str, port: int, key: str, rate: float, seconds: float, connections: int
) -> tuple[list[float], int]:
    """Requests scheduled at a fixed rate; latency counts from the scheduled time (no coordinated omission)."""
    queue: asyncio.Queue[tuple[float, int] | None] = asyncio.Queue()
    latencies: list[float] = []
    failures = 0
    prefix = uuid.uuid4().hex[:8]

    async def worker() -> None:
        nonlocal failures
        reader, writer = await asyncio.open_connection(host, port)
        while (job := await queue.get()) is not None:
            scheduled, n = job
            status = await _exchange(reader, writer, collect_request(host, key, n, prefix))
            if status != 204:
                failures += 1
            latencies.append(time.perf_counter() - scheduled)
        writer.close()

    workers = [asyncio.create_task(worker()) for _ in range(connections)]
    start = time.perf_counter() + 0.2
    total = int(rate * seconds)
    for n in range(total):
        due = start + n / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        queue.put_nowait((due, n))
    for _ in workers:
        queue.put_nowait(None)
    await asyncio.gather(*workers)
    return latencies, failures


async def closed_loop(host: str, port: int, key: str, seconds: float, connections: int) -> float:
    done = 0
    stop_at = time.perf_counter() + seconds
    prefix = uuid.uuid4().hex[:8]

    async def worker(w: int) -> None:
        nonlocal done
        reader, writer = await asyncio.open_connection(host, port)
        n = 0
        while time.perf_counter() < stop_at:
            n += 1
            await _exchange(reader, writer, collect_request(host, key, n, f"{prefix}-{w}"))
            done += 1
        writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(connections)))
    return done / (time.perf_counter() - started)


def _backend_cpu(url: str) -> dict[int, float]:
    """CPU seconds so far of each PostgreSQL backend serving this database (same machine: /proc)."""
    import psycopg

    dbname = url.rsplit("/", 1)[1].split("?")[0]
    admin = os.environ.get("THREADLINE_BENCH_DATABASE_URL", PG_DEFAULT).replace("+psycopg", "")
    with psycopg.connect(admin, autocommit=True) as conn:
        pids = [r[0] for r in conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", (dbname,))]
    return {pid: cpu_seconds(pid) for pid in pids}


def _backend_used(before: dict[int, float], after: dict[int, float]) -> float:
    # A backend started during the run (a writer's second connection) counts from zero.
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items() if cpu == cpu)


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))] * 1000


def _run(coro: Coroutine[Any, Any, R]) -> R:
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--ratio-only", action="store_true", help="stop after the collect vs bare figure")
    parser.add_argument("--no-wrk", action="store_true", help="use the asyncio generator for throughput too")
    args = parser.parse_args()
    use_wrk = shutil.which("wrk") is not None and not args.no_wrk

    workdir = Path(tempfile.mkdtemp(prefix="threadline-bench-"))
    with fresh_store(args.store, os.environ.get("THREADLINE_BENCH_DATABASE_URL", PG_DEFAULT)) as url:
        seeded = seed_event_org(url, name="Bench Inc.", label="bench")
        key, click_id = seeded.event_key, seeded.click_id
        server = ServerProcess(
            workdir / "data",
            env={
                "THREADLINE_DATABASE_URL": url,
                "THREADLINE_ADMIN_TOKEN": "adm_bench",
                "THREADLINE_RATE_LIMITS_ENABLED": "false",
                "THREADLINE_LOG_REQUESTS": "false",
                "THREADLINE_BENCH_BARE_ENDPOINTS": "1",
            },
        )
        server.start()
        try:
            base = server.base_url
            print(
                f"# store={args.store} duration={args.duration}s connections={args.connections} "
                f"generator={'wrk -t1' if use_wrk else 'asyncio'} cpus={os.cpu_count()}"
            )
            if use_wrk:
                assert server.proc is not None
                pid = server.proc.pid
                # Interleaved rounds (the machine is shared): the round with the median ratio is reported.
                rounds = []
                pg = args.store == "postgres"
                backend_us: list[float] = []
                for _ in range(args.rounds):
                    cpu0 = cpu_seconds(pid)
                    bare, _, _ = run_wrk(
                        f"{base}/bench/bare-204", BARE_LUA, args.duration, args.connections, workdir, "bare"
                    )
                    cpu1 = cpu_seconds(pid)
                    backends0 = _backend_cpu(url) if pg else {}
                    collect, _, bad = run_wrk(
                        base,
                        COLLECT_LUA.replace("KEY", key),
                        args.duration,
                        args.connections,
                        workdir,
                        "collect",
                    )
                    cpu2 = cpu_seconds(pid)
                    if pg:
                        used = _backend_used(backends0, _backend_cpu(url))
                        backend_us.append(used / (collect * args.duration) * 1e6)
                    rounds.append((bare, collect, bad, cpu1 - cpu0, cpu2 - cpu1))
                print("collect_to_bare_ratios=" + ",".join(f"{r[1] / r[0]:.2f}" for r in rounds))
                rounds.sort(key=lambda r: r[1] / r[0])
                bare, collect, bad, bare_cpu, collect_cpu = rounds[len(rounds) // 2]
                bare_us = bare_cpu / (bare * args.duration) * 1e6
                collect_us = collect_cpu / (collect * args.duration) * 1e6
                print(
                    f"server_cpu_us_per_request bare={bare_us:.0f} collect={collect_us:.0f} "
                    f"bare_to_collect_cpu_ratio={bare_us / collect_us:.2f}"
                )
                if pg:
                    # PostgreSQL's backends share the two cores with the server and wrk.
                    print("pg_backend_cpu_us_per_event=" + ",".join(f"{u:.0f}" for u in backend_us))
            else:
                bare = float("nan")
                collect = _run(closed_loop("127.0.0.1", server.port, key, args.duration, args.connections))
                bad = 0
            print(f"bare_204_rps={bare:.0f}")
            print(f"collect_events_per_s={collect:.0f} non_2xx={bad}")
            print(f"collect_to_bare_ratio={collect / bare:.2f}")
            if args.ratio_only:
                return
            rate = collect / 2
            lat, failures = _run(open_loop("127.0.0.1", server.port, key, rate, 5, args.connections))
            print(
                f"collect_latency_at_{rate:.0f}_per_s p50_ms={_percentile(lat, 0.50):.2f} "
                f"p99_ms={_percentile(lat, 0.99):.2f} failures={failures}"
            )
            if use_wrk:
                script = CONVERSION_LUA.replace("KEY", key).replace("CLICK", click_id)
                cpu3 = cpu_seconds(pid)
                conv, pct, bad = run_wrk(base, script, args.duration, args.connections, workdir, "conversion")
                conv_us = (cpu_seconds(pid) - cpu3) / (conv * args.duration) * 1e6
                print(
                    f"conversion_rps={conv:.0f} p99_ms={pct.get('99', float('nan')):.2f} "
                    f"(25% duplicates) non_2xx={bad} server_cpu_us_per_request={conv_us:.0f}"
                )
        finally:
            server.stop()
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
