"""Upload figures (issue: creative uploads).

1. POST /v1/upload (multipart) of a 1 MB JPEG: throughput and p50/p99 latency with 8 concurrent clients.
2. Peak RSS of the server process while 16 concurrent clients upload 5 MB images, over its idle RSS.

Usage: python -m bench.upload_bench [--seconds 10]
"""

from __future__ import annotations

import argparse
import io
import random
import tempfile
import threading
import time
from pathlib import Path

import httpx
from PIL import Image
from tests.factories import seed_org

from bench.common import fresh_store, machine, percentiles, report, start_server
from threadline.config import Settings
from threadline.context import build_context


def noise_image(fmt: str, target_bytes: int) -> bytes:
    """A random-noise image (incompressible) of about ``target_bytes``."""
    side = 256
    while True:
        rng = random.Random(side)
        img = Image.frombytes("RGB", (side, side), rng.randbytes(side * side * 3))
        buf = io.BytesIO()
        img.save(buf, fmt, quality=90) if fmt == "JPEG" else img.save(buf, fmt)
        data = buf.getvalue()
        if len(data) >= target_bytes * 0.95:
            return data
        side = int(side * (target_bytes / len(data)) ** 0.5) + 8


def rss_kb(pid: int, field: str = "VmRSS") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def seed(url: str, data_dir: Path) -> str:
    settings = Settings(data_dir=data_dir, database_url=url)
    ctx = build_context(settings)
    new = seed_org(ctx, "Upload Bench", "")
    ctx.db.dispose()
    return new.api_key


def hammer(base: str, key: str, payload: bytes, name: str, clients: int, seconds: float) -> list[float]:
    samples: list[float] = []
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def worker() -> None:
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=60) as http:
            while time.monotonic() < deadline:
                t0 = time.perf_counter()
                r = http.post("/v1/upload", files={"file": (name, payload, "application/octet-stream")})
                took = (time.perf_counter() - t0) * 1000
                if r.status_code != 201:
                    raise SystemExit(f"upload failed: {r.status_code} {r.text[:200]}")
                with lock:
                    samples.append(took)

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return samples


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    print(f"# machine: {machine()}")
    jpeg_1mb = noise_image("JPEG", 1_000_000)
    png_5mb = noise_image("PNG", 4_900_000)
    assert len(png_5mb) <= 5 * 1024 * 1024
    with fresh_store("sqlite") as url:
        data_dir = Path(tempfile.mkdtemp(prefix="threadline-bench-upload-"))
        key = seed(url, data_dir)
        server = start_server(url, data_dir, THREADLINE_RATE_LIMIT_PER_HOUR="1000000000")
        try:
            assert server.proc is not None
            pid = server.proc.pid
            hammer(server.base_url, key, jpeg_1mb, "warm.jpg", 2, 2)  # warm up
            samples = hammer(server.base_url, key, jpeg_1mb, "creative.jpg", 8, args.seconds)
            stats = percentiles(samples)
            report(
                "upload_1mb_jpeg",
                bytes=len(jpeg_1mb),
                clients=8,
                uploads_per_s=round(len(samples) / args.seconds, 1),
                mb_per_s=round(len(samples) * len(jpeg_1mb) / args.seconds / 1e6, 1),
                p50_ms=round(stats["p50_ms"], 1),
                p99_ms=round(stats["p99_ms"], 1),
            )
            time.sleep(1)
            idle = rss_kb(pid)
            peak = [idle]
            stop = threading.Event()

            def sample() -> None:
                while not stop.is_set():
                    peak[0] = max(peak[0], rss_kb(pid))
                    time.sleep(0.005)

            sampler = threading.Thread(target=sample)
            sampler.start()
            five = hammer(server.base_url, key, png_5mb, "big.png", 16, args.seconds)
            stop.set()
            sampler.join()
            report(
                "upload_5mb_rss",
                bytes=len(png_5mb),
                clients=16,
                uploads=len(five),
                idle_rss_mb=round(idle / 1024, 1),
                peak_rss_mb=round(peak[0] / 1024, 1),
                growth_mb=round((peak[0] - idle) / 1024, 1),
                target_growth_mb=150,
            )
        finally:
            server.stop()


if __name__ == "__main__":
    main()
