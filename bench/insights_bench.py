"""Insights latency after 10 million recorded impressions, through the real HTTP route.

    .venv/bin/python -m bench.insights_bench --store sqlite
    .venv/bin/python -m bench.insights_bench --store postgres --pg-url postgresql://postgres@127.0.0.1:5432/postgres

Seeds 1,000 ads x 720 hours of hourly rollups (one row per ad-hour, 7-21 impressions each: ~10M
impressions in ~720k rows) with a bulk loader, which then derives the org-level rollup from them exactly
as migration 0005 backfills it (the GROUP BY that live writers keep equal), then times requests through
an in-process TestClient (the full ASGI stack: gate, auth, routing, service, queries, JSON). Prints one
line per figure.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text

from bench.common import fresh_store
from threadline.app import create_app
from threadline.config import Settings
from threadline.kit.clock import MovableClock
from threadline.operator import orgs
from threadline.store.models import Ad, AdGroup, Campaign

HOUR = 3600
END = 1775088000  # data ends at 2026-04-02T00:00Z; "now" is set there
METRICS = "impressions, viewable_impressions, clicks, spend_micros, conversions, conversion_value_micros"
COLUMNS = f"org_id, campaign_id, ad_group_id, ad_id, hour, supply, country, {METRICS}"
ORG_KEY = "org_id, hour, supply, country"
ORG_ROLLUP = (
    f"INSERT INTO insights_org_hourly ({ORG_KEY}, {METRICS}) "
    f"SELECT {ORG_KEY}, {', '.join(f'SUM({m})' for m in METRICS.split(', '))} "
    f"FROM insights_hourly GROUP BY {ORG_KEY}"
)
CAMPAIGN_KEY = "campaign_id, hour, supply, country"
CAMPAIGN_ROLLUP = (
    f"INSERT INTO insights_campaign_hourly (org_id, {CAMPAIGN_KEY}, {METRICS}) "
    f"SELECT MIN(org_id), {CAMPAIGN_KEY}, {', '.join(f'SUM({m})' for m in METRICS.split(', '))} "
    f"FROM insights_hourly GROUP BY {CAMPAIGN_KEY}"
)


def main() -> None:
    run_on_data_set(__doc__ or "", "insights-bench-", 50, _run)


def run_on_data_set(
    doc: str, prefix: str, runs: int, run: Callable[[str, Path, argparse.Namespace], None]
) -> None:
    """The command line of the benchmarks on this data set (store, size, runs), then ``run`` on a fresh store."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--ads", type=int, default=1000)
    parser.add_argument("--hours", type=int, default=720)
    parser.add_argument("--runs", type=int, default=runs)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix=prefix) as tmp, fresh_store(args.store, args.pg_url) as url:
        run(url, Path(tmp), args)


@dataclass
class DataSet:
    app: FastAPI
    clock: MovableClock
    org: orgs.NewOrg
    ads: list[tuple[str, str, str]]
    impressions: int
    load_s: float


def build(
    url: str, tmp: Path, n_ads: int, hours: int, extra: Callable[[Any, orgs.NewOrg], None] | None = None
) -> DataSet:
    """The app on a store holding one org with ``n_ads`` ads x ``hours`` hours of rollups (the dashboard
    bench builds the same data set; ``extra`` adds rows of its own before the statistics are taken)."""
    clock = MovableClock(start=END - hours * HOUR - 86400, frozen=True)
    settings = Settings(
        data_dir=tmp / "data",
        database_url=url,
        secret_key="bench",
        log_requests=False,
        rate_limits_enabled=False,
    )
    app = create_app(settings, clock=clock)
    ctx = app.state.ctx
    with ctx.db.write() as s:
        new = orgs.create_org(s, clock, name="Bench Inc.")
    ads = _entities(ctx, new.org.id, new.ad_account.id, n_ads, clock.now_s())
    if extra is not None:
        extra(ctx, new)
    started = time.perf_counter()
    impressions = _load(ctx.db.engine, new.org.id, ads, hours)
    load_s = time.perf_counter() - started
    _analyze(ctx.db.engine)
    return DataSet(app, clock, new, ads, impressions, load_s)


