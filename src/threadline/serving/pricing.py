"""What an ad is worth per 1000 impressions: its bid for cpm, bid x predicted CTR for cpc."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from threadline.serving.index import AdEntry

PRIOR_CTR = 0.01  # predicted CTR of an ad with no history
PRIOR_IMPRESSIONS = 200  # how many impressions of evidence the prior is worth


def predicted_ctr(clicks: int, impressions: int) -> float:
    return (clicks + PRIOR_CTR * PRIOR_IMPRESSIONS) / (impressions + PRIOR_IMPRESSIONS)


def ecpm_micros(ad: AdEntry) -> int:
    """What the ad is worth per 1000 impressions, in micros."""
    if ad.campaign.pricing_model == "cpc":
        return int(ad.max_bid_micros * predicted_ctr(ad.clicks, ad.impressions) * 1000)
    return ad.max_bid_micros
