"""Serving latency and throughput: 1,000 active campaigns x 10 ads with realistic context hints.

Run alone:  .venv/bin/python bench/serving_bench.py [--campaigns 1000] [--ads 10] [--seconds 5]
(SQLite in a temp dir by default; THREADLINE_DATABASE_URL=postgresql+psycopg://... to bench PostgreSQL —
the database must be empty and migrated or new.)

Prints one line per figure:
- in-process decision time (matching + auction over the in-memory index, no database),
- in-process serve time (decision + budget reservation + impression + rollup, committed),
- end-to-end bid-request latency over HTTP against a real uvicorn process on loopback (sequential),
- throughput of bid-request vs a bare JSON endpoint in the same server (concurrent clients), as a ratio.
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import insert

from threadline.app import create_app
from threadline.auth.keys import mint_key
from threadline.config import Settings
from threadline.kit.ids import new_id
from threadline.serving.relevance import threshold
from threadline.serving.service import ServeRequest, ServingEngine
from threadline.store.migrate import upgrade
from threadline.store.models import Ad, AdAccount, AdGroup, Campaign, Org, Publisher

TOPICS = """running shoes|marathon training|trail running|yoga mats|protein powder|home gym equipment|
meal prep containers|vegan recipes|coffee grinder|espresso machine|electric bikes|bike helmets|
camping tents|hiking boots|travel insurance|cheap flights|hotel deals|language learning|online courses|
python programming|cloud hosting|password manager|vpn service|mechanical keyboard|gaming laptop|
noise cancelling headphones|smart watch|budget smartphone|mortgage rates|credit card rewards|
index funds|crypto wallet|tax software|small business accounting|project management software|
crm software|email marketing|website builder|graphic design tools|stock photos|dog food|cat litter|
pet insurance|baby stroller|kids toys|skin care routine|sunscreen|hair loss treatment|
meditation app|sleep tracker|mattress|office chair|standing desk|houseplants|garden tools|
solar panels|electric cars|car insurance|used cars|wedding rings|perfume|winter jackets""".replace(
    "\n", ""
).split("|")
FILLER = [
    "i",
    "was",
    "wondering",
    "what",
    "you",
    "think",
    "about",
    "the",
    "best",
    "options",
    "for",
    "this",
    "year",
    "and",
    "how",
    "much",
    "it",
    "costs",
]


def conversation(rng: random.Random) -> list[str]:
    words = rng.sample(FILLER, 8)
    if rng.random() < 0.6:
        words[rng.randrange(len(words))] = rng.choice(TOPICS)
    user = " ".join(words)
    bot = " ".join(rng.sample(FILLER, 10)) + (" " + rng.choice(TOPICS) if rng.random() < 0.3 else "")
    return [user, bot]


def seed(settings: Settings, campaigns: int, ads_per: int, rng: random.Random) -> str:
    """Bulk rows straight into the store; returns a publisher key."""
    app = create_app(settings)
    ctx = app.state.ctx
    now = int(time.time())
    with ctx.db.write() as s:
        org_ids = [new_id() for _ in range(100)]
        s.execute(
            insert(Org),
            [
                {"id": o, "name": f"Advertiser {i}", "url": "", "created_at": now}
                for i, o in enumerate(org_ids)
            ],
        )
        s.execute(
            insert(AdAccount),
            [{"id": new_id(), "org_id": o, "name": "Default", "created_at": now} for o in org_ids],
        )
        c_rows: list[dict[str, Any]] = []
        g_rows: list[dict[str, Any]] = []
        a_rows: list[dict[str, Any]] = []
        for i in range(campaigns):
            cid, gid, org = new_id(), new_id(), org_ids[i % len(org_ids)]
            model = "cpc" if i % 4 == 0 else "cpm"
            c_rows.append(
                {
                    "id": cid, "org_id": org, "ad_account_id": "acct", "name": f"Campaign {i}",
                    "status": "active", "review_status": "approved", "review_submitted_at": now,
                    "start_time": now - 3600, "end_time": None, "lifetime_spend_limit_micros": 10**12,
                    "spent_micros": 0, "recurring_frequency": "daily", "pricing_model": model,
                    "target_countries": [], "created_at": now, "updated_at": now,
                }
            )  # fmt: skip
            g_rows.append(
                {
                    "id": gid, "org_id": org, "campaign_id": cid, "name": "Group",
                    "context_hints": rng.sample(TOPICS, rng.randint(2, 5)),
                    "max_bid_micros": rng.randint(1_000_000, 6_000_000) if model == "cpm" else rng.randint(200_000, 900_000),
                    "status": "active", "creative_type": "chat_card", "created_at": now, "updated_at": now,
                }
            )  # fmt: skip
            for j in range(ads_per):
                a_rows.append(
                    {
                        "id": new_id(), "org_id": org, "campaign_id": cid, "ad_group_id": gid,
                        "name": f"Ad {j}", "status": "active", "created_at": now, "updated_at": now,
                        "creative": {"type": "chat_card", "title": f"Offer {i}-{j}", "body": "A fine product.",
                                     "target_url": f"https://adv{i}.example.com/p{j}", "cta_text": "Shop now"},
                    }
                )  # fmt: skip
        s.execute(insert(Campaign), c_rows)
        s.execute(insert(AdGroup), g_rows)
        s.execute(insert(Ad), a_rows)
        pub = Publisher(
            id=new_id(),
            name="Bench",
            supply="direct",
            floor_cpm_micros=1_000_000,
            allowed_origins=[],
            created_at=now,
        )
        s.add(pub)
        s.flush()
        _, key = mint_key(s, ctx.clock, kind="publisher", publisher_id=pub.id)
    ctx.db.dispose()
    return key


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def line(name: str, samples_ms: list[float]) -> None:
    print(
        f"{name}: n={len(samples_ms)} p50={pct(samples_ms, 50):.3f}ms p90={pct(samples_ms, 90):.3f}ms "
        f"p99={pct(samples_ms, 99):.3f}ms mean={statistics.fmean(samples_ms):.3f}ms"
    )


def in_process(settings: Settings, rng: random.Random, n: int) -> None:
    app = create_app(settings)
    ctx = app.state.ctx
    engine: ServingEngine = ctx.serving
    t0 = time.perf_counter()
    snap = engine.index.snapshot()
    print(
        f"index build: {len(snap.ads)} ads, {len(snap.groups)} groups in {(time.perf_counter() - t0) * 1000:.1f}ms"
    )
    publisher = None
    with ctx.db.read() as s:
        pid = s.execute(Publisher.__table__.select()).mappings().first()["id"]  # type: ignore[index]
    publisher = engine.index.publisher(pid)
    assert publisher is not None

    def request(msgs: list[str]) -> ServeRequest:
        return ServeRequest(
            publisher=publisher, user_id="u", chat_id=None, messages=msgs,
            formats=frozenset({"sponsored_message"}), country="", threshold=threshold("high"), sandbox=False,
        )  # fmt: skip

    convs = [conversation(rng) for _ in range(n)]
    for c in convs[:200]:  # warm caches (stemmer, code paths)
        engine.auction(request(c), time.time())
    decide: list[float] = []
    served = 0
    for c in convs:
        t = time.perf_counter()
        ranked, _ = engine.auction(request(c), time.time())
        decide.append((time.perf_counter() - t) * 1000)
        served += bool(ranked)
    line("in-process decision (match+auction, no DB)", decide)
    print(f"  fill rate: {served / len(convs):.0%}")
    full: list[float] = []
    for c in convs[: n // 2]:
        t = time.perf_counter()
        engine.serve(request(c))
        full.append((time.perf_counter() - t) * 1000)
    line("in-process serve (decision + reservation + impression + rollup, committed)", full)
    engine.stop()
    ctx.db.dispose()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def over_http(
    env: dict[str, str], key: str, rng: random.Random, n: int, seconds: float, clients: int
) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "threadline.app:app_factory", "--port", str(port),
         "--log-level", "warning", "--no-access-log"],
        env=env,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/healthz").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        headers = {"thrad-api-key": key, "User-Agent": "bench", "X-Forwarded-For": "203.0.113.9"}

        def body() -> dict[str, Any]:
            u, b = conversation(rng)
            return {"userId": "u", "chatId": "c", "production": True,
                    "messages": [{"role": "user", "content": u}, {"role": "assistant", "content": b}]}  # fmt: skip

        with httpx.Client(base_url=base, headers=headers) as c:
            for _ in range(200):
                c.post("/api/v1/ssp/bid-request", json=body())
            lat: list[float] = []
            server: list[float] = []
            for _ in range(n):
                t = time.perf_counter()
                r = c.post("/api/v1/ssp/bid-request", json=body())
                lat.append((time.perf_counter() - t) * 1000)
                assert r.status_code == 200, r.text
                server.append(float(r.json()["totalTime"]))
        line("HTTP bid-request end-to-end (sequential, keep-alive)", lat)
        line("HTTP bid-request server-side totalTime", server)
        bid_rps = throughput(base, "/api/v1/ssp/bid-request", headers, body, seconds, clients)
        bare_rps = throughput(base, "/bench/bare-json", {}, dict, seconds, clients)
        print(f"throughput: bid-request {bid_rps:.0f} req/s, bare-json {bare_rps:.0f} req/s, ratio {bid_rps / bare_rps:.2f}"
              f" ({clients} clients, 1 worker)")  # fmt: skip
    finally:
        proc.terminate()
        proc.wait(10)


def throughput(
    base: str, path: str, headers: dict[str, str], body: Any, seconds: float, clients: int
) -> float:
    count = [0] * clients
    stop = time.monotonic() + seconds

    def worker(i: int) -> None:
        with httpx.Client(base_url=base, headers=headers) as c:
            while time.monotonic() < stop:
                c.post(path, json=body())
                count[i] += 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(count) / seconds


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--campaigns", type=int, default=1000)
    ap.add_argument("--ads", type=int, default=10)
    ap.add_argument("--requests", type=int, default=3000)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--clients", type=int, default=8)
    args = ap.parse_args()
    rng = random.Random(42)
    tmp = Path(tempfile.mkdtemp(prefix="tl-bench-"))
    env = {
        **os.environ,
        "THREADLINE_DATA_DIR": str(tmp),
        "THREADLINE_RATE_LIMITS_ENABLED": "false",
        "THREADLINE_BENCH_BARE_ENDPOINTS": "1",
        "THREADLINE_LOG_REQUESTS": "false",
        "THREADLINE_SECRET_KEY": "bench",
        "THREADLINE_ADMIN_TOKEN": "bench",
    }
    os.environ.update(env)
    settings = Settings()
    upgrade(settings.resolved_database_url)
    key = seed(settings, args.campaigns, args.ads, rng)
    print(
        f"seeded {args.campaigns} campaigns x {args.ads} ads into {settings.resolved_database_url.split('@')[-1]}"
    )
    in_process(settings, rng, args.requests)
    over_http(env, key, rng, args.requests, args.seconds, args.clients)


if __name__ == "__main__":
    main()
