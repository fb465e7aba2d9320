"""The auction: bidders bid, bids rank by effective CPM x relevance, the winner pays the second price.

`Bidder` is the seam for demand: `LocalBidder` bids with this server's campaigns from the in-memory
index; an external DSP would be another Bidder returning `Bid`s (its own `AdEntry` rendering).

The ranking is bounded to the best ``MAX_RANKED`` bids (the service charges down it until a campaign can
pay; more than a few fall-backs are never needed, and a campaign that fails to pay sits out at once). So
LocalBidder does not price every matching group: it visits groups in order of their best possible score
(relevance x the group's eCPM bound) and stops once the bids that can no longer be overtaken cover the
top ``MAX_RANKED`` and the runner-up each of them is priced against. The ranking, prices and reasons are
exactly those of pricing every group.
"""

from __future__ import annotations

import heapq
import math
import operator
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from threadline.serving.index import AdEntry, Snapshot
from threadline.serving.pricing import ecpm_micros
from threadline.serving.relevance import Conversation, WeightedHints

MAX_RANKED = 16
BID_INCREMENT_MICROS = 10_000  # $0.01 CPM: how much "just enough to beat the runner-up" is
HINTLESS_RELEVANCE = 0.3  # an ad group without hints matches any conversation this much
SANDBOX_FALLBACK_RELEVANCE = 0.01  # sandbox: an eligible ad that matched nothing still ranks


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
    # False: the bidder left out bids that rank below all of these and below the runner-up of each of
    # its best MAX_RANKED; the auction ranks no further than it can price.
    complete: bool = True


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


class Snapshots(Protocol):
    def snapshot(self) -> Snapshot: ...


class LocalBidder:
    """Bids with this server's campaigns: one bid per matching ad group (its best ad)."""

    def __init__(self, index: Snapshots) -> None:
        self.index = index

    def collect(self, request: AuctionRequest) -> BidSet:
        snap = self.index.snapshot()
        order = snap.ordered()
        if order is not None:
            found = _collect_best_first(snap, order, request)
            if found is not None:
                return found
        return _collect_all(snap, request)


def _collect_best_first(snap: Snapshot, order: WeightedHints, request: AuctionRequest) -> BidSet | None:
    """The bids of the groups in order of their best possible score, without scoring every matching
    group; None when no group bids (finding the no-bid reason needs every matching group)."""
    floor = 0 if request.sandbox else request.floor_micros
    threshold = -math.inf if request.sandbox else request.threshold
    bids: list[Bid] = []
    for ceiling, group_id, relevance in order.best_first(
        request.conversation, threshold, floor, HINTLESS_RELEVANCE
    ):
        if len(bids) > MAX_RANKED and _settled(bids, ceiling):
            return BidSet(bids, complete=False)
        best, ecpm, _ = _best_ad(snap, group_id, request)
        if best is not None and ecpm >= floor:
            bids.append(Bid(best, ecpm, relevance))
    return BidSet(bids) if bids else None


def _collect_all(snap: Snapshot, request: AuctionRequest) -> BidSet:
    """Every matching group scored: the path of matchers without a best-first order and of no-bid reasons."""
    matched = snap.hints.score(request.conversation)
    for group_id in snap.hintless_groups:
        matched[group_id] = HINTLESS_RELEVANCE
    floor = 0 if request.sandbox else request.floor_micros
    threshold = request.threshold
    bounds = snap.bounds
    # (-best possible score, group, relevance) of the groups that could bid at or above the floor, as
    # a heap: only the few best are ever popped. The others can only decide the no-bid reason.
    candidates: list[tuple[float, str, float]] = []
    rest: list[tuple[str, float]] = []
    for group_id, relevance in matched.items():
        if relevance < threshold and not request.sandbox:
            continue
        bound = bounds.get(group_id, 0)
        if bound >= floor:
            candidates.append((-relevance * bound, group_id, relevance))
        else:
            rest.append((group_id, relevance))
    heapq.heapify(candidates)
    bids: list[Bid] = []
    saw_eligible = False
    saw_spent = False
    complete = True
    while candidates:
        if len(bids) > MAX_RANKED and _settled(bids, -candidates[0][0]):
            complete = False
            break
        _, group_id, relevance = heapq.heappop(candidates)
        best, ecpm, spent = _best_ad(snap, group_id, request)
        saw_spent |= spent
        if best is not None:
            saw_eligible = True
            if ecpm >= floor:
                bids.append(Bid(best, ecpm, relevance))
    if not bids:
        for group_id, _ in rest:
            best, _, spent = _best_ad(snap, group_id, request)
            saw_spent |= spent
            saw_eligible |= best is not None
    if bids:
        return BidSet(bids, complete=complete)
    if saw_eligible:
        return BidSet([], "below_floor")
    if request.sandbox:
        fallback = _sandbox_fallback(snap, request)
        if fallback:
            return BidSet(fallback)
    if saw_spent:
        return BidSet([], "budget_exhausted")
    if not matched or not any(r >= request.threshold for r in matched.values()):
        return BidSet([], "no_match" if _any_servable(snap, request) else "no_eligible_ads")
    return BidSet([], "no_eligible_ads")


