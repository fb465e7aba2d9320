"""Serving decisions: frequency → auction → budget reservation → impression, in one transaction.

The auction is decided in memory; the database is touched once per served ad (one write transaction
holding the reservation, the impression row, the rollup bump and the chat's last ad turn), plus once per
request in a chat with frequency rules (the turn counter shares that transaction).
"""

from __future__ import annotations

import base64
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from threadline.context import AppContext
from threadline.insights.rollups import bump
from threadline.kit.ids import new_id
from threadline.serving import budget, frequency
from threadline.serving.auction import AuctionRequest, Bidder, LocalBidder, PricedBid, run_auction
from threadline.serving.index import AdEntry, PublisherInfo, ServingIndex
from threadline.serving.relevance import Conversation
from threadline.serving.tables import impressions
from threadline.serving.tokens import make_token

log = logging.getLogger("threadline.serving")


@dataclass(frozen=True)
class ServeRequest:
    publisher: PublisherInfo
    user_id: str
    chat_id: str | None
    messages: Sequence[str]  # oldest first
    formats: frozenset[str]
    country: str
    threshold: float
    sandbox: bool
    rule: frequency.FrequencyRule | None = None


@dataclass(frozen=True)
class Served:
    bid_id: str
    ad: AdEntry
    price_micros: int  # clearing CPM
    relevance: float


@dataclass(frozen=True)
class Decision:
    served: Served | None
    reason: str | None


class ServingEngine:
    """Long-lived (one per AppContext): the index, the bidders and the decision pipeline."""

    def __init__(self, ctx: AppContext, bidders: Sequence[Bidder] | None = None) -> None:
        self.ctx = ctx
        self.index = ServingIndex(ctx.db, ctx.clock, ctx.settings.matcher)
        self.bidders: list[Bidder] = list(bidders) if bidders else [LocalBidder(self.index)]

    def auction(self, req: ServeRequest, now: float) -> tuple[list[PricedBid], str | None]:
        areq = AuctionRequest(
            conversation=Conversation.from_messages(req.messages),
            country=req.country,
            formats=req.formats,
            threshold=req.threshold,
            floor_micros=req.publisher.floor_cpm_micros,
            sandbox=req.sandbox,
            now=now,
        )
        outcome = run_auction([b.collect(areq) for b in self.bidders], areq)
        return outcome.ranked, outcome.reason

    def serve(self, req: ServeRequest) -> Decision:
        clock = self.ctx.clock
        now = clock.now()
        if req.sandbox:
            if req.rule is not None and req.rule.force is False:
                return Decision(None, "frequency_capped")
            ranked, reason = self.auction(req, now)
            if not ranked:
                return Decision(None, reason)
            with self.ctx.db.write() as s:
                served = self._record(s, req, ranked[0], charge=0, now=int(now))
            return Decision(served, None)
        if req.rule is None:
            ranked, reason = self.auction(req, now)
            if not ranked:
                return Decision(None, reason)
        charges: list[tuple[str, int]] = []
        with self.ctx.db.write() as s:
            turn = None
            if req.rule is not None:
                check = frequency.check_turn(s, req.publisher.id, req.rule, int(now))
                if not check.allowed:
                    return Decision(None, "frequency_capped")  # the counted turn still commits
                turn = check.turn
                ranked, reason = self.auction(req, now)
                if not ranked:
                    return Decision(None, reason)
            decision = self._charge_first(s, req, ranked, now, charges)
            if decision.served is not None and turn is not None and req.rule is not None:
                frequency.record_ad_turn(s, req.publisher.id, req.rule.chat_id, turn)
        for campaign_id, amount in charges:  # only once committed
            self.index.note_spend(campaign_id, amount)
        if decision.served is not None:
            self.index.note_impression(decision.served.ad.ad_id)
        return decision

    def _charge_first(
        self,
        s: Session,
        req: ServeRequest,
        ranked: Sequence[PricedBid],
        now: float,
        charges: list[tuple[str, int]],
    ) -> Decision:
        """Walk the ranking until a bid's campaign can pay for it; record that impression."""
        for priced in ranked:
            ad = priced.bid.ad
            campaign = ad.campaign
            amount = priced.price_micros // 1000 if campaign.pricing_model == "cpm" else 0
            if amount:
                res = budget.reserve(
                    s,
                    campaign_id=campaign.id,
                    amount=amount,
                    now=now,
                    start_time=campaign.start_time,
                    end_time=campaign.end_time,
                    frequency=campaign.frequency,
                )
                if not res.ok:
                    self.index.block(campaign.id, res.period_end if res.period_end is not None else math.inf)
                    continue
                charges.append((campaign.id, amount))
            return Decision(self._record(s, req, priced, charge=amount, now=int(now)), None)
        return Decision(None, "budget_exhausted")

    def _record(self, s: Session, req: ServeRequest, priced: PricedBid, *, charge: int, now: int) -> Served:
        ad = priced.bid.ad
        bid_id = new_id()
        click_price = priced.click_price_micros() if ad.campaign.pricing_model == "cpc" else 0
        s.execute(
            insert(impressions).values(
                id=new_id(),
                bid_id=bid_id,
                org_id=ad.campaign.org_id,
                campaign_id=ad.campaign.id,
                ad_group_id=ad.ad_group_id,
                ad_id=ad.ad_id,
                publisher_id=req.publisher.id,
                supply=req.publisher.supply,
                country=req.country,
                chat_id=req.chat_id,
                user_id=req.user_id,
                ad_format=ad.ad_format,
                pricing_model=ad.campaign.pricing_model,
                price_micros=priced.price_micros,
                charged_micros=charge,
                click_price_micros=click_price,
                production=not req.sandbox,
                created_at=now,
            )
        )
        if not req.sandbox:
            bump(
                s,
                org_id=ad.campaign.org_id,
                campaign_id=ad.campaign.id,
                ad_group_id=ad.ad_group_id,
                ad_id=ad.ad_id,
                ts=now,
                supply=req.publisher.supply,
                country=req.country,
                impressions=1,
                spend_micros=charge,
            )
        return Served(bid_id, ad, priced.price_micros, priced.bid.relevance)

    def start(self) -> None:
        self.index.start()

    def stop(self) -> None:
        self.index.stop()


