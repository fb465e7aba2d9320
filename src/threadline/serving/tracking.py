"""Click redirects, view pixels and sponsored-poll votes, all keyed by a signed token of the impression.

Their writes go through the serving batch writer (``ServingEngine.run_write``): the token is checked
first, then the write joins a batch and the answer waits for its COMMIT. Every write raises its
ApiErrors before it writes a row (a batch item's errors must not leave half its work behind).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from threadline.advertiser.repository import ad_creative, campaign_schedule
from threadline.context import AppContext
from threadline.insights.rollups import bump
from threadline.kit.errors import ApiError
from threadline.kit.ids import new_id
from threadline.serving import budget
from threadline.serving.clicks import record_click
from threadline.serving.index import ServingIndex
from threadline.serving.tables import impressions, poll_votes
from threadline.serving.tokens import TokenClaims, landing_url, read_token
from threadline.store.dialect import insert_for

CLICK_DEDUPE_SECONDS = 30


def _not_found() -> ApiError:
    return ApiError(404, "not_found", "Unknown or invalid tracking link.")


def _impression(s: Session, bid_id: str, *, lock: bool = False) -> Any:
    stmt = select(impressions).where(impressions.c.bid_id == bid_id)
    if lock:
        stmt = stmt.with_for_update()
    return s.execute(stmt).mappings().first()


def _creative(s: Session, ad_id: str) -> dict[str, Any]:
    return dict(ad_creative(s, ad_id) or {})


async def click(ctx: AppContext, index: ServingIndex, token: str) -> str:
    """The landing URL for a click token (recording the click); 404 for anything not genuine."""
    now = ctx.clock.now()
    claims = read_token(ctx.secret_key, token, "c", now)
    if claims is None:
        raise _not_found()
    target_url, click_id, charged = await ctx.serving.run_write(partial(_click, ctx, index, claims, now))
    if charged is not None:
        index.note_spend(*charged)
    return landing_url(
        target_url, secret=ctx.secret_key, click_id=click_id, bid_id=claims.bid_id, now=int(now)
    )


def _click(
    ctx: AppContext, index: ServingIndex, claims: TokenClaims, now: float, s: Session
) -> tuple[str, str, tuple[str, int] | None]:
    charged: tuple[str, int] | None = None
    imp = _impression(s, claims.bid_id, lock=True)
    if imp is None:
        raise _not_found()
    target_url = str(_creative(s, imp["ad_id"]).get("target_url") or "")
    if not target_url:
        raise _not_found()
    if not imp["production"]:
        click_id = new_id()  # sandbox: a well-formed click id, nothing recorded
    elif imp["last_click_at"] is not None and now - imp["last_click_at"] < CLICK_DEDUPE_SECONDS:
        click_id = imp["last_click_id"]
    else:
        charge = 0
        if imp["pricing_model"] == "cpc" and imp["first_clicked_at"] is None:
            charge = _charge_click(s, index, imp, now)
            if charge:
                charged = (imp["campaign_id"], charge)
        row = record_click(
            s,
            ctx.clock,
            ad_id=imp["ad_id"],
            bid_id=imp["bid_id"],
            publisher_id=imp["publisher_id"],
            supply=imp["supply"],
            country=imp["country"],
            charge_micros=charge,
        )
        click_id = row.id
        s.execute(
            update(impressions)
            .where(impressions.c.bid_id == imp["bid_id"])
            .values(
                last_click_id=click_id,
                last_click_at=now,
                first_clicked_at=func.coalesce(impressions.c.first_clicked_at, int(now)),
            )
        )
    return target_url, str(click_id), charged


def _charge_click(s: Session, index: ServingIndex, imp: Any, now: float) -> int:
    amount = int(imp["click_price_micros"])
    if amount <= 0:
        return 0
    campaign = campaign_schedule(s, imp["campaign_id"])
    if campaign is None:
        return 0
    res = budget.reserve(
        s,
        campaign_id=imp["campaign_id"],
        amount=amount,
        now=now,
        start_time=int(campaign[0]),
        end_time=campaign[1],
        frequency=str(campaign[2]),
    )
    if not res.ok:  # recorded but free; and the campaign stops being shown
        index.block(imp["campaign_id"], res.period_end if res.period_end is not None else math.inf)
        return 0
    return amount


async def view(ctx: AppContext, token: str) -> None:
    """Record a viewable impression once; 404 for a token that is not genuine."""
    now = ctx.clock.now()
    claims = read_token(ctx.secret_key, token, "v", now)
    if claims is None:
        raise _not_found()
    await ctx.serving.run_write(partial(_view, claims, now))


def _view(claims: TokenClaims, now: float, s: Session) -> None:
    row = (
        s.execute(
            update(impressions)
            .where(impressions.c.bid_id == claims.bid_id, impressions.c.viewed_at.is_(None))
            .values(viewed_at=int(now))
            .returning(
                impressions.c.production,
                impressions.c.org_id,
                impressions.c.campaign_id,
                impressions.c.ad_group_id,
                impressions.c.ad_id,
                impressions.c.supply,
                impressions.c.country,
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        if _impression(s, claims.bid_id) is None:
            raise _not_found()
        return  # already counted
    if row["production"]:
        bump(
            s,
            org_id=row["org_id"],
            campaign_id=row["campaign_id"],
            ad_group_id=row["ad_group_id"],
            ad_id=row["ad_id"],
            ts=int(now),
            supply=row["supply"],
            country=row["country"],
            viewable_impressions=1,
        )


# -- sponsored polls -----------------------------------------------------------------------------


@dataclass(frozen=True)
class PollTally:
    poll_id: str
    selected_option_id: str | None
    options: list[tuple[str, str, int]]  # id, text, votes

    def body(self) -> dict[str, Any]:
        total = sum(v for _, _, v in self.options)
        return {
            "sponsored_poll_id": self.poll_id,
            "selected_option_id": self.selected_option_id,
            "total_votes": total,
            "options": [
                {
                    "id": oid,
                    "text": text,
                    "votes": votes,
                    "percentage": round(100 * votes / total, 1) if total else 0.0,
                }
                for oid, text, votes in self.options
            ],
        }


def poll_options(creative: dict[str, Any]) -> list[tuple[str, str]]:
    """A poll's options with their ids: "1", "2", ... in the creative's order."""
    return [(str(i), str(text)) for i, text in enumerate(creative.get("options") or (), start=1)]


def _poll_claims(ctx: AppContext, token: str | None) -> TokenClaims:
    if not token:
        raise ApiError(400, "missing_token", "A signed poll token is required.", "token")
    claims = read_token(ctx.secret_key, token, "p", ctx.clock.now())
    if claims is None:
        raise ApiError(401, "invalid_token", "The poll token is malformed, expired or not valid.", "token")
    return claims


def _poll_of(s: Session, claims: TokenClaims) -> tuple[str, list[tuple[str, str]]]:
    imp = _impression(s, claims.bid_id)
    if imp is None or imp["ad_format"] != "sponsored_poll":
        raise ApiError(401, "invalid_token", "The poll token is malformed, expired or not valid.", "token")
    return str(imp["ad_id"]), poll_options(_creative(s, imp["ad_id"]))


def _tally(s: Session, ad_id: str, options: list[tuple[str, str]], selected: str | None) -> PollTally:
    counts: dict[str, int] = dict(
        s.execute(
            select(poll_votes.c.option_id, func.count())
            .where(poll_votes.c.ad_id == ad_id)
            .group_by(poll_votes.c.option_id)
        ).all()
    )
    return PollTally(ad_id, selected, [(oid, text, int(counts.get(oid, 0))) for oid, text in options])


async def vote(ctx: AppContext, token: str | None, option_id: str | None) -> PollTally:
    claims = _poll_claims(ctx, token)
    tally: PollTally = await ctx.serving.run_write(partial(_vote, ctx, claims, option_id))
    return tally


def _vote(ctx: AppContext, claims: TokenClaims, option_id: str | None, s: Session) -> PollTally:
    ad_id, options = _poll_of(s, claims)
    if option_id is None or option_id not in {oid for oid, _ in options}:
        raise ApiError(400, "invalid_option", "option_id is not one of this poll's options.", "option_id")
    ins = insert_for(s, poll_votes)
    inserted = s.execute(
        ins.values(bid_id=claims.bid_id, ad_id=ad_id, option_id=option_id, created_at=ctx.clock.now_s())
        .on_conflict_do_nothing(index_elements=["bid_id"])
        .returning(poll_votes.c.seq)
    ).first()
    if inserted is None:
        raise ApiError(409, "duplicate_vote", "This token has already voted.", "token")
    return _tally(s, ad_id, options, option_id)


def results(ctx: AppContext, token: str | None) -> PollTally:
    claims = _poll_claims(ctx, token)
    with ctx.db.read() as s:
        ad_id, options = _poll_of(s, claims)
        mine = s.execute(
            select(poll_votes.c.option_id).where(poll_votes.c.bid_id == claims.bid_id)
        ).scalar_one_or_none()
        return _tally(s, ad_id, options, mine)
