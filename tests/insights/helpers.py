"""Insights test data: entities written as ORM rows, activity through the real rollup writer."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Table, func, select
from sqlalchemy.orm import Session

from tests.factories import TestOrg, ctx_of
from threadline.insights.rollups import COUNTERS, RollupDelta, bump, bump_many
from threadline.kit.ids import new_id
from threadline.store.db import Database
from threadline.store.models import Ad, AdGroup, Campaign, InsightsHourly

DAY = 86400
T0 = 1775088000  # 2026-04-02T00:00:00Z, the day of the quickstart seed's insights row


@dataclass(frozen=True)
class AdRef:
    org_id: str
    campaign_id: str
    ad_group_id: str
    id: str


def add_campaign(
    app: FastAPI, org: TestOrg, name: str = "Summer launch", created_at: int = T0 - 30 * DAY
) -> str:
    cid = new_id()
    with ctx_of(app).db.write() as s:
        s.add(
            Campaign(
                id=cid,
                org_id=org.id,
                ad_account_id=org.ad_account_id,
                name=name,
                status="active",
                review_status="approved",
                review_submitted_at=created_at,
                start_time=created_at,
                lifetime_spend_limit_micros=25_000_000,
                spent_micros=0,
                recurring_frequency="none",
                pricing_model="cpm",
                target_countries=["US"],
                created_at=created_at,
                updated_at=created_at,
            )
        )
    return cid


def add_ad_group(
    app: FastAPI, org: TestOrg, campaign_id: str, name: str = "Core audience", created_at: int = T0 - 30 * DAY
) -> str:
    gid = new_id()
    with ctx_of(app).db.write() as s:
        s.add(
            AdGroup(
                id=gid,
                org_id=org.id,
                campaign_id=campaign_id,
                name=name,
                status="active",
                created_at=created_at,
                updated_at=created_at,
            )
        )
    return gid


def add_ad(
    app: FastAPI,
    org: TestOrg,
    campaign_id: str,
    ad_group_id: str,
    name: str = "Hero card",
    created_at: int = T0 - 30 * DAY,
) -> AdRef:
    aid = new_id()
    with ctx_of(app).db.write() as s:
        s.add(
            Ad(
                id=aid,
                org_id=org.id,
                campaign_id=campaign_id,
                ad_group_id=ad_group_id,
                name=name,
                status="active",
                creative={"type": "chat_card"},
                created_at=created_at,
                updated_at=created_at,
            )
        )
    return AdRef(org.id, campaign_id, ad_group_id, aid)


def make_ad(app: FastAPI, org: TestOrg, name: str = "Hero card") -> AdRef:
    """A campaign with one ad group holding one ad."""
    campaign_id = add_campaign(app, org)
    return add_ad(app, org, campaign_id, add_ad_group(app, org, campaign_id), name)


def record(app: FastAPI, ad: AdRef, ts: int, **counters: Any) -> None:
    with ctx_of(app).db.write() as s:
        bump(
            s,
            org_id=ad.org_id,
            campaign_id=ad.campaign_id,
            ad_group_id=ad.ad_group_id,
            ad_id=ad.id,
            ts=ts,
            **counters,
        )


def get(client: TestClient, org: TestOrg, path: str, params: list[tuple[str, str]] | None = None) -> Any:
    return client.get(path, params=params or [], headers=org.headers)


def error(code: str, message: str, param: str | None) -> dict[str, Any]:
    return {"error": {"message": message, "type": "invalid_request_error", "param": param, "code": code}}


def rollup_delta(ad: AdRef, ts: int, **counters: int | str) -> RollupDelta:
    return RollupDelta(
        org_id=ad.org_id,
        campaign_id=ad.campaign_id,
        ad_group_id=ad.ad_group_id,
        ad_id=ad.id,
        ts=ts,
        **counters,  # type: ignore[arg-type]
    )


def random_batches(ads: list[AdRef], seed: int) -> list[list[RollupDelta]]:
    """100 batches of 1-9 deltas over two hours, two supplies and two countries: overlapping buckets."""
    rnd = random.Random(seed)
    return [
        [
            rollup_delta(
                rnd.choice(ads),
                T0 + rnd.randrange(2) * 3600,
                supply=rnd.choice(["thrad", "chatgpt"]),
                country=rnd.choice(["US", "FR"]),
                impressions=rnd.randrange(1, 9),
                clicks=rnd.randrange(3),
                spend_micros=rnd.randrange(10_000),
            )
            for _ in range(rnd.randrange(1, 10))
        ]
        for _ in range(100)
    ]


def write_concurrently(db: Database, batches: list[list[RollupDelta]]) -> None:
    """Each batch in its own transaction from 20 threads, through bump (one delta) or bump_many."""

    def write(batch: list[RollupDelta]) -> None:
        with db.write() as s:
            if len(batch) == 1:  # the single-event writers call bump
                bump(s, **{f: getattr(batch[0], f) for f in RollupDelta.__dataclass_fields__})
            else:
                bump_many(s, batch)

    with ThreadPoolExecutor(max_workers=20) as pool:
        list(pool.map(write, batches))


def summed(
    batches: list[list[RollupDelta]], key: Callable[[RollupDelta], Hashable]
) -> dict[Any, tuple[int, ...]]:
    """The counters of every delta added up per bucket key, computed in Python."""
    totals: dict[Any, tuple[int, ...]] = defaultdict(lambda: (0,) * len(COUNTERS))
    for d in (d for batch in batches for d in batch):
        k = key(d)
        totals[k] = tuple(a + getattr(d, c) for a, c in zip(totals[k], COUNTERS, strict=True))
    return totals


Totals = dict[tuple[Any, ...], tuple[int, ...]]  # bucket key -> the counters, in COUNTERS order


def rollup_totals(s: Session, table: Table, key: Sequence[str]) -> Totals:
    """Every row of a rollup table, keyed by the ``key`` columns."""
    c = table.c
    rows = s.execute(select(*(c[k] for k in key), *(c[m] for m in COUNTERS)))
    return {tuple(r[: len(key)]): tuple(r[len(key) :]) for r in rows}


def ad_sums(s: Session, key: Sequence[str]) -> Totals:
    """The per-ad rollup summed per ``key`` bucket: what a wider rollup table must hold."""
    h = InsightsHourly.__table__.c
    cols = [h[k] for k in key]
    rows = s.execute(select(*cols, *(func.sum(h[m]) for m in COUNTERS)).group_by(*cols))
    return {tuple(r[: len(key)]): tuple(int(v) for v in r[len(key) :]) for r in rows}


def random_ad_rows(
    ads: Sequence[tuple[str, str, str]], hours: int, rnd: random.Random
) -> list[dict[str, Any]]:
    """Per-ad rollup rows with random counters for (org, campaign, ad) triples, two supplies an hour."""
    return [
        {
            "org_id": org,
            "campaign_id": campaign,
            "ad_group_id": "g",
            "ad_id": ad,
            "hour": T0 + h * 3600,
            "supply": supply,
            "country": "US",
            **{c: rnd.randrange(1_000) for c in COUNTERS},
        }
        for org, campaign, ad in ads
        for h in range(hours)
        for supply in ("thrad", "chatgpt")
    ]
