"""Shared pieces of the end-to-end tests: server environment, seeding, and direct counts over raw tables."""

from __future__ import annotations

import io
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from sqlalchemy import func, select

from tests.databases import fresh_database
from tests.e2e.server import ServerProcess
from threadline.store.db import Database
from threadline.store.migrate import upgrade
from threadline.store.models import Campaign, Click, Conversion, impressions

STORES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
ADMIN_TOKEN = "adm_e2e_token"
US_USER = {
    "User-Agent": "e2e-chat/1.0",
    "X-Forwarded-For": "203.0.113.7",
    "X-User-Country": "US",
    "X-User-Device": "desktop",
    "X-User-Timezone": "America/New_York",
}
LEVELS = ("ad_account", "campaign", "ad_group", "ad")


def server_env(database_url: str, **extra: str) -> dict[str, str]:
    """Environment of a server process under test (no rate limits unless a test turns them back on)."""
    return {
        "THREADLINE_DATABASE_URL": database_url,
        "THREADLINE_ADMIN_TOKEN": ADMIN_TOKEN,
        "THREADLINE_SECRET_KEY": "e2e-secret-key",
        "THREADLINE_RATE_LIMITS_ENABLED": "false",
        "THREADLINE_LOG_REQUESTS": "false",
        "THREADLINE_LAUNCH_WINDOW_SECONDS": "0",  # campaigns serve as soon as they are approved
        **extra,
    }


@contextmanager
def servers_on_one_store(
    kind: str, tmp_path: Path, count: int = 2, env: Mapping[str, str] | None = None
) -> Iterator[tuple[list[ServerProcess], str]]:
    """``count`` server processes on one fresh, migrated store (a SQLite file or a PostgreSQL database);
    ``env`` adds to (or overrides) ``server_env``."""
    with fresh_database(kind, tmp_path) as url:
        upgrade(url)
        procs = [ServerProcess(tmp_path / "data", server_env(url, **(env or {}))) for _ in range(count)]
        try:
            for proc in procs:
                proc.start()
            yield procs, url
        finally:
            for proc in procs:
                proc.stop()


def admin_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def png(size: int = 8) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (size, size), (200, 30, 30)).save(buf, format="PNG")
    return buf.getvalue()


@dataclass
class Advertiser:
    org_id: str
    api_key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}


def create_advertiser(http: httpx.Client, name: str = "Acme Inc.") -> Advertiser:
    """An org with a card, through the admin API."""
    r = http.post(
        "/admin/v1/orgs", json={"name": name, "url": "https://acme.example.com"}, headers=admin_headers()
    )
    assert r.status_code == 201, r.text
    org = r.json()
    r = http.post(
        f"/admin/v1/orgs/{org['id']}/payment_methods", json={"token": "tok_visa"}, headers=admin_headers()
    )
    assert r.status_code == 201, r.text
    return Advertiser(org["id"], org["api_key"])


def create_publisher(http: httpx.Client, floor_cpm_micros: int = 1_000_000) -> str:
    body = {"name": "E2E chat", "floor_cpm_micros": floor_cpm_micros}
    r = http.post("/admin/v1/publishers", json=body, headers=admin_headers())
    assert r.status_code == 201, r.text
    key: str = r.json()["api_key"]
    return key


def launch(http: httpx.Client, advertiser: Advertiser, body: dict[str, Any]) -> str:
    """Create, approve (admin API) and activate a campaign; returns its id."""
    r = http.post("/v1/campaigns", json=body, headers=advertiser.headers)
    assert r.status_code == 201, r.text
    campaign_id: str = r.json()["id"]
    r = http.post(f"/admin/v1/campaigns/{campaign_id}/approve", headers=admin_headers())
    assert r.status_code == 200, r.text
    r = http.post(f"/v1/campaigns/{campaign_id}/activate", headers=advertiser.headers)
    assert r.status_code == 200, r.text
    return campaign_id


