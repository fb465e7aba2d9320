"""Webhook fan-out: deliveries from publish to a local receiver, through the app's in-server worker.

    python -m bench.webhooks_bench [--store sqlite|postgres] [--deliveries 1000] [--threads 4] [--rate 50]

Figures (one JSON line each):
- paced: ``--deliveries`` replies published one by one at ``--rate``/s to a post whose author's app has
  one subscription: publish→delivery = the publish call's return (its commit) to the receiver's arrival;
- fan-out: one reply notifying ``--deliveries`` subscriptions of the author's app at once; throughput =
  deliveries / (last arrival - publish), publish→delivery percentiles (mostly queueing behind the others).
Every delivery is the real path: the delivery row + job in the publish transaction, the worker's claim,
rendering and signing the body, an SSRF-checked POST (a fresh pinned connection each), the result commit.
The receiver (tests/publishing/receiver.py) runs in this process and checks every signature.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from tests.factories import ctx_of, seed_org
from tests.publishing.receiver import Receiver, receiver_server

from bench.common import fresh_store, machine, percentiles, report
from threadline.app import create_app
from threadline.config import Settings
from threadline.publishing import accounts, service, webhooks
from threadline.publishing.auth import SCOPES, resolve_token
from threadline.publishing.outbound_schemas import SubscriptionCreate
from threadline.publishing.schemas import AppCreate, ProfileCreate, TokenCreate


def _wait(rx: Receiver, count: int, timeout: float = 900) -> None:
    deadline = time.monotonic() + timeout
    while len(rx.notifications) < count:
        if time.monotonic() > deadline:
            raise SystemExit(f"only {len(rx.notifications)} of {count} deliveries arrived")
        time.sleep(0.01)


def _latencies(rx: Receiver, published: dict[str, float]) -> list[float]:
    out = []
    for n in rx.valid():
        media_id = n.json["values"]["value"]["id"]
        if media_id in published:
            out.append((n.received_at - published[media_id]) * 1000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--deliveries", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=4, help="THREADLINE_JOBS_WORKER_THREADS")
    parser.add_argument("--rate", type=float, default=50.0, help="paced replies per second")
    args = parser.parse_args()
    report("machine", value=machine())
    n = args.deliveries

    with fresh_store(args.store) as url, tempfile.TemporaryDirectory() as tmp, receiver_server() as rx:
        settings = Settings(
            data_dir=Path(tmp),
            database_url=url,
            admin_token="adm_bench",
            secret_key="bench-secret",
            log_requests=False,
            rate_limits_enabled=False,
            allow_private_fetch_hosts=["127.0.0.1"],
            jobs_worker_threads=args.threads,
            jobs_poll_seconds=0.05,
            threads_reply_quota=n + 10,
        )
        app = create_app(settings)
        ctx = ctx_of(app)
        with TestClient(app):
            org = seed_org(ctx, "Bench", card=None)
            threads_app = accounts.create_app(ctx, AppCreate(name="bench"))
            rx.app_secret = threads_app.client_secret
            tokens: dict[str, Any] = {}
            for name in ("alice", "bob", "carol"):
                p = accounts.create_profile(ctx, org.org.id, ProfileCreate(username=name))
                tok = accounts.create_token(
                    ctx,
                    p.id,
                    TokenCreate(scopes=list(SCOPES), lifetime="long", app_id=threads_app.client_id),  # type: ignore[arg-type]
                )
                tokens[name] = resolve_token(ctx, tok.access_token)
            body = SubscriptionCreate(callback_url=rx.url, verify_token=rx.verify_token, fields=["replies"])
            webhooks.create_subscription(ctx, threads_app.client_id, body)
            root = service.create_container(
                ctx,
                tokens["alice"],
                "me",
                {"media_type": "TEXT", "text": "root", "auto_publish_text": "true"},
            )

            def reply(who: str, i: int) -> tuple[str, float]:
                params = {
                    "media_type": "TEXT",
                    "text": f"reply {i}",
                    "reply_to_id": root,
                    "auto_publish_text": "true",
                }
                media_id = service.create_container(ctx, tokens[who], "me", params)
                return media_id, time.time()

            # -- paced: one delivery per publish
            published: dict[str, float] = {}
            interval = 1 / args.rate
            start = time.perf_counter()
            cpu_before = time.process_time()
            for i in range(n):
                pause = start + i * interval - time.perf_counter()
                if pause > 0:
                    time.sleep(pause)
                media_id, at = reply("bob", i)
                published[media_id] = at
            _wait(rx, n)
            lat = {k: round(v, 2) for k, v in percentiles(_latencies(rx, published)).items()}
            cpu_ms = (time.process_time() - cpu_before) * 1000 / n
            report(
                "webhooks paced publish->delivery",
                store=args.store,
                threads=args.threads,
                offered_per_s=args.rate,
                cpu_ms_per_publish_and_delivery=round(cpu_ms, 2),
                **lat,
            )

            # -- fan-out: one publish, n deliveries
            for i in range(1, n):
                extra = SubscriptionCreate(
                    callback_url=f"{rx.url}?n={i}", verify_token=rx.verify_token, fields=["replies"]
                )
                webhooks.create_subscription(ctx, threads_app.client_id, extra)
            with rx.lock:
                rx.notifications.clear()
            cpu_before = time.process_time()
            t0 = time.perf_counter()
            media_id, at = reply("carol", 0)
            publish_ms = (time.perf_counter() - t0) * 1000
            _wait(rx, n)
            arrivals = [x.received_at for x in rx.notifications]
            elapsed = max(arrivals) - at
            lat = {k: round(v, 2) for k, v in percentiles(_latencies(rx, {media_id: at})).items()}
            report(
                "webhooks fan-out",
                store=args.store,
                threads=args.threads,
                deliveries=n,
                publish_ms=round(publish_ms, 1),
                seconds=round(elapsed, 3),
                deliveries_per_s=round(n / elapsed, 1),
                cpu_ms_per_delivery=round((time.process_time() - cpu_before) * 1000 / n, 2),
                signatures_ok=len(rx.valid()),
                **lat,
            )
        ctx.db.dispose()


if __name__ == "__main__":
    main()
