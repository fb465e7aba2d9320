"""Every /v1/ advertiser router, gathered for create_app."""

from __future__ import annotations

from fastapi import APIRouter

from threadline.advertiser import account

router = APIRouter()
router.include_router(account.router)