def chat_card_campaign(
    name: str, pricing_model: str, budget_micros: int, max_bid_micros: int, hints: list[str]
) -> dict[str, Any]:
    """The body of a one-ad-group, one-chat-card campaign with a lifetime budget (for ``launch``)."""
    return {
        "name": name,
        "budget": {"lifetime_spend_limit_micros": budget_micros},
        "pricing_model": pricing_model,
        "ad_groups": [
            {
                "name": "Audience",
                "context_hints": hints,
                "bidding_config": {"max_bid_micros": max_bid_micros},
                "ads": [
                    {
                        "name": "Card",
                        "creative": {
                            "type": "chat_card",
                            "title": f"{name} shoes",
                            "body": "Built for the long run.",
                            "target_url": "https://example.com/landing",
                        },
                    }
                ],
            }
        ],
    }


def insights_total(http: httpx.Client, advertiser: Advertiser, path: str, *fields: str) -> dict[str, Any]:
    """The one row of an insights endpoint (``/v1/campaigns/{id}/insights``, ...) over its default range
    (the last 30 days) without time buckets, read over HTTP."""
    params = [("time_granularity", "none"), *(("fields[]", f) for f in fields)]
    r = http.get(path, params=params, headers=advertiser.headers)
    assert r.status_code == 200, r.text
    (row,) = r.json()["data"]
    assert isinstance(row, dict)
    return row


# -- the truth, read straight from the raw tables -----------------------------------------------------


@dataclass(frozen=True)
class RawTotals:
    impressions: int
    viewable_impressions: int
    clicks: int
    spend_micros: int
    conversions: int
    conversion_value_micros: int

    def __add__(self, other: RawTotals) -> RawTotals:
        return RawTotals(*(a + b for a, b in zip(self.as_tuple(), other.as_tuple(), strict=True)))

    def as_tuple(self) -> tuple[int, ...]:
        return (
            self.impressions,
            self.viewable_impressions,
            self.clicks,
            self.spend_micros,
            self.conversions,
            self.conversion_value_micros,
        )


ZERO = RawTotals(0, 0, 0, 0, 0, 0)


def raw_totals(database_url: str, level: str) -> dict[str, RawTotals]:
    """Per entity of ``level`` (the org for ad_account): counts over impressions, clicks, conversions."""
    imp = impressions.c
    key_of: dict[str, Any] = {
        "ad_account": (imp.org_id, Click.org_id, Conversion.org_id),
        "campaign": (imp.campaign_id, Click.campaign_id, Conversion.campaign_id),
        "ad_group": (imp.ad_group_id, Click.ad_group_id, Conversion.ad_group_id),
        "ad": (imp.ad_id, Click.ad_id, Conversion.ad_id),
    }
    imp_key, click_key, conv_key = key_of[level]
    db = Database(database_url)
    try:
        with db.read() as s:
            imps = s.execute(
                select(
                    imp_key,
                    func.count(),
                    func.count(imp.viewed_at),
                    func.coalesce(func.sum(imp.charged_micros), 0),
                )
                .where(imp.production.is_(True))
                .group_by(imp_key)
            ).all()
            clicks = s.execute(
                select(click_key, func.count(), func.coalesce(func.sum(Click.charged_micros), 0)).group_by(
                    click_key
                )
            ).all()
            usd = func.sum(Conversion.conversion_value_micros).filter(Conversion.currency == "USD")
            convs = s.execute(select(conv_key, func.count(), func.coalesce(usd, 0)).group_by(conv_key)).all()
    finally:
        db.dispose()
    out: dict[str, RawTotals] = {}
    for key, n, viewed, charged in imps:
        out[key] = out.get(key, ZERO) + RawTotals(int(n), int(viewed), 0, int(charged), 0, 0)
    for key, n, charged in clicks:
        out[key] = out.get(key, ZERO) + RawTotals(0, 0, int(n), int(charged), 0, 0)
    for key, n, value in convs:
        out[key] = out.get(key, ZERO) + RawTotals(0, 0, 0, 0, int(n), int(value))
    return out


def spent_micros(database_url: str) -> dict[str, int]:
    db = Database(database_url)
    try:
        with db.read() as s:
            return {cid: int(spent) for cid, spent in s.execute(select(Campaign.id, Campaign.spent_micros))}
    finally:
        db.dispose()
