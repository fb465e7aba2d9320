from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from tests.events.helpers import EventOrg
from tests.factories import ctx_of
from threadline.insights import rollups
from threadline.kit.errors import ApiError
from threadline.serving.clicks import record_click
from threadline.store.models import Click, InsightsHourly


def test_bump_adds_atomically_into_the_hour_bucket(app: FastAPI, eorg: EventOrg) -> None:
    ctx = ctx_of(app)
    tree = eorg.ad

    def bump(_: int) -> None:
        with ctx.db.write() as s:
            rollups.bump(
                s,
                org_id=eorg.id,
                campaign_id=tree.campaign_id,
                ad_group_id=tree.ad_group_id,
                ad_id=tree.ad_id,
                ts=1_771_527_599,  # 18:59:59 -> the 18:00 bucket
                supply="pub",
                impressions=2,
                viewable_impressions=1,
                spend_micros=5,
            )

    with ThreadPoolExecutor(max_workers=10) as pool:
        list(pool.map(bump, range(20)))
    with ctx.db.read() as s:
        [row] = s.execute(select(InsightsHourly).where(InsightsHourly.supply == "pub")).scalars()
    assert (row.hour, row.impressions, row.viewable_impressions, row.spend_micros, row.clicks) == (
        1_771_524_000,
        40,
        20,
        100,
        0,
    )


def test_record_click_writes_the_click_and_its_rollup(app: FastAPI, eorg: EventOrg) -> None:
    ctx = ctx_of(app)
    with ctx.db.write() as s:
        click = record_click(
            s,
            ctx.clock,
            ad_id=eorg.ad.ad_id,
            bid_id="bid-1",
            publisher_id=None,
            supply="pub",
            country="fr",
            charge_micros=700_000,
            click_id="22222222-2222-4222-8222-222222222222",
        )
    with ctx.db.read() as s:
        stored = s.get(Click, click.id)
        bucket = s.execute(select(InsightsHourly).where(InsightsHourly.supply == "pub")).scalar_one()
    assert stored is not None
    assert (stored.org_id, stored.campaign_id, stored.ad_group_id, stored.bid_id, stored.country) == (
        eorg.id,
        eorg.ad.campaign_id,
        eorg.ad.ad_group_id,
        "bid-1",
        "FR",
    )
    assert (bucket.clicks, bucket.spend_micros, bucket.country) == (1, 700_000, "FR")


def test_record_click_of_unknown_ad_is_404(app: FastAPI) -> None:
    ctx = ctx_of(app)
    with pytest.raises(ApiError) as exc, ctx.db.write() as s:
        record_click(s, ctx.clock, ad_id="nope", bid_id=None, publisher_id=None, supply="direct", country="")
    assert (exc.value.status, exc.value.code, exc.value.param) == (404, "not_found", "ad_id")
