"""Dashboard page render latency (issue 14): overview and campaign detail, server-side.

    .venv/bin/python -m bench.dashboard_bench --store sqlite
    .venv/bin/python -m bench.dashboard_bench --store postgres

The data sets of the other benchmarks, built by their own code: insights_bench's 1,000 ads x 720 hours
of rollups (~10 M impressions, in 10 campaigns) plus advertiser_bench's 10,000 campaigns, all in one org.
A person of that org signs in through the dashboard's services; pages are timed through an in-process
TestClient (the whole ASGI stack: gate, session lookup, routing, the services the page calls, Jinja2), so
the figures are server-side (no network, no browser). Target: p99 <= 100 ms.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import insert, update
from tests.factories import CARD_AD

from bench.advertiser_bench import N_CAMPAIGNS, campaign_rows
from bench.insights_bench import END, build, run_on_data_set
from threadline.dashboard import people, sessions
from threadline.operator import orgs
from threadline.store.models import Ad, Campaign

TARGET_P99_MS = 100.0


def main() -> None:
    run_on_data_set(__doc__ or "", "dashboard-bench-", 100, _run)


def _run(url: str, tmp: Path, args: argparse.Namespace) -> None:
    def campaigns(ctx: Any, new: orgs.NewOrg) -> None:
        rows = campaign_rows(new.org.id, new.ad_account.id, ctx.clock.now_s(), N_CAMPAIGNS)
        with ctx.db.write() as s:
            s.execute(insert(Campaign), rows)
            # insights_bench's ads carry no creative; the detail page renders each ad's preview.
            s.execute(update(Ad).values(creative=CARD_AD["creative"]))

    data = build(url, tmp, args.ads, args.hours, campaigns)
    app, ads, new = data.app, data.ads, data.org
    ctx = app.state.ctx
    data.clock.set(END - 1)
    person = people.create_person(ctx, "bench@example.com", "bench password", role="owner", org_id=new.org.id)
    cookie = sessions.create_session(ctx, person.id)
    store = ctx.db.engine.dialect.name
    print(
        f"dashboard_bench store={store} campaigns={N_CAMPAIGNS + 10} ads={len(ads)} impressions={data.impressions}"
        f" target_p99={TARGET_P99_MS:.0f}ms"
    )
    with TestClient(app, cookies={"tl_session": cookie}) as client:
        _measure(client, "overview", "/app/", args.runs)
        _measure(client, "campaign_detail", f"/app/campaigns/{ads[0][0]}", args.runs)
        _measure(
            client,
            "campaign_detail_hourly_clicks",
            f"/app/campaigns/{ads[0][0]}?metric=clicks&granularity=hourly",
            args.runs,
        )
        _measure(client, "campaigns_list_first_page", "/app/campaigns", args.runs)
    ctx.db.dispose()


def _measure(client: TestClient, name: str, path: str, runs: int) -> None:
    r = client.get(path)  # warm-up and a sanity check
    assert r.status_code == 200, r.text[:500]
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        r = client.get(path)
        times.append((time.perf_counter() - t) * 1000)
        assert r.status_code == 200
    times.sort()
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
    verdict = "ok" if p99 <= TARGET_P99_MS else "OVER"
    print(
        f"{name}: p50={statistics.median(times):.1f}ms p99={p99:.1f}ms runs={runs} bytes={len(r.content)} {verdict}"
    )


if __name__ == "__main__":
    main()
