"""The platforms tools act on, and the argument each platform's tools take to pick an account."""

from __future__ import annotations

SELECTORS: dict[str, str] = {"thrad": "ad_account_id", "threads": "profile_id", "tiktok_ads": "advertiser_id"}
PLATFORMS = tuple(SELECTORS)
