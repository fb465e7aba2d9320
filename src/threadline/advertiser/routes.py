"""Every /v1/ advertiser router, gathered for create_app."""

from __future__ import annotations

from fastapi import APIRouter

from threadline.advertiser import account, ad_groups, ads, campaigns

router = APIRouter()
router.include_router(account.router)
router.include_router(campaigns.router)
router.include_router(ad_groups.router)
router.include_router(ads.router)
