"""The auction: bidders bid, bids rank by effective CPM x relevance, the winner pays the second price.

`Bidder` is the seam for demand: `LocalBidder` bids with this server's campaigns from the in-memory
index; an external DSP would be another Bidder returning `Bid`s (its own `AdEntry` rendering).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from threadline.serving.index import AdEntry, ServingIndex, Snapshot
from threadline.serving.relevance import Conversation

PRIOR_CTR = 0.01  # predicted CTR of an ad with no history
PRIOR_IMPRESSIONS = 200  # how many impressions of evidence the prior is worth
BID_INCREMENT_MICROS = 10_000  # $0.01 CPM: how much "just enough to beat the runner-up" is
HINTLESS_RELEVANCE = 0.3  # an ad group without hints matches any conversation this much
SANDBOX_FALLBACK_RELEVANCE = 0.01  # sandbox: an eligible ad that matched nothing still ranks


def predicted_ctr(clicks: int, impressions: int) -> float:
    return (clicks + PRIOR_CTR * PRIOR_IMPRESSIONS) / (impressions + PRIOR_IMPRESSIONS)


def ecpm_micros(ad: AdEntry) -> int:
    """What the ad is worth per 1000 impressions, in micros."""
    if ad.campaign.pricing_model == "cpc":
        return int(ad.max_bid_micros * predicted_ctr(ad.clicks, ad.impressions) * 1000)
    return ad.max_bid_micros


@dataclass(frozen=True)
class AuctionRequest:
    conversation: Conversation
    country: str
    formats: frozenset[str]
    threshold: float
    floor_micros: int
    sandbox: bool
    now: float


@dataclass(frozen=True)
class Bid:
    ad: AdEntry
    ecpm_micros: int
    relevance: float

    @property
    def score(self) -> float:
        return self.ecpm_micros * self.relevance


@dataclass(frozen=True)
class BidSet:
    bids: list[Bid]
    reason: str | None = None  # why there is no bid: no_eligible_ads | no_match | budget_exhausted


@dataclass(frozen=True)
class PricedBid:
    bid: Bid
    price_micros: int  # clearing CPM

    def click_price_micros(self) -> int:
        """cpc: the per-click charge that corresponds to the clearing CPM (never above max bid)."""
        if self.bid.ecpm_micros <= 0:
            return 0
        ratio = self.price_micros / self.bid.ecpm_micros
        return min(self.bid.ad.max_bid_micros, math.ceil(self.bid.ad.max_bid_micros * ratio))


@dataclass(frozen=True)
class Outcome:
    ranked: list[PricedBid]  # best first; the service charges down this list until one reserves
    reason: str | None


class Bidder(Protocol):
    def collect(self, request: AuctionRequest) -> BidSet: ...


class LocalBidder:
    """Bids with this server's campaigns: one bid per matching ad group (its best ad)."""

    def __init__(self, index: ServingIndex) -> None:
        self.index = index

    def collect(self, request: AuctionRequest) -> BidSet:
        snap = self.index.snapshot()
        matched = snap.hints.score(request.conversation)
        for group_id in snap.hintless_groups:
            matched[group_id] = HINTLESS_RELEVANCE
        bids: list[Bid] = []
        saw_eligible = False
        saw_spent = False
        for group_id, relevance in matched.items():
            if relevance < request.threshold and not request.sandbox:
                continue
            best, spent = _best_ad(snap.groups.get(group_id, ()), request)
            saw_spent |= spent
            if best is not None:
                saw_eligible = True
                bids.append(Bid(best, ecpm_micros(best), relevance))
        if not bids and request.sandbox:
            bids = _sandbox_fallback(snap, request)
        if bids:
            return BidSet(bids)
        if saw_spent and not saw_eligible:
            return BidSet([], "budget_exhausted")
        if not matched or not any(r >= request.threshold for r in matched.values()):
            return BidSet([], "no_match" if _any_servable(snap, request) else "no_eligible_ads")
        return BidSet([], "no_eligible_ads")


def _eligible(ad: AdEntry, request: AuctionRequest) -> bool:
    return (
        ad.ad_format in request.formats
        and ad.campaign.targets(request.country)
        and ad.max_bid_micros > 0
        and ad.campaign.live(request.now)
    )


def _best_ad(entries: Sequence[AdEntry], request: AuctionRequest) -> tuple[AdEntry | None, bool]:
    """The group's ad with the highest eCPM (ties: the one served least, so ads rotate)."""
    best: AdEntry | None = None
    best_key: tuple[int, int] = (0, 0)
    spent = False
    for ad in entries:
        if not _eligible(ad, request):
            spent |= ad.ad_format in request.formats and ad.campaign.remaining() <= 0
            continue
        key = (ecpm_micros(ad), -ad.impressions)
        if best is None or key > best_key:
            best, best_key = ad, key
    return best, spent


def _sandbox_fallback(snap: Snapshot, request: AuctionRequest) -> list[Bid]:
    best: AdEntry | None = None
    for ad in snap.ads.values():
        if _eligible(ad, request) and (best is None or ecpm_micros(ad) > ecpm_micros(best)):
            best = ad
    return [] if best is None else [Bid(best, ecpm_micros(best), SANDBOX_FALLBACK_RELEVANCE)]


def _any_servable(snap: Snapshot, request: AuctionRequest) -> bool:
    return any(snap.reaches(f, request.country) for f in request.formats)


def run_auction(bid_sets: Sequence[BidSet], request: AuctionRequest) -> Outcome:
    """Rank all bidders' bids and price each as if every bid above it had failed to reserve budget."""
    bids = [b for s in bid_sets for b in s.bids]
    if not bids:
        reasons = [s.reason for s in bid_sets if s.reason]
        return Outcome([], reasons[0] if reasons else "no_match")
    floor = request.floor_micros
    if not request.sandbox:
        bids = [b for b in bids if b.ecpm_micros >= floor]
        if not bids:
            return Outcome([], "below_floor")
    bids.sort(key=lambda b: (-b.score, -b.ecpm_micros, b.ad.ad_id))
    ranked = []
    for i, bid in enumerate(bids):
        runner = next((r for r in bids[i + 1 :] if r.ad.campaign.id != bid.ad.campaign.id), None)
        price = floor
        if runner is not None and bid.relevance > 0:
            price = max(floor, math.ceil(runner.score / bid.relevance) + BID_INCREMENT_MICROS)
        ranked.append(PricedBid(bid, min(price, bid.ecpm_micros)))
    return Outcome(ranked, None)
