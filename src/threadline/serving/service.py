"""Serving decisions: frequency → auction → budget reservation → impression.

The auction is decided in memory (``plan``, in the event loop); what the decision writes (the
budget reservation, the impression row, the rollup bump, the chat's turn counter) is one ``write`` that
the serving batch writer runs with its neighbours in one transaction, in arrival order, answering each
request after the COMMIT that holds its rows. Reservations are the same conditional UPDATEs one after
another inside the batch, so the budget stays a hard cap across requests, batches and processes.
A request in a chat with frequency rules runs its auction inside the write, after its turn is counted,
as before batching: the turn decides whether there is an auction at all.
"""

from __future__ import annotations

import base64
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache, partial
from typing import Any

import anyio.to_thread
from sqlalchemy.orm import Session

from threadline.context import AppContext
from threadline.insights.rollups import RollupDelta, bump_many
from threadline.kit import batch_writer
from threadline.kit.batch_writer import BatchWriter, Write, call_each
from threadline.kit.errors import ApiError
from threadline.kit.ids import new_id
from threadline.serving import budget, frequency
from threadline.serving.auction import AuctionRequest, Bidder, LocalBidder, PricedBid, run_auction
from threadline.serving.index import AdEntry, PublisherInfo, ServingIndex
from threadline.serving.relevance import Conversation
from threadline.serving.tables import impressions
from threadline.serving.tokens import make_token
from threadline.store.bulk import insert_rows, pipelined

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


@dataclass(frozen=True)
class Plan:
    """What the request's thread decided before anything is written."""

    req: ServeRequest
    now: float
    decided: Decision | None = None  # answered without writing anything
    ranked: Sequence[PricedBid] | None = None  # None: frequency rules first (the auction runs in write)


@dataclass
class Written:
    decision: Decision
    charges: list[tuple[str, int]] = field(default_factory=list)  # committed (campaign, micros)


def unavailable() -> ApiError:
    """The answer to a request whose write could not be stored: nothing was served or charged."""
    return batch_writer.unavailable("The request could not be recorded. Retry later.")


