"""What an ad is worth per 1000 impressions: its bid for cpm, bid x predicted CTR for cpc."""

from __future__ import annotations

from typing import Protocol


# Structural types keep pricing free of the index module, which imports it.
class _PricedCampaign(Protocol):
    @property
    def pricing_model(self) -> str: ...


class PricedAd(Protocol):
    @property
    def max_bid_micros(self) -> int: ...
    @property
    def clicks(self) -> int: ...
    @property
    def impressions(self) -> int: ...
    @property
    def campaign(self) -> _PricedCampaign: ...


PRIOR_CTR = 0.01  # predicted CTR of an ad with no history
PRIOR_IMPRESSIONS = 200  # how many impressions of evidence the prior is worth


def predicted_ctr(clicks: int, impressions: int) -> float:
    return (clicks + PRIOR_CTR * PRIOR_IMPRESSIONS) / (impressions + PRIOR_IMPRESSIONS)


def ecpm_micros(ad: PricedAd) -> int:
    """What the ad is worth per 1000 impressions, in micros."""
    if ad.campaign.pricing_model == "cpc":
        return int(ad.max_bid_micros * predicted_ctr(ad.clicks, ad.impressions) * 1000)
    return ad.max_bid_micros
