"""The pruned auction (LocalBidder visiting groups by best possible score, ranking bounded to
MAX_RANKED) against the exhaustive one it replaced: price every matching group's best ad, rank them all.
Random snapshots with ties, several groups per campaign, cpc ads with history, spent, blocked and
country-targeted campaigns, floors and sandbox requests: the ranking (ads, eCPMs, relevances, prices)
and the no-bid reason must be the same, down to the last bid of the bounded ranking."""

from __future__ import annotations

import math
import random

from threadline.serving.auction import (
    BID_INCREMENT_MICROS,
    HINTLESS_RELEVANCE,
    MAX_RANKED,
    SANDBOX_FALLBACK_RELEVANCE,
    AuctionRequest,
    LocalBidder,
    run_auction,
)
from threadline.serving.index import AdEntry, CampaignState, Snapshot
from threadline.serving.pricing import ecpm_micros
from threadline.serving.relevance import Conversation, HintIndex

TOPICS = ["running shoes", "marathon training", "trail running", "yoga mats", "protein powder",
          "coffee grinder", "espresso machine", "electric bikes", "bike helmets", "camping tents"]  # fmt: skip
NOW = 1_800_000_000.0


class _Fixed:
    def __init__(self, snap: Snapshot) -> None:
        self.snap = snap

    def snapshot(self) -> Snapshot:
        return self.snap