# -- rendering helpers shared by both request shapes ------------------------------------------------


def tracking_urls(ctx: AppContext, bid_id: str, now: int) -> dict[str, str]:
    base = ctx.settings.public_base_url.rstrip("/")
    secret = ctx.secret_key
    return {
        "click": f"{base}/t/c/{make_token(secret, 'c', bid_id, now)}",
        "view": f"{base}/t/v/{make_token(secret, 'v', bid_id, now)}",
        "poll": make_token(secret, "p", bid_id, now),
    }


def media_url(ctx: AppContext, file_id: str) -> str:
    return f"{ctx.settings.public_base_url.rstrip('/')}/media/{file_id}"


_MAGIC = ((b"\x89PNG", "image/png"), (b"\xff\xd8\xff", "image/jpeg"), (b"RIFF", "image/webp"))


def image_data_url(ctx: AppContext, file_id: str | None) -> str:
    """The ad image as a ``data:image/...;base64,`` URL (legacy SDK), or "" when there is none."""
    if not file_id:
        return ""
    storage: Any = ctx.media_storage  # storages are long-lived objects, hashed by identity
    return _data_url_cached(storage, file_id)


@lru_cache(maxsize=16)
def _data_url_cached(storage: Any, file_id: str) -> str:
    # Stored media never changes under a file id, so the encoded form can be kept.
    try:
        data = storage.get(file_id)
    except Exception:
        log.exception("reading ad image failed", extra={"file_id": file_id})
        return ""
    if not data:
        return ""
    kind = next((ct for magic, ct in _MAGIC if data.startswith(magic)), "image/png")
    return f"data:{kind};base64,{base64.b64encode(data).decode()}"


def price_dollars(micros: int) -> float:
    return round(micros / 1_000_000, 2)