def _run(url: str, tmp: Path, args: argparse.Namespace) -> None:
    data = build(url, tmp, args.ads, args.hours)
    app, clock, new, ads, impressions, load_s = (
        data.app,
        data.clock,
        data.org,
        data.ads,
        data.impressions,
        data.load_s,
    )
    ctx = app.state.ctx
    store = "postgres" if ctx.db.engine.dialect.name == "postgresql" else "sqlite"
    print(
        f"insights_bench store={store} rollup_rows={len(ads) * args.hours} impressions={impressions}"
        f" load={load_s:.1f}s"
    )
    clock.set(END)
    headers = {"Authorization": f"Bearer {new.api_key}"}
    with TestClient(app) as client:
        _measure(client, headers, "account_daily_30d", "/v1/ad_account/insights", [], args.runs)
        # An entity filter needs the per-ad rows: the path account queries took before the org rollup.
        campaign = json.dumps({"field": "campaign.id", "operator": "equals", "value": ads[0][0]})
        _measure(
            client,
            headers,
            "account_daily_30d_campaign_filter",
            "/v1/ad_account/insights",
            [("filters[]", campaign)],
            args.runs,
        )
        window = json.dumps({"type": "time_range", "start_time": END - 25 * HOUR, "end_time": END})
        hourly = [("time_granularity", "hourly"), ("aggregation_level", "ad"), ("time_ranges[]", window)]
        _measure(client, headers, "ad_hourly_25h_first_page", "/v1/ad_account/insights", hourly, args.runs)
        _measure(
            client,
            headers,
            "ad_hourly_25h_all_25k_rows",
            "/v1/ad_account/insights",
            [*hourly, ("limit", "10000")],
            max(5, args.runs // 5),
            pages=True,
        )
    app.state.ctx.db.dispose()


def _entities(ctx: object, org_id: str, account_id: str, n_ads: int, now: int) -> list[tuple[str, str, str]]:
    """10 campaigns x 10 ad groups x (n_ads / 100) ads; returns (campaign, ad group, ad) ids."""
    out: list[tuple[str, str, str]] = []
    campaigns, groups, ads = [], [], []
    per_group = max(1, n_ads // 100)
    for c in range(10):
        cid = str(uuid.uuid4())
        campaigns.append(
            Campaign(
                id=cid,
                org_id=org_id,
                ad_account_id=account_id,
                name=f"Campaign {c}",
                status="active",
                review_status="approved",
                review_submitted_at=now,
                start_time=now,
                lifetime_spend_limit_micros=10**12,
                spent_micros=0,
                recurring_frequency="none",
                pricing_model="cpm",
                target_countries=[],
                created_at=now,
                updated_at=now,
            )
        )
        for g in range(10):
            gid = str(uuid.uuid4())
            groups.append(
                AdGroup(
                    id=gid,
                    org_id=org_id,
                    campaign_id=cid,
                    name=f"Group {c}.{g}",
                    status="active",
                    created_at=now,
                    updated_at=now,
                )
            )
            for a in range(per_group):
                aid = str(uuid.uuid4())
                ads.append(
                    Ad(
                        id=aid,
                        org_id=org_id,
                        campaign_id=cid,
                        ad_group_id=gid,
                        name=f"Ad {c}.{g}.{a}",
                        status="active",
                        creative={},
                        created_at=now,
                        updated_at=now,
                    )
                )
                out.append((cid, gid, aid))
    with ctx.db.write() as s:  # type: ignore[attr-defined]
        for batch in (campaigns, groups, ads):  # no ORM relationships: flush parents first for the FKs
            s.add_all(batch)
            s.flush()
    return out


def _rows(org_id: str, ads: list[tuple[str, str, str]], hours: int) -> Iterator[tuple[object, ...]]:
    rnd = random.Random(7)
    supplies = ("thrad", "chatgpt")
    for h in range(hours):  # hour-major: the order live traffic writes them in
        hour = END - (hours - h) * HOUR
        for i, (cid, gid, aid) in enumerate(ads):
            imps = rnd.randint(7, 21)
            clicks = imps // 10
            yield (
                org_id,
                cid,
                gid,
                aid,
                hour,
                supplies[i % 2],
                "US",
                imps,
                imps - 1,
                clicks,
                imps * 2000,
                0,
                0,
            )


def _load(engine: object, org_id: str, ads: list[tuple[str, str, str]], hours: int) -> int:
    total = 0
    raw = engine.raw_connection()  # type: ignore[attr-defined]
    try:
        cur = raw.cursor()
        if engine.dialect.name == "postgresql":  # type: ignore[attr-defined]
            with cur.copy(f"COPY insights_hourly ({COLUMNS}) FROM STDIN") as copy:
                for row in _rows(org_id, ads, hours):
                    total += row[7]  # type: ignore[operator]
                    copy.write_row(row)
        else:
            cur.execute("BEGIN")
            batch: list[tuple[object, ...]] = []
            sql = f"INSERT INTO insights_hourly ({COLUMNS}) VALUES ({', '.join('?' * 13)})"
            for row in _rows(org_id, ads, hours):
                total += row[7]  # type: ignore[operator]
                batch.append(row)
                if len(batch) == 50_000:
                    cur.executemany(sql, batch)
                    batch.clear()
            cur.executemany(sql, batch)
            cur.execute("COMMIT")
        raw.commit()
        cur.execute(ORG_ROLLUP)
        cur.execute(CAMPAIGN_ROLLUP)
        raw.commit()
    finally:
        raw.close()
    return total


def _analyze(engine: object) -> None:
    if engine.dialect.name == "postgresql":  # type: ignore[attr-defined]
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:  # type: ignore[attr-defined]
            conn.execute(text("VACUUM ANALYZE insights_hourly"))
            conn.execute(text("VACUUM ANALYZE insights_org_hourly"))
            conn.execute(text("VACUUM ANALYZE insights_campaign_hourly"))
    else:
        with engine.begin() as conn:  # type: ignore[attr-defined]
            conn.execute(text("ANALYZE"))


def _measure(
    client: TestClient,
    headers: dict[str, str],
    name: str,
    path: str,
    params: list[tuple[str, str]],
    runs: int,
    pages: bool = False,
) -> None:
    r = client.get(path, params=params, headers=headers)  # warm-up (and a sanity check)
    assert r.status_code == 200, r.text
    body = r.json()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        r = client.get(path, params=params, headers=headers)
        times.append((time.perf_counter() - t) * 1000)
        assert r.status_code == 200
    times.sort()
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
    total = sum(x.get("impressions", 0) for x in body["data"])
    print(
        f"{name}: p50={statistics.median(times):.1f}ms p99={p99:.1f}ms runs={runs} rows={body['count']}"
        f" has_more={body['has_more']} impressions_in_page={total}{' (limit=10000)' if pages else ''}"
    )


if __name__ == "__main__":
    main()
