"""Benchmark plumbing: fresh stores, the real server process, wrk runs, and one summary line per figure."""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.databases import throwaway_pg_database
from tests.e2e.server import ServerProcess

from threadline.store.migrate import upgrade

PG_ADMIN_URL = os.environ.get(
    "THREADLINE_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def machine() -> str:
    cpu = "unknown cpu"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, {cpu}, Python {platform.python_version()}"


@contextmanager
def fresh_store(store: str, admin_url: str = PG_ADMIN_URL) -> Iterator[str]:
    """A migrated, empty database URL for ``sqlite`` or ``postgres`` (a database next to ``admin_url``)."""
    if store == "sqlite":
        tmp = Path(tempfile.mkdtemp(prefix="threadline-bench-"))
        url = f"sqlite:///{tmp}/bench.db"
        upgrade(url)
        try:
            yield url
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return
    with throwaway_pg_database(admin_url, "threadline_bench") as url:
        upgrade(url)
        yield url


def start_server(url: str, data_dir: Path, **env: str) -> ServerProcess:
    base = {
        "THREADLINE_DATABASE_URL": url,
        "THREADLINE_ADMIN_TOKEN": "adm_bench",
        "THREADLINE_LOG_REQUESTS": "false",
        "THREADLINE_BENCH_BARE_ENDPOINTS": "1",
        "THREADLINE_SECRET_KEY": "bench-secret",
    }
    server = ServerProcess(data_dir, {**base, **env})
    server.start()
    return server


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def wrk(
    url: str,
    *,
    seconds: int = 10,
    connections: int = 32,
    threads: int = 1,
    headers: dict[str, str] | None = None,
    lua: str | None = None,
    rate: int | None = None,
) -> dict[str, float]:
    """Run wrk and return requests/s and latency percentiles in ms."""
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is required for this benchmark: apt-get install wrk")
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency"]
    for k, v in (headers or {}).items():
        cmd += ["-H", f"{k}: {v}"]
    script_path = None
    if lua:
        fd, script_path = tempfile.mkstemp(suffix=".lua")
        with os.fdopen(fd, "w") as fh:
            fh.write(lua)
        cmd += ["-s", script_path]
    cmd.append(url)
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    if script_path:
        os.unlink(script_path)
    result: dict[str, float] = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))}  # type: ignore[union-attr]
    for pct in ("50", "75", "90", "99"):
        m = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if m:
            result[f"p{pct}_ms"] = float(m.group(1)) * _UNITS[m.group(2)]
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    result["non_2xx"] = float(non2xx.group(1)) if non2xx else 0.0
    return result


def _stat(path: Path) -> tuple[int, str, float]:
    """A /proc/<pid>/stat file's parent pid, command name and user + system CPU seconds."""
    stat = path.read_text()
    fields = stat[stat.rindex(")") + 2 :].split()  # the command name may hold spaces and parentheses
    comm = stat[stat.index("(") + 1 : stat.rindex(")")]
    return int(fields[1]), comm, (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux), or NaN where /proc is unavailable."""
    try:
        return _stat(Path(f"/proc/{pid}/stat"))[2]
    except OSError:
        return float("nan")


def process_cpu() -> dict[int, tuple[int, str, float]]:
    """Every process's parent pid, command name and CPU seconds so far (Linux /proc)."""
    procs: dict[int, tuple[int, str, float]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                procs[int(entry.name)] = _stat(entry / "stat")
            except OSError:  # ended meanwhile
                continue
    return procs


def cpu_by_role(
    before: dict[int, tuple[int, str, float]], after: dict[int, tuple[int, str, float]], server_pid: int
) -> dict[str, float]:
    """CPU seconds between two :func:`process_cpu` snapshots: the server process and its workers,
    PostgreSQL, Redis. A process that ended in between is not counted (its time is gone from /proc)."""
    roles = {"server": 0.0, "postgres": 0.0, "redis": 0.0}
    for pid, (ppid, comm, cpu) in after.items():
        spent = cpu - (before[pid][2] if pid in before else 0.0)
        if pid == server_pid or ppid == server_pid:  # uvicorn --workers N: the supervisor's children
            roles["server"] += spent
        elif comm.startswith("postgres"):
            roles["postgres"] += spent
        elif comm.startswith("redis"):
            roles["redis"] += spent
    return roles


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    ordered = sorted(samples_ms)

    def pick(p: float) -> float:
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]

    return {"p50_ms": pick(50), "p99_ms": pick(99), "n": float(len(ordered))}


def report(figure: str, **values: object) -> None:
    print(json.dumps({"figure": figure, **values}, sort_keys=False), flush=True)
