"""Rules for reading, updating and moving campaigns, ad groups and ads through their lifecycle.

Creating a campaign (the charging call) lives in ``launch.py``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy.orm import Session

from threadline.advertiser import repository as repo
from threadline.advertiser import review
from threadline.advertiser.schemas import (
    MAX_AD_GROUPS,
    MAX_ADS,
    AdCreate,
    AdGroupCreate,
    AdGroupUpdate,
    AdUpdate,
    CampaignUpdate,
)
from threadline.advertiser.serializers import ad_group_out, ad_out, campaign_out
from threadline.advertiser.tree import (
    FileChecker,
    insert_ad,
    insert_ad_group,
    plan_ad,
    plan_ad_group,
    plan_countries,
    plan_creative,
    plan_times,
)
from threadline.context import AppContext
from threadline.kit.errors import ApiError, invalid
from threadline.kit.pagination import PageParams, render_page
from threadline.store.models import Campaign

Action = Literal["activate", "pause", "archive"]
ACTIONS: tuple[Action, ...] = ("activate", "pause", "archive")


def use_status_action() -> ApiError:
    return ApiError(
        400,
        "use_status_action",
        "A campaign's status cannot be set in the body; use /activate, /pause or /archive.",
        "status",
    )


def _archived() -> ApiError:
    return ApiError(
        400, "campaign_archived", "This campaign is archived; archived campaigns cannot be changed."
    )


def _refuse_nulls(body: BaseModel, nullable: frozenset[str] = frozenset()) -> None:
    for name in body.model_fields_set:
        if name not in nullable and getattr(body, name) is None:
            raise invalid(f"{name} cannot be null.", name)


def _writable_campaign(
    session: Session, org_id: str, campaign_id: str, *, param: str | None = None
) -> Campaign:
    campaign = repo.get_campaign(session, org_id, campaign_id, param=param, lock=True)
    if campaign.status == "archived":
        raise _archived()
    return campaign


# --- campaigns ---------------------------------------------------------------------------------


def get_campaign(ctx: AppContext, org_id: str, campaign_id: str) -> dict[str, Any]:
    with ctx.db.read() as s:
        return campaign_out(repo.get_campaign(s, org_id, campaign_id))


def list_campaigns(ctx: AppContext, org_id: str, params: PageParams) -> dict[str, Any]:
    with ctx.db.read() as s:
        return render_page(repo.campaign_page(s, org_id, params), campaign_out)


def update_campaign(ctx: AppContext, org_id: str, campaign_id: str, body: CampaignUpdate) -> dict[str, Any]:
    if "status" in body.model_fields_set:
        raise use_status_action()
    _refuse_nulls(body, frozenset({"description", "end_time", "targeting"}))
    fields = body.model_fields_set
    with ctx.db.write() as s:
        campaign = _writable_campaign(s, org_id, campaign_id)
        now = ctx.clock.now_s()
        if "start_time" in fields or "end_time" in fields:
            start = body.start_time if "start_time" in fields else None
            end = body.end_time if "end_time" in fields else campaign.end_time
            if start is None or start == campaign.start_time:
                # start_time unchanged (a client may send back what it read, even once it has
                # passed): only the end must still come after it
                if end is not None and end <= campaign.start_time:
                    raise invalid("end_time must be after start_time.", "end_time")
                start = campaign.start_time
            else:
                start, end = plan_times(now, ctx.settings.launch_window_seconds, start, end)
            campaign.start_time, campaign.end_time = start, end
        if body.budget is not None:
            limit = body.budget.lifetime_spend_limit_micros
            if limit < campaign.spent_micros:
                raise invalid(
                    f"The budget cannot be below what was already spent ({campaign.spent_micros} micros).",
                    "budget.lifetime_spend_limit_micros",
                )
            campaign.lifetime_spend_limit_micros = limit
        if "targeting" in fields:
            campaign.target_countries = plan_countries(body.targeting)
        if body.name is not None:
            campaign.name = body.name
        if "description" in fields:
            campaign.description = body.description
        if body.recurring_frequency is not None:
            campaign.recurring_frequency = body.recurring_frequency
        if body.pricing_model is not None:
            campaign.pricing_model = body.pricing_model
        if fields:
            campaign.updated_at = now
        s.flush()
        return campaign_out(campaign)


def campaign_action(ctx: AppContext, org_id: str, campaign_id: str, action: Action) -> dict[str, Any]:
    with ctx.db.write() as s:
        campaign = _writable_campaign(s, org_id, campaign_id)
        if action == "activate":
            if campaign.status != "active":
                if campaign.review_status != "approved":
                    raise ApiError(
                        400,
                        "campaign_not_approved",
                        "This campaign cannot be activated until it is approved.",
                    )
                _set_status(ctx, campaign, "active")
        elif action == "pause":
            if campaign.status != "active":
                raise ApiError(
                    400, "campaign_not_running", "This campaign is not running; there is nothing to pause."
                )
            _set_status(ctx, campaign, "paused")
        else:
            _set_status(ctx, campaign, "archived")
        s.flush()
        return campaign_out(campaign)


def _set_status(ctx: AppContext, row: Any, status: str) -> None:
    if row.status != status:
        row.status = status
        row.updated_at = ctx.clock.now_s()


# --- ad groups ---------------------------------------------------------------------------------


def get_ad_group(ctx: AppContext, org_id: str, ad_group_id: str) -> dict[str, Any]:
    with ctx.db.read() as s:
        return ad_group_out(repo.get_ad_group(s, org_id, ad_group_id))


def list_ad_groups(ctx: AppContext, org_id: str, campaign_id: str, params: PageParams) -> dict[str, Any]:
    with ctx.db.read() as s:
        campaign = repo.get_campaign(s, org_id, campaign_id, param="campaign_id")
        return render_page(repo.ad_group_page(s, org_id, campaign.id, params), ad_group_out)


def create_ad_group(ctx: AppContext, org_id: str, body: AdGroupCreate) -> dict[str, Any]:
    with ctx.db.write() as s:
        campaign = _writable_campaign(s, org_id, body.campaign_id, param="campaign_id")
        if repo.live_ad_group_count(s, campaign.id) >= MAX_AD_GROUPS:
            raise invalid(f"A campaign can have at most {MAX_AD_GROUPS} ad groups.", "campaign_id")
        plan = plan_ad_group(body, body.ads, FileChecker(s, org_id), "")
        group = insert_ad_group(s, ctx.clock, campaign, plan)
        review.resubmit(campaign, ctx.clock.now_s(), auto_approve=ctx.settings.auto_approve)
        return ad_group_out(group)


def update_ad_group(ctx: AppContext, org_id: str, ad_group_id: str, body: AdGroupUpdate) -> dict[str, Any]:
    _refuse_nulls(body)
    with ctx.db.write() as s:
        group = repo.get_ad_group(s, org_id, ad_group_id)
        _writable_campaign(s, org_id, group.campaign_id)
        if body.name is not None:
            group.name = body.name
        if body.context_hints is not None:
            group.context_hints = list(body.context_hints)
        if body.bidding_config is not None:
            group.max_bid_micros = body.bidding_config.max_bid_micros
        if body.status is not None:
            group.status = body.status
        if body.model_fields_set:
            group.updated_at = ctx.clock.now_s()
        s.flush()
        return ad_group_out(group)


def ad_group_action(ctx: AppContext, org_id: str, ad_group_id: str, action: Action) -> dict[str, Any]:
    """Always allowed on a live campaign; archive only deactivates (it reads back as paused)."""
    with ctx.db.write() as s:
        group = repo.get_ad_group(s, org_id, ad_group_id)
        _writable_campaign(s, org_id, group.campaign_id)
        _set_status(ctx, group, _STATUS_OF[action])
        s.flush()
        return ad_group_out(group)


_STATUS_OF: dict[Action, str] = {"activate": "active", "pause": "paused", "archive": "archived"}


# --- ads ---------------------------------------------------------------------------------------


def get_ad(ctx: AppContext, org_id: str, ad_id: str) -> dict[str, Any]:
    with ctx.db.read() as s:
        ad = repo.get_ad(s, org_id, ad_id)
        campaign = repo.get_campaign(s, org_id, ad.campaign_id)
        return ad_out(ad, campaign.review_status, ctx.settings)


def list_ads(ctx: AppContext, org_id: str, ad_group_id: str, params: PageParams) -> dict[str, Any]:
    with ctx.db.read() as s:
        group = repo.get_ad_group(s, org_id, ad_group_id, param="ad_group_id")
        campaign = repo.get_campaign(s, org_id, group.campaign_id)
        page = repo.ad_page(s, org_id, group.id, params)
        return render_page(page, lambda ad: ad_out(ad, campaign.review_status, ctx.settings))


def create_ad(ctx: AppContext, org_id: str, body: AdCreate) -> dict[str, Any]:
    with ctx.db.write() as s:
        group = repo.get_ad_group(s, org_id, body.ad_group_id, param="ad_group_id")
        campaign = _writable_campaign(s, org_id, group.campaign_id)
        if repo.live_ad_count(s, group.id) >= MAX_ADS:
            raise invalid(f"An ad group can have at most {MAX_ADS} ads.", "ad_group_id")
        plan = plan_ad(body, FileChecker(s, org_id), "", group.creative_type)
        if group.creative_type is None:
            group.creative_type = plan.creative["type"]
        ad = insert_ad(s, ctx.clock, group, plan)
        review.resubmit(campaign, ctx.clock.now_s(), auto_approve=ctx.settings.auto_approve)
        s.flush()
        return ad_out(ad, campaign.review_status, ctx.settings)


def update_ad(ctx: AppContext, org_id: str, ad_id: str, body: AdUpdate) -> dict[str, Any]:
    _refuse_nulls(body)
    with ctx.db.write() as s:
        ad = repo.get_ad(s, org_id, ad_id)
        campaign = _writable_campaign(s, org_id, ad.campaign_id)
        now = ctx.clock.now_s()
        if body.creative is not None:
            if body.creative.type != ad.creative["type"]:
                raise invalid(
                    f"This ad is a {ad.creative['type']}; a creative update must keep its type.",
                    "creative.type",
                )
            creative = plan_creative(body.creative, FileChecker(s, org_id), "creative")
            if creative != ad.creative:
                ad.creative = creative
                review.resubmit(campaign, now, auto_approve=ctx.settings.auto_approve)
        if body.name is not None:
            ad.name = body.name
        if body.status is not None:
            ad.status = body.status
        if body.model_fields_set:
            ad.updated_at = now
        s.flush()
        return ad_out(ad, campaign.review_status, ctx.settings)


def ad_action(ctx: AppContext, org_id: str, ad_id: str, action: Action) -> dict[str, Any]:
    with ctx.db.write() as s:
        ad = repo.get_ad(s, org_id, ad_id)
        campaign = _writable_campaign(s, org_id, ad.campaign_id)
        _set_status(ctx, ad, _STATUS_OF[action])
        s.flush()
        return ad_out(ad, campaign.review_status, ctx.settings)
