"""Validating and writing the campaign → ad group → ad tree.

``plan_*`` functions check every rule Pydantic cannot express (countries, times, creatives, file
ownership) and return plain, normalised values; ``insert_*`` functions write them. Splitting the two
lets the charging create validate everything before any money moves, and write the rows only after.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from threadline.advertiser import review
from threadline.advertiser.countries import normalise_country
from threadline.advertiser.schemas import (
    CARD_BODY_MAX,
    AdFields,
    AdGroupFields,
    ChatCardIn,
    CreativeIn,
    TargetingIn,
)
from threadline.config import Settings
from threadline.kit.clock import Clock
from threadline.kit.errors import ApiError, invalid
from threadline.kit.ids import new_id
from threadline.media.uploads import get_owned_upload
from threadline.store.models import Ad, AdGroup, Campaign

INCLUDE_PARAM = "targeting.locations.include"


def join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


@dataclass
class AdPlan:
    name: str
    status: str
    creative: dict[str, Any]


@dataclass
class AdGroupPlan:
    name: str
    context_hints: list[str]
    max_bid_micros: int | None
    status: str
    creative_type: str | None
    ads: list[AdPlan] = field(default_factory=list)


@dataclass
class CampaignPlan:
    ad_account_id: str
    name: str
    description: str | None
    start_time: int
    end_time: int | None
    lifetime_spend_limit_micros: int
    recurring_frequency: str
    pricing_model: str
    countries: list[str]
    ad_groups: list[AdGroupPlan]


class FileChecker:
    """Answers "does this org own file_id?" once per distinct id within one request."""

    def __init__(self, session: Session, org_id: str) -> None:
        self._session = session
        self._org_id = org_id
        self._seen: dict[str, bool] = {}

    def check(self, file_id: str, param: str) -> None:
        if file_id not in self._seen:
            self._seen[file_id] = get_owned_upload(self._session, self._org_id, file_id) is not None
        if not self._seen[file_id]:
            raise invalid("No such file: upload the image with POST /v1/upload first.", param)


# --- field rules -------------------------------------------------------------------------------


def plan_countries(targeting: TargetingIn | None) -> list[str]:
    """Upper-cased, de-duplicated country codes in the order given."""
    if targeting is None or targeting.locations is None:
        return []
    countries: list[str] = []
    for i, entry in enumerate(targeting.locations.include):
        given = [v for v in (entry.country_code, entry.id) if v is not None]
        if not given:
            raise invalid("Each targeting location needs a country_code (or id).", INCLUDE_PARAM)
        codes = {normalise_country(v) for v in given}
        code = codes.pop() if len(codes) == 1 else None
        if code is None:
            raise invalid(f"{given[0]!r} is not an ISO 3166-1 alpha-2 country code.", f"{INCLUDE_PARAM}[{i}]")
        if code not in countries:
            countries.append(code)
    return countries


def plan_times(
    now: int, launch_window: int, start_time: int | None, end_time: int | None
) -> tuple[int, int | None]:
    """``start_time`` defaults to now + the launch window and may not be earlier (60 s of clock slack)."""
    if start_time is None:
        start_time = now + launch_window
    elif start_time < now + launch_window - 60:
        raise invalid(
            f"start_time must be at least {launch_window} seconds in the future (the launch window).",
            "start_time",
        )
    if end_time is not None and end_time <= start_time:
        raise invalid("end_time must be after start_time.", "end_time")
    return start_time, end_time


def plan_creative(
    creative: CreativeIn, files: FileChecker, prefix: str, *, ad_auto_generate: bool | None = None
) -> dict[str, Any]:
    """The stored form of a creative. ``prefix`` is the creative's param path."""
    if creative.auto_generate or ad_auto_generate:
        # Name the flag where the client put it: on the creative, or on the ad around it.
        owner = prefix if creative.auto_generate else (prefix.rsplit(".", 1)[0] if "." in prefix else "")
        auto_param = join(owner, "auto_generate")
        if creative.type == "poll":
            raise invalid("Polls cannot be AI-generated.", auto_param, code="poll_cannot_be_ai")
        raise invalid("auto_generate is not available on this server.", auto_param)
    if isinstance(creative, ChatCardIn):
        if creative.title is None:
            raise _missing(join(prefix, "title"))
        if creative.body is None:
            raise _missing(join(prefix, "body"))
        if not 1 <= len(creative.body) <= CARD_BODY_MAX or "\x00" in creative.body:
            raise invalid(
                f"body must be 1-{CARD_BODY_MAX} characters without NUL characters.", join(prefix, "body")
            )
        if creative.file_id is not None:
            files.check(creative.file_id, join(prefix, "file_id"))
        return {
            "type": "chat_card",
            "title": creative.title,
            "body": creative.body,
            "target_url": creative.target_url,
            "file_id": creative.file_id,
            "cta_text": creative.cta_text,
        }
    return {
        "type": "poll",
        "question": creative.question,
        "options": list(creative.options),
        "target_url": creative.target_url,
    }


