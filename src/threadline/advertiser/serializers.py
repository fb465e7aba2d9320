"""Wire shapes of campaigns, ad groups and ads (also used by the operator API's review views)."""

from __future__ import annotations

from typing import Any

from threadline.config import Settings
from threadline.media.uploads import public_media_url
from threadline.store.models import Ad, AdGroup, Campaign

DEFAULT_CTA = "Learn more"


def targeting_out(countries: list[str]) -> dict[str, Any]:
    return {"locations": {"include": [{"id": c, "type": "country", "country_code": c} for c in countries]}}


def campaign_out(campaign: Campaign) -> dict[str, Any]:
    return {
        "id": campaign.id,
        "name": campaign.name,
        "description": campaign.description,
        "status": campaign.status,
        "review_status": campaign.review_status,
        "rejection_reason": campaign.rejection_reason,
        "start_time": campaign.start_time,
        "end_time": campaign.end_time,
        "budget": {"lifetime_spend_limit_micros": campaign.lifetime_spend_limit_micros},
        "recurring_frequency": campaign.recurring_frequency,
        "pricing_model": campaign.pricing_model,
        "targeting": targeting_out(list(campaign.target_countries or [])),
        "created_at": campaign.created_at,
        "updated_at": campaign.updated_at,
    }


def visible_status(status: str) -> str:
    """Ad groups and ads have no distinct archived state on the wire: archive reads back as paused."""
    return "paused" if status == "archived" else status


def ad_group_out(ad_group: AdGroup) -> dict[str, Any]:
    return {
        "id": ad_group.id,
        "campaign_id": ad_group.campaign_id,
        "name": ad_group.name,
        "context_hints": list(ad_group.context_hints or []),
        "status": visible_status(ad_group.status),
        "bidding_config": {"billing_event_type": "impression", "max_bid_micros": ad_group.max_bid_micros},
        "created_at": ad_group.created_at,
        "updated_at": ad_group.updated_at,
    }


def creative_out(creative: dict[str, Any], settings: Settings) -> dict[str, Any]:
    if creative["type"] == "poll":
        return {
            "type": "poll",
            "question": creative["question"],
            "options": list(creative["options"]),
            "target_url": creative.get("target_url"),
        }
    file_id = creative.get("file_id")
    return {
        "type": "chat_card",
        "title": creative["title"],
        "body": creative["body"],
        "target_url": creative["target_url"],
        "cta_text": creative.get("cta_text") or DEFAULT_CTA,
        "file_id": file_id,
        "image_url": public_media_url(settings, file_id) if file_id else None,
    }


def ad_out(ad: Ad, campaign_review_status: str, settings: Settings) -> dict[str, Any]:
    """``review_status`` is the parent campaign's: ads are reviewed with their campaign."""
    return {
        "id": ad.id,
        "campaign_id": ad.campaign_id,
        "ad_group_id": ad.ad_group_id,
        "name": ad.name,
        "status": visible_status(ad.status),
        "review_status": campaign_review_status,
        "creative": creative_out(ad.creative, settings),
        "created_at": ad.created_at,
        "updated_at": ad.updated_at,
    }