def _rank_key(bid: Bid) -> tuple[float, int, str]:
    return (-bid.score, -bid.ecpm_micros, bid.ad.ad_id)


def _settled(bids: list[Bid], next_bound: float) -> bool:
    """Whether the bids no unvisited group can overtake (score above ``next_bound``) fix the top
    MAX_RANKED and their runners-up: the runner-up of bid k is the next bid of another campaign, and if
    the one below the MAX_RANKED-th is of another campaign, every bid above it has its runner-up too."""
    above = [b for b in bids if b.score > next_bound]
    if len(above) <= MAX_RANKED:
        return False
    above.sort(key=_rank_key)
    last = above[MAX_RANKED - 1].ad.campaign.id
    return any(b.ad.campaign.id != last for b in above[MAX_RANKED:])


def _eligible(ad: AdEntry, request: AuctionRequest) -> bool:
    return (
        ad.ad_format in request.formats
        and ad.campaign.targets(request.country)
        and ad.max_bid_micros > 0
        and ad.campaign.live(request.now)
    )


def _best_ad(snap: Snapshot, group_id: str, request: AuctionRequest) -> tuple[AdEntry | None, int, bool]:
    """The group's ad with the highest eCPM (ties: the one served least, so ads rotate), its eCPM, and
    whether the group sat out for want of budget. A group's ads share its campaign and its bid."""
    entries = snap.groups.get(group_id, ())
    if not entries:
        return None, 0, False
    first = entries[0]
    campaign = first.campaign
    formats = request.formats
    if first.max_bid_micros <= 0 or not campaign.targets(request.country) or not campaign.live(request.now):
        spent = campaign.out_of_budget(request.now) and any(ad.ad_format in formats for ad in entries)
        return None, 0, spent
    one_format = snap.group_formats().get(group_id)  # the format of all its ads, if they have only one
    if one_format is None:
        best, ecpm = _highest_ecpm(entries, formats)
        return best, ecpm, False
    if one_format not in formats:
        return None, 0, False
    figures = snap.figures
    hit = snap.best_ads.get(group_id)
    if hit is not None and hit[0] == figures:
        return hit[1], hit[2], False
    if campaign.pricing_model != "cpc":
        # Every ad bids the group's bid: the best is the first of those served least.
        least = min(entries, key=_impressions)
        found: tuple[AdEntry | None, int] = least, least.max_bid_micros
    else:
        found = _highest_ecpm(entries, formats)
    if found[0] is not None:
        snap.best_ads[group_id] = (figures, found[0], found[1])
    return found[0], found[1], False


def _highest_ecpm(entries: Sequence[AdEntry], formats: frozenset[str]) -> tuple[AdEntry | None, int]:
    best: AdEntry | None = None
    best_key: tuple[int, int] = (0, 0)
    for ad in entries:
        if ad.ad_format not in formats:
            continue
        key = (ecpm_micros(ad), -ad.impressions)
        if best is None or key > best_key:
            best, best_key = ad, key
    return best, best_key[0]


_impressions = operator.attrgetter("impressions")


def _sandbox_fallback(snap: Snapshot, request: AuctionRequest) -> list[Bid]:
    best: AdEntry | None = None
    for ad in snap.ads.values():
        if _eligible(ad, request) and (best is None or ecpm_micros(ad) > ecpm_micros(best)):
            best = ad
    return [] if best is None else [Bid(best, ecpm_micros(best), SANDBOX_FALLBACK_RELEVANCE)]


def _any_servable(snap: Snapshot, request: AuctionRequest) -> bool:
    return any(snap.reaches(f, request.country) for f in request.formats)


def run_auction(bid_sets: Sequence[BidSet], request: AuctionRequest) -> Outcome:
    """Rank all bidders' bids (the best MAX_RANKED) and price each as if every bid above it had failed
    to reserve budget."""
    bids = [b for s in bid_sets for b in s.bids]
    if not bids:
        reasons = [s.reason for s in bid_sets if s.reason]
        return Outcome([], reasons[0] if reasons else "no_match")
    floor = request.floor_micros
    if not request.sandbox:
        bids = [b for b in bids if b.ecpm_micros >= floor]
        if not bids:
            return Outcome([], "below_floor")
    complete = all(s.complete for s in bid_sets)
    bids.sort(key=_rank_key)
    # runners[i]: the first bid after bids[i] of another campaign (one pass from the end)
    top = min(len(bids), MAX_RANKED)
    runners: list[Bid | None] = [None] * top
    runner: Bid | None = None
    for i in range(len(bids) - 2, -1, -1):
        after = bids[i + 1]
        if after.ad.campaign.id != bids[i].ad.campaign.id:
            runner = after
        if i < top:
            runners[i] = runner
    ranked = []
    for i, bid in enumerate(bids[:top]):
        runner = runners[i]
        if runner is None and not complete:
            break  # its runner-up was left out: not priced, so not ranked
        price = floor
        if runner is not None and bid.relevance > 0:
            price = max(floor, math.ceil(runner.score / bid.relevance) + BID_INCREMENT_MICROS)
        ranked.append(PricedBid(bid, min(price, bid.ecpm_micros)))
    return Outcome(ranked, None)