def _missing(param: str) -> ApiError:
    return ApiError(400, "missing_param", f"Missing required parameter: {param}.", param)


def creative_title(creative: dict[str, Any]) -> str:
    return str(creative["title"] if creative["type"] == "chat_card" else creative["question"])


def plan_ad(ad: AdFields, files: FileChecker, prefix: str, group_type: str | None) -> AdPlan:
    """``group_type`` is the creative type the ad group is fixed to (None while it has no ads)."""
    creative_prefix = join(prefix, "creative")
    if group_type is not None and ad.creative.type != group_type:
        raise invalid(
            f"This ad group holds {group_type} ads; every ad in an ad group has the same creative type.",
            join(creative_prefix, "type"),
        )
    creative = plan_creative(ad.creative, files, creative_prefix, ad_auto_generate=ad.auto_generate)
    return AdPlan(name=ad.name or creative_title(creative), status=ad.status or "active", creative=creative)


def plan_ad_group(group: AdGroupFields, ads: list[AdFields], files: FileChecker, prefix: str) -> AdGroupPlan:
    plan = AdGroupPlan(
        name=group.name,
        context_hints=list(group.context_hints),
        max_bid_micros=group.bidding_config.max_bid_micros if group.bidding_config else None,
        status=group.status or "active",
        creative_type=None,
    )
    for j, ad in enumerate(ads):
        ad_plan = plan_ad(ad, files, join(prefix, f"ads[{j}]"), plan.creative_type)
        plan.creative_type = ad_plan.creative["type"]
        plan.ads.append(ad_plan)
    return plan


# --- writers -----------------------------------------------------------------------------------


def insert_campaign(
    session: Session, clock: Clock, settings: Settings, org_id: str, campaign_id: str, plan: CampaignPlan
) -> Campaign:
    now = clock.now_s()
    campaign = Campaign(
        id=campaign_id,
        org_id=org_id,
        ad_account_id=plan.ad_account_id,
        name=plan.name,
        description=plan.description,
        status="paused",
        review_status="in_review",
        review_submitted_at=now,
        start_time=plan.start_time,
        end_time=plan.end_time,
        lifetime_spend_limit_micros=plan.lifetime_spend_limit_micros,
        spent_micros=0,
        recurring_frequency=plan.recurring_frequency,
        pricing_model=plan.pricing_model,
        target_countries=plan.countries,
        created_at=now,
        updated_at=now,
    )
    if settings.auto_approve:
        review.mark_approved(campaign, now)
    session.add(campaign)
    session.flush()
    for group in plan.ad_groups:
        insert_ad_group(session, clock, campaign, group)
    return campaign


def insert_ad_group(session: Session, clock: Clock, campaign: Campaign, plan: AdGroupPlan) -> AdGroup:
    now = clock.now_s()
    group = AdGroup(
        id=new_id(),
        org_id=campaign.org_id,
        campaign_id=campaign.id,
        name=plan.name,
        context_hints=plan.context_hints,
        max_bid_micros=plan.max_bid_micros,
        status=plan.status,
        creative_type=plan.creative_type,
        created_at=now,
        updated_at=now,
    )
    session.add(group)
    session.flush()  # the ads reference it (no ORM relationships to order the inserts)
    for ad in plan.ads:
        insert_ad(session, clock, group, ad)
    session.flush()
    return group


def insert_ad(session: Session, clock: Clock, group: AdGroup, plan: AdPlan) -> Ad:
    now = clock.now_s()
    ad = Ad(
        id=new_id(),
        org_id=group.org_id,
        campaign_id=group.campaign_id,
        ad_group_id=group.id,
        name=plan.name,
        status=plan.status,
        creative=plan.creative,
        created_at=now,
        updated_at=now,
    )
    session.add(ad)
    return ad
