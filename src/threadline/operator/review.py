"""The review queue and approve/reject, for every org (the rules live in advertiser.review)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from threadline.advertiser import repository as advertiser_repository
from threadline.advertiser import review
from threadline.advertiser.serializers import ad_group_out, ad_out, campaign_out
from threadline.context import AppContext
from threadline.operator.schemas import RejectBody, ReviewCampaignOut, ReviewQueue, ReviewQueueItem
from threadline.store.models import Ad, AdGroup, Campaign


def _campaign(campaign: Campaign) -> dict[str, Any]:
    return {**campaign_out(campaign), "org_id": campaign.org_id}


def review_queue(ctx: AppContext, limit: int = 20) -> ReviewQueue:
    """Campaigns waiting for review, oldest submission first, each with its ad groups and ads."""
    with ctx.db.read() as s:
        campaigns = review.review_queue(s, limit + 1)
        has_more = len(campaigns) > limit
        campaigns = campaigns[:limit]
        groups, ads = advertiser_repository.campaign_children(s, [c.id for c in campaigns])
    ads_by_group: dict[str, list[Ad]] = defaultdict(list)
    for ad in ads:
        ads_by_group[ad.ad_group_id].append(ad)
    groups_by_campaign: dict[str, list[AdGroup]] = defaultdict(list)
    for group in groups:
        groups_by_campaign[group.campaign_id].append(group)
    items = [
        ReviewQueueItem.model_validate(
            {
                **_campaign(c),
                "ad_groups": [
                    {
                        **ad_group_out(g),
                        "ads": [ad_out(a, c.review_status, ctx.settings) for a in ads_by_group[g.id]],
                    }
                    for g in groups_by_campaign[c.id]
                ],
            }
        )
        for c in campaigns
    ]
    return ReviewQueue(
        data=items,
        count=len(items),
        first_id=items[0].id if items else None,
        last_id=items[-1].id if items else None,
        has_more=has_more,
    )


def approve(ctx: AppContext, campaign_id: str) -> ReviewCampaignOut:
    with ctx.db.write() as s:
        campaign = review.approve(s, ctx.clock, campaign_id)
        return ReviewCampaignOut.model_validate(_campaign(campaign))


def reject(ctx: AppContext, campaign_id: str, body: RejectBody) -> ReviewCampaignOut:
    with ctx.db.write() as s:
        campaign = review.reject(s, ctx.clock, campaign_id, body.reason)
        return ReviewCampaignOut.model_validate(_campaign(campaign))