def _snapshot(rng: random.Random, groups: int) -> Snapshot:
    snap = Snapshot(version=1, built_mono=0.0, hints=HintIndex())
    campaigns = [
        CampaignState(
            id=f"c{i:03}", org_id="o", pricing_model=rng.choice(["cpm", "cpm", "cpc"]),
            limit_micros=10**9, spent_micros=rng.choice([0, 0, 0, 10**9]), start_time=0, end_time=None,
            frequency="daily", countries=frozenset(rng.choice([(), (), ("US",), ("FR",)])),
            blocked_until=rng.choice([None, None, None, NOW + 60]),
        )
        for i in range(max(2, groups // 4))
    ]  # fmt: skip
    hintless = []
    for g in range(groups):
        state = rng.choice(campaigns)
        group_id = f"g{g:04}"
        bid = rng.choice([1_000_000, 2_000_000, 3_000_000, 0]) if state.pricing_model == "cpm" else 400_000
        for a in range(rng.randint(1, 3)):
            entry = AdEntry(
                ad_id=f"a{g:04}-{a}", ad_group_id=group_id, campaign=state,
                ad_format=rng.choice(["sponsored_message", "sponsored_message", "sponsored_poll"]),
                max_bid_micros=bid, advertiser="x", domain="x", title="t", body="b", cta_text="c",
                target_url="https://x", file_id=None, impressions=rng.choice([0, 50, 400]),
                clicks=rng.choice([0, 1, 9]),
            )  # fmt: skip
            snap.groups.setdefault(group_id, []).append(entry)
            snap.ads[entry.ad_id] = entry
            snap.reach.setdefault(entry.ad_format, set()).update(state.countries or ("*",))
        snap.campaigns[state.id] = state
        snap.bounds[group_id] = max(ecpm_micros(a) for a in snap.groups[group_id])
        if rng.random() < 0.05:
            hintless.append(group_id)
        else:
            snap.hints.add(group_id, rng.sample(TOPICS, rng.randint(1, 3)))
    snap.hints.build()
    snap.hintless_groups = tuple(hintless)
    return snap


def _exhaustive(snap: Snapshot, req: AuctionRequest) -> tuple[list[tuple[str, int, float, int]], str | None]:
    """The auction as it was before pruning: every matching group bids, every bid is ranked."""

    def eligible(ad: AdEntry) -> bool:
        c = ad.campaign
        return (ad.ad_format in req.formats and c.targets(req.country) and ad.max_bid_micros > 0
                and c.live(req.now))  # fmt: skip

    matched = snap.hints.score(req.conversation)
    matched.update(dict.fromkeys(snap.hintless_groups, HINTLESS_RELEVANCE))
    bids: list[tuple[AdEntry, int, float]] = []
    spent = False
    for group_id, rel in matched.items():
        if rel < req.threshold and not req.sandbox:
            continue
        best, key = None, (0, 0)
        for ad in snap.groups[group_id]:
            if not eligible(ad):
                spent |= ad.ad_format in req.formats and ad.campaign.out_of_budget(req.now)
            elif best is None or (ecpm_micros(ad), -ad.impressions) > key:
                best, key = ad, (ecpm_micros(ad), -ad.impressions)
        if best is not None:
            bids.append((best, ecpm_micros(best), rel))
    if not bids and req.sandbox:
        ok = [a for a in snap.ads.values() if eligible(a)]
        best = None
        for ad in ok:
            if best is None or ecpm_micros(ad) > ecpm_micros(best):
                best = ad
        bids = [] if best is None else [(best, ecpm_micros(best), SANDBOX_FALLBACK_RELEVANCE)]
    if not bids:
        if spent:
            return [], "budget_exhausted"
        if not any(r >= req.threshold for r in matched.values()):
            servable = any(snap.reaches(f, req.country) for f in req.formats)
            return [], "no_match" if servable else "no_eligible_ads"
        return [], "no_eligible_ads"
    if not req.sandbox:
        bids = [b for b in bids if b[1] >= req.floor_micros]
        if not bids:
            return [], "below_floor"
    bids.sort(key=lambda b: (-(b[1] * b[2]), -b[1], b[0].ad_id))
    ranked = []
    for i, (ad, ecpm, rel) in enumerate(bids):
        runner = next((r for r in bids[i + 1 :] if r[0].campaign.id != ad.campaign.id), None)
        price = req.floor_micros
        if runner is not None and rel > 0:
            price = max(price, math.ceil(runner[1] * runner[2] / rel) + BID_INCREMENT_MICROS)
        ranked.append((ad.ad_id, ecpm, rel, min(price, ecpm)))
    return ranked, None


def test_pruned_auction_ranks_and_prices_exactly_like_the_exhaustive_one() -> None:
    rng = random.Random(13)
    compared = 0
    for round_no in range(60):
        snap = _snapshot(rng, rng.choice([8, 60, 400]))
        bidder = LocalBidder(_Fixed(snap))
        for _ in range(25):
            messages = [" and ".join(rng.sample(TOPICS, rng.randint(0, 3))) or "nothing here", "ok"]
            req = AuctionRequest(
                conversation=Conversation.from_messages(messages),
                country=rng.choice(["", "US", "FR", "DE"]),
                formats=frozenset(rng.choice([["sponsored_message"], ["sponsored_poll"],
                                              ["sponsored_message", "sponsored_poll"]])),
                threshold=rng.choice([0.3, 0.5, 0.7]), floor_micros=rng.choice([0, 1_000_000, 2_500_000]),
                sandbox=rng.random() < 0.15, now=NOW,
            )  # fmt: skip
            want, want_reason = _exhaustive(snap, req)
            outcome = run_auction([bidder.collect(req)], req)
            got = [
                (p.bid.ad.ad_id, p.bid.ecpm_micros, p.bid.relevance, p.price_micros) for p in outcome.ranked
            ]
            assert (got, outcome.reason) == (want[:MAX_RANKED], want_reason), (round_no, messages)
            compared += len(want) > MAX_RANKED
    assert compared > 50  # the bound was actually exercised, not only small auctions


def test_the_best_ad_follows_impressions_and_ctr_reloads_between_requests() -> None:
    """The auction keeps each group's best ad between requests; served impressions and CTR reloads
    must move it exactly as recomputing every time would (rotation among equal bids included)."""
    rng = random.Random(29)
    rotated = 0
    for round_no in range(30):
        snap = _snapshot(rng, rng.choice([8, 60]))
        bidder = LocalBidder(_Fixed(snap))
        for _ in range(40):
            messages = [" and ".join(rng.sample(TOPICS, rng.randint(1, 3))), "ok"]
            req = AuctionRequest(
                conversation=Conversation.from_messages(messages), country="",
                formats=frozenset(["sponsored_message", "sponsored_poll"]), threshold=0.3, floor_micros=0,
                sandbox=False, now=NOW,
            )  # fmt: skip
            want, want_reason = _exhaustive(snap, req)
            outcome = run_auction([bidder.collect(req)], req)
            got = [
                (p.bid.ad.ad_id, p.bid.ecpm_micros, p.bid.relevance, p.price_micros) for p in outcome.ranked
            ]
            assert (got, outcome.reason) == (want[:MAX_RANKED], want_reason), round_no
            if outcome.ranked:  # the winner is served: its group's next request rotates
                before = outcome.ranked[0].bid.ad.ad_id
                snap.note_impression(before)
                again = run_auction([bidder.collect(req)], req)
                rotated += bool(again.ranked) and again.ranked[0].bid.ad.ad_id != before
            if rng.random() < 0.2:  # a CTR reload: other processes' impressions and clicks land
                for ad in rng.sample(list(snap.ads.values()), min(5, len(snap.ads))):
                    ad.impressions += rng.randint(0, 300)
                    ad.clicks += rng.randint(0, 20)
                    snap.bounds[ad.ad_group_id] = max(snap.bounds[ad.ad_group_id], ecpm_micros(ad))
                snap.order = None  # rebuilt from the raised bounds, as _load_ctr does
                snap.figures_changed()
    assert rotated > 20  # impressions did move winners
