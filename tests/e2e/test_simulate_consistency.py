"""`threadline simulate` against a real server seeded by `threadline demo`, then insights checked against
direct counts over the raw tables: every level, every granularity, every scoped endpoint."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from tests.databases import fresh_database
from tests.e2e.server import ServerProcess
from tests.e2e.support import (
    LEVELS,
    STORES,
    US_USER,
    Advertiser,
    RawTotals,
    admin_headers,
    raw_totals,
    server_env,
    spent_micros,
)
from tests.waiting import eventually
from threadline.cli import app as cli

pytestmark = pytest.mark.e2e

FIELDS = ("impressions", "viewable_impressions", "clicks", "spend", "conversions", "conversion_value")
GRANULARITIES = ("hourly", "daily", "none")
SEED = 42
CONVERSATIONS = 40

# Competes with the demo's cpm campaign on marathon talk, so both pricing models and second prices occur;
# its small budget runs out during the simulation (clicks after that are recorded but free).
CPC_CAMPAIGN: dict[str, Any] = {
    "name": "Acme trail shoes (cpc)",
    "budget": {"lifetime_spend_limit_micros": 2_000_000},
    "pricing_model": "cpc",
    "ad_groups": [
        {
            "name": "Marathoners",
            "context_hints": ["marathon training", "trail running shoes"],
            "bidding_config": {"max_bid_micros": 500_000},
            "ads": [
                {
                    "name": "Trail card",
                    "creative": {
                        "type": "chat_card",
                        "title": "Acme Ridge trail shoes",
                        "body": "Grip for wet roots and rocks.",
                        "target_url": "https://acme.example.com/shoes/ridge?src=chat",
                    },
                }
            ],
        }
    ],
}


@pytest.fixture(params=STORES)
def demo_server(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[ServerProcess, str, dict[str, str]]]:
    """`threadline demo` seeds a fresh store and data dir, then the real server starts on them."""
    with fresh_database(request.param, tmp_path) as url:
        data = tmp_path / "data"
        env = {"THREADLINE_DATA_DIR": str(data), **server_env(url)}
        seeded = CliRunner().invoke(cli, ["demo", "--json"], env=env)
        assert seeded.exit_code == 0, seeded.output
        demo = json.loads(seeded.stdout)
        proc = ServerProcess(data, server_env(url))
        proc.start()
        try:
            yield proc, url, demo
        finally:
            proc.stop()


def _insights(http: httpx.Client, key: str, path: str, **params: Any) -> list[dict[str, Any]]:
    query = httpx.QueryParams({"fields[]": list(FIELDS), "limit": 10_000, **params})
    r = http.get(path, params=query, headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 200, r.text
    page = r.json()
    assert page["has_more"] is False
    rows: list[dict[str, Any]] = page["data"]
    return rows


def _totals(rows: list[dict[str, Any]], id_column: str) -> dict[str, RawTotals]:
    """Insights rows summed per entity (over time buckets), in raw units; all-zero entities left out."""
    out: dict[str, RawTotals] = {}
    for row in rows:
        got = RawTotals(
            row["impressions"],
            row["viewable_impressions"],
            row["clicks"],
            round(row["spend"] * 1_000_000),
            row["conversions"],
            round(row["conversion_value"] * 1_000_000),
        )
        key = row[id_column]
        out[key] = out[key] + got if key in out else got
    return {k: v for k, v in out.items() if any(v.as_tuple())}


def _wait_until_served(http: httpx.Client, publisher_key: str, campaign: dict[str, Any]) -> None:
    """Wait for the server's index to pick the campaign up (it polls every 0.25 s). The probe is a sandbox
    request (nothing billable, no production impression, so the totals below are untouched) saying exactly
    one of the campaign's hints: its fresh cpc ad (eCPM 0.5 x 1% x 1000 = $5) outranks the demo's $3 cpm
    card at equal relevance."""
    group = campaign["ad_groups"][0]
    hint = group["context_hints"][1]
    title = group["ads"][0]["creative"]["title"]
    body = {
        "userId": "probe",
        "chatId": "probe",
        "messages": [{"role": "user", "content": hint}, {"role": "assistant", "content": hint}],
        "production": False,
    }
    headers = {"thrad-api-key": publisher_key, **US_USER}

    def served() -> bool | None:
        r = http.post("/api/v1/ssp/bid-request", json=body, headers=headers)
        assert r.status_code == 200, r.text
        bid = r.json()["data"]["bid"]
        return True if bid is not None and bid["headline"] == title else None

    eventually(served, timeout=10.0, what="the new campaign in the serving index")


def test_simulated_traffic_and_insights_agree_with_raw_tables(
    demo_server: tuple[ServerProcess, str, dict[str, str]],
) -> None:
    proc, url, demo = demo_server
    started = int(time.time())
    advertiser = Advertiser(demo["org_id"], demo["advertiser_key"])
    with httpx.Client(base_url=proc.base_url, timeout=10) as http:
        r = http.post("/v1/campaigns", json=CPC_CAMPAIGN, headers=advertiser.headers)
        assert r.status_code == 201, r.text
        cpc_id = r.json()["id"]
        assert http.post(f"/admin/v1/campaigns/{cpc_id}/approve", headers=admin_headers()).status_code == 200
        assert http.post(f"/v1/campaigns/{cpc_id}/activate", headers=advertiser.headers).status_code == 200
        _wait_until_served(http, demo["publisher_key"], CPC_CAMPAIGN)

        args = ["simulate", "--conversations", str(CONVERSATIONS), "--seed", str(SEED), "--json"]
        result = CliRunner().invoke(
            cli,
            [*args, "--base-url", proc.base_url, "--conversion-rate", "0.5"],
            env={"THREADLINE_DATA_DIR": str(proc.data_dir)},  # the demo keys file
        )
        assert result.exit_code == 0, result.output
        summary = json.loads(result.stdout)
        assert summary["conversations"] == CONVERSATIONS
        assert summary["errors"] == 0
        assert min(summary["bids"], summary["views"], summary["clicks"], summary["conversions"]) > 0
        assert summary["bids"] + summary["no_bids"] == summary["bid_requests"]

        # The demo advertiser sees non-empty numbers, and the quickstart's step 6 call works.
        (account,) = _insights(http, advertiser.api_key, "/v1/ad_account/insights", time_granularity="none")
        assert all(account[f] > 0 for f in ("impressions", "clicks", "spend", "conversions"))
        r = http.get(
            f"/v1/campaigns/{demo['campaign_id']}/insights",
            params=[("fields[]", f) for f in ("impressions", "clicks", "spend", "ctr", "cpc", "cpm")],
            headers=advertiser.headers,
        )
        assert r.status_code == 200
        step6 = r.json()["data"]
        assert step6
        assert all(step6[-1][f] > 0 for f in ("impressions", "spend", "cpm"))

        window = json.dumps(
            {
                "type": "time_range",
                "start_time": started - started % 3600 - 3600,
                "end_time": int(time.time()) + 3600,
            }
        )
        for level in LEVELS:
            truth = raw_totals(url, level)
            if level == "ad_account":
                truth = {account["ad_account_id"]: truth[demo["org_id"]]}
            assert truth, level
            for granularity in GRANULARITIES:
                rows = _insights(
                    http,
                    advertiser.api_key,
                    "/v1/ad_account/insights",
                    aggregation_level=level,
                    time_granularity=granularity,
                    **{"time_ranges[]": window},
                )
                assert _totals(rows, f"{level}_id") == truth, (level, granularity)
            # The scoped endpoints agree with the same truth, one entity at a time.
            if level != "ad_account":
                for entity_id, expected in truth.items():
                    path = f"/v1/{level}s/{entity_id}/insights"
                    rows = _insights(
                        http, advertiser.api_key, path, time_granularity="none", **{"time_ranges[]": window}
                    )
                    assert _totals(rows, f"{level}_id") == {entity_id: expected}, path

        # A refused key stops the run at once: one line, exit code 1, nothing more sent.
        refused = CliRunner().invoke(
            cli,
            ["simulate", "--base-url", proc.base_url, "--publisher-key", "pk_wrong", "--event-key", "ek_x"],
            env={"THREADLINE_DATA_DIR": str(proc.data_dir)},
        )
        assert refused.exit_code == 1
        assert refused.stdout == ""
        assert refused.stderr == (
            "error: the server refused the publisher key (401 on POST /api/v1/ssp/bid-request)\n"
        )

        # Charges: what the raw rows charged is what each campaign spent.
        spent = spent_micros(url)
        by_campaign = raw_totals(url, "campaign")
        assert {cid: t.spend_micros for cid, t in by_campaign.items()} == {
            cid: spent[cid] for cid in by_campaign
        }
        assert by_campaign[cpc_id].spend_micros <= CPC_CAMPAIGN["budget"]["lifetime_spend_limit_micros"]
        assert by_campaign[cpc_id].clicks > 0
        assert by_campaign[demo["campaign_id"]].impressions > 0
