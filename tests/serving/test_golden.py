"""Golden decisions (Prebid-style): each fixtures/*.json is a conversation and a set of ads in, a
decision out. One runner drives the real matcher, LocalBidder and auction over an in-memory snapshot."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from threadline.serving.auction import AuctionRequest, LocalBidder, run_auction
from threadline.serving.index import AdEntry, CampaignState, Snapshot
from threadline.serving.relevance import Conversation, threshold

FIXTURES = sorted((Path(__file__).parent / "fixtures").glob("*.json"))
NOW = 1_800_000_000


class _FixtureIndex:
    def __init__(self, snap: Snapshot) -> None:
        self.snap = snap

    def snapshot(self) -> Snapshot:
        return self.snap


def _snapshot(ads: list[dict[str, Any]]) -> Snapshot:
    snap = Snapshot(version=1, built_mono=0.0)
    for spec in ads:
        cid = spec["campaign"]
        state = snap.campaigns.get(cid)
        if state is None:
            limit = 100_000_000
            state = CampaignState(
                id=cid,
                org_id="org",
                pricing_model=spec.get("pricing_model", "cpm"),
                limit_micros=limit,
                spent_micros=limit - spec.get("remaining_micros", 10_000_000),
                start_time=NOW - 3600,
                end_time=None,
                frequency="daily",
                countries=frozenset(spec.get("countries", ())),
            )
            snap.campaigns[cid] = state
        entry = AdEntry(
            ad_id=spec["id"],
            ad_group_id=f"{spec['id']}-group",
            campaign=state,
            ad_format=spec.get("format", "sponsored_message"),
            max_bid_micros=spec["max_bid_micros"],
            advertiser="Advertiser",
            domain="example.com",
            title=spec["id"],
            body="",
            cta_text="Learn more",
            target_url="https://example.com",
            file_id=None,
            impressions=spec.get("impressions", 0),
            clicks=spec.get("clicks", 0),
        )
        snap.groups[entry.ad_group_id] = [entry]
        snap.ads[entry.ad_id] = entry
        snap.reach.setdefault(entry.ad_format, set()).update(state.countries or ("*",))
        snap.hints.add(entry.ad_group_id, spec["hints"])
    return snap


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_golden_decision(path: Path) -> None:
    case = json.loads(path.read_text())
    req = case["request"]
    areq = AuctionRequest(
        conversation=Conversation.from_messages([m["content"] for m in req["messages"]]),
        country=req.get("country", ""),
        formats=frozenset(req.get("formats", ["sponsored_message"])),
        threshold=threshold(req.get("aggressiveness", "high")),
        floor_micros=req.get("floor_cpm_micros", 1_000_000),
        sandbox=req.get("sandbox", False),
        now=NOW,
    )
    bidder = LocalBidder(_FixtureIndex(_snapshot(case["ads"])))  # type: ignore[arg-type]
    outcome = run_auction([bidder.collect(areq)], areq)
    expected = case["expected"]
    winner = outcome.ranked[0] if outcome.ranked else None
    assert (winner.bid.ad.ad_id if winner else None) == expected["ad_id"]
    assert outcome.reason == expected["reason"]
    if "price_micros" in expected:
        assert winner is not None
        assert winner.price_micros == expected["price_micros"]
    if "ranking" in expected:
        assert [p.bid.ad.ad_id for p in outcome.ranked] == expected["ranking"]
    if winner is not None:
        assert 0 < winner.bid.relevance <= 1
        assert winner.price_micros <= winner.bid.ecpm_micros