class ServingEngine:
    """Long-lived (one per AppContext): the index, the bidders and the decision pipeline."""

    def __init__(self, ctx: AppContext, bidders: Sequence[Bidder] | None = None) -> None:
        self.ctx = ctx
        self.index = ServingIndex(ctx.db, ctx.clock, ctx.settings.matcher)
        self.bidders: list[Bidder] = list(bidders) if bidders else [LocalBidder(self.index)]
        settings = ctx.settings
        self.writes: BatchWriter[Write] = BatchWriter(
            ctx.db,
            write_batch,
            max_rows=settings.serving_batch_max_rows,
            max_wait_ms=settings.serving_batch_max_wait_ms,
            on_failure=unavailable,
            name="threadline-serving-writer",
            inline=ctx.db.is_sqlite,
        )

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

    def plan(self, req: ServeRequest) -> Plan:
        """The in-memory part of a decision (no database)."""
        now = self.ctx.clock.now()
        if req.sandbox and req.rule is not None and req.rule.force is False:
            return Plan(req, now, Decision(None, "frequency_capped"))
        if req.sandbox or req.rule is None:
            ranked, reason = self.auction(req, now)
            if not ranked:
                return Plan(req, now, Decision(None, reason))
            return Plan(req, now, ranked=ranked)
        return Plan(req, now)

    async def plan_async(self, req: ServeRequest) -> Plan:
        """``plan`` in the event loop once the index is built; the first build (a store read that can
        take seconds) runs in a thread so the loop keeps answering meanwhile."""
        if self.index.ready():
            return self.plan(req)
        return await anyio.to_thread.run_sync(self.plan, req)

    def write(self, plan: Plan, s: Session, *, prepaid: bool = False) -> Written:
        """The decision's rows, in the caller's (the batch's) transaction. ``prepaid``: the first bid's
        charge was already made (``write_batch``, with the batch-mates' charges)."""
        req, now = plan.req, plan.now
        if req.sandbox:
            assert plan.ranked is not None
            return Written(Decision(self._record(s, req, plan.ranked[0], charge=0, now=int(now)), None))
        ranked = plan.ranked
        turn = None
        if req.rule is not None:
            check = frequency.check_turn(s, req.publisher.id, req.rule, int(now))
            if not check.allowed:
                return Written(Decision(None, "frequency_capped"))  # the counted turn still commits
            turn = check.turn
            ranked, reason = self.auction(req, now)
            if not ranked:
                return Written(Decision(None, reason))
        assert ranked is not None
        written = Written(Decision(None, None))
        written.decision = self._charge_first(s, req, ranked, now, written.charges, prepaid)
        if written.decision.served is not None and turn is not None and req.rule is not None:
            frequency.record_ad_turn(s, req.publisher.id, req.rule.chat_id, turn)
        return written

    def settle(self, written: Written) -> Decision:
        """After COMMIT: this process's index learns the spend and the impression at once."""
        for campaign_id, amount in written.charges:
            self.index.note_spend(campaign_id, amount)
        if written.decision.served is not None:
            self.index.note_impression(written.decision.served.ad.ad_id)
        return written.decision

    def serve(self, req: ServeRequest) -> Decision:
        """Decide and commit in the calling thread (tests, the in-process benchmark, the CLI)."""
        plan = self.plan(req)
        if plan.decided is not None:
            return plan.decided
        with self.ctx.db.write() as s:
            written = self.write(plan, s)
            flush_rows(s)
        return self.settle(written)

    async def commit(self, plan: Plan) -> Decision:
        """Commit a plan through the batch writer (the HTTP path); raises the 503 of ``unavailable``."""
        if plan.decided is not None:
            return plan.decided
        written: Written = await self.run_write(PlanWrite(self, plan))
        return self.settle(written)

    async def run_write(self, write: Write) -> Any:
        """Run ``write`` in the next serving batch; its result once committed, or its ApiError raised
        (the 503 of ``unavailable`` when the batch could not be stored)."""
        outcome = await self.writes.submit(write)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    def _charge_first(
        self,
        s: Session,
        req: ServeRequest,
        ranked: Sequence[PricedBid],
        now: float,
        charges: list[tuple[str, int]],
        prepaid: bool = False,
    ) -> Decision:
        """Walk the ranking until a bid's campaign can pay for it; record that impression."""
        for rank, priced in enumerate(ranked):
            ad = priced.bid.ad
            campaign = ad.campaign
            amount = impression_charge(priced)
            if amount and not (prepaid and rank == 0):
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
            if amount:
                charges.append((campaign.id, amount))
            return Decision(self._record(s, req, priced, charge=amount, now=int(now)), None)
        return Decision(None, "budget_exhausted")

    def _record(self, s: Session, req: ServeRequest, priced: PricedBid, *, charge: int, now: int) -> Served:
        ad = priced.bid.ad
        bid_id = new_id()
        click_price = priced.click_price_micros() if ad.campaign.pricing_model == "cpc" else 0
        rows = _pending(s)
        rows.impressions.append(
            {
                "id": new_id(),
                "bid_id": bid_id,
                "org_id": ad.campaign.org_id,
                "campaign_id": ad.campaign.id,
                "ad_group_id": ad.ad_group_id,
                "ad_id": ad.ad_id,
                "publisher_id": req.publisher.id,
                "supply": req.publisher.supply,
                "country": req.country,
                "chat_id": req.chat_id,
                "user_id": req.user_id,
                "ad_format": ad.ad_format,
                "pricing_model": ad.campaign.pricing_model,
                "price_micros": priced.price_micros,
                "charged_micros": charge,
                "click_price_micros": click_price,
                "production": not req.sandbox,
                "created_at": now,
            }
        )
        if not req.sandbox:
            rows.deltas.append(
                RollupDelta(
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
            )
        return Served(bid_id, ad, priced.price_micros, priced.bid.relevance)

    def start(self) -> None:
        self.index.start()

    def stop(self) -> None:
        self.writes.stop()  # flushes what is queued: those requests are still waiting for their answer
        self.index.stop()


# -- the batch's rows: impressions and their rollup increments, written once per batch ---------------


@dataclass
class _Rows:
    impressions: list[dict[str, Any]] = field(default_factory=list)
    deltas: list[RollupDelta] = field(default_factory=list)


_ROWS = "serving_rows"


def _pending(s: Session) -> _Rows:
    rows: _Rows = s.info.setdefault(_ROWS, _Rows())
    return rows


def flush_rows(s: Session) -> None:
    """One INSERT of the batch's impressions and one upsert statement per rollup table, before COMMIT.
    (Only the budget reservations must run one by one, in order; nothing in a batch reads these rows.)"""
    rows: _Rows | None = s.info.pop(_ROWS, None)
    if rows is None:
        return
    with pipelined(s):  # nothing reads these results: one round trip for all of them on PostgreSQL
        insert_rows(s, impressions, rows.impressions)
        bump_many(s, rows.deltas)


def impression_charge(priced: PricedBid) -> int:
    """What serving this bid charges its campaign's budget now, in micros (CPC pays on the click)."""
    return priced.price_micros // 1000 if priced.bid.ad.campaign.pricing_model == "cpm" else 0


@dataclass(frozen=True)
class PlanWrite:
    """A decision's write for the serving batch (``ServingEngine.write``), which ``write_batch`` can see
    into: when its first step is a plain lifetime charge, that charge is made with its neighbours'."""

    engine: ServingEngine
    plan: Plan

    def __call__(self, s: Session, prepaid: bool = False) -> Written:
        return self.engine.write(self.plan, s, prepaid=prepaid)

    def upfront(self) -> tuple[bool, tuple[str, int] | None]:
        """(whether its first step can join a set of charges, that charge if it makes one). Not when
        frequency rules come first (the auction runs inside the write) or the campaign is paced."""
        req, ranked = self.plan.req, self.plan.ranked
        if req.sandbox:
            return True, None  # records an impression, charges nothing
        if req.rule is not None or not ranked:
            return False, None
        campaign = ranked[0].bid.ad.campaign
        amount = impression_charge(ranked[0])
        if not amount:
            return True, None
        if budget.pacing_period(campaign.start_time, campaign.end_time, campaign.frequency, self.plan.now):
            return False, None
        return True, (campaign.id, amount)


def write_batch(s: Session, writes: Sequence[Write]) -> list[Any]:
    """The serving writer's batch handler: every write in order, then the batch's rows.

    A run of decisions whose first steps are charges of unpaced campaigns makes those charges in one
    statement, one summed charge per campaign (on PostgreSQL one round trip instead of one per request,
    each paid for with the GIL the event loop needs). Charges of different campaigns commute and a
    campaign can pay a run's charges one after another exactly when it can pay their sum, so this is the
    outcome of making them in order; when a campaign's sum is refused, the charges after its first
    decision in the run are taken back and the batch goes on one by one from that decision (its own
    charge alone, else its next bid, then the rest), as without runs. Before its first
    statement the batch locks every campaign its decisions charge first, in id order (on PostgreSQL;
    ``budget.charge_many``'s ``lock_first``).
    """
    upfront = [w.upfront() if isinstance(w, PlanWrite) else (False, None) for w in writes]
    locks = [charge[0] for _, charge in upfront if charge is not None]
    outcomes: list[Any] = []
    k = 0
    while k < len(writes):
        run, charges = _charge_run(writes, upfront, k)
        if not run:
            if locks:  # before anything else the batch writes
                budget.lock_campaigns(s, locks)
                locks = []
            outcomes.extend(call_each(s, writes[k : k + 1]))
            k += 1
            continue
        charged = budget.charge_many(s, _summed(charges), lock_first=locks)
        locks = []
        refused = next((i for i, c in enumerate(charges) if c is not None and c[0] not in charged), len(run))
        paid = zip(run[:refused], charges[:refused], strict=True)
        outcomes.extend(call_each(s, [partial(write, prepaid=charge is not None) for write, charge in paid]))
        if refused == len(run):
            k += len(run)
            continue
        for charge in charges[refused + 1 :]:
            if charge is not None and charge[0] in charged:
                budget.refund(s, *charge)
        outcomes.extend(call_each(s, run[refused : refused + 1]))  # refused: its next bid, as before
        k += refused + 1
    flush_rows(s)
    return outcomes


def _charge_run(
    writes: Sequence[Write], upfront: Sequence[tuple[bool, tuple[str, int] | None]], start: int
) -> tuple[list[PlanWrite], list[tuple[str, int] | None]]:
    """The longest run of decisions from ``start`` that can join one set of charges, and their charges
    (``upfront``: each write's ``PlanWrite.upfront()``, or (False, None))."""
    run: list[PlanWrite] = []
    charges: list[tuple[str, int] | None] = []
    for write, (joins, charge) in zip(writes[start:], upfront[start:], strict=True):
        if not joins:
            break
        assert isinstance(write, PlanWrite)
        run.append(write)
        charges.append(charge)
    return run, charges


def _summed(charges: Sequence[tuple[str, int] | None]) -> list[tuple[str, int]]:
    """One charge per campaign: the sum of its charges in the run. Under a cap, a campaign can pay for a
    run's charges one after another exactly when it can pay their sum (amounts are positive)."""
    sums: dict[str, int] = {}
    for charge in charges:
        if charge is not None:
            sums[charge[0]] = sums.get(charge[0], 0) + charge[1]
    return list(sums.items())


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
