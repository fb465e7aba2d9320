"""Every /v1/ advertiser router, mounted flat (see routing.mount)."""

from __future__ import annotations

from fastapi import FastAPI

from threadline.advertiser import account, ad_groups, ads, campaigns
from threadline.context import AppContext
from threadline.routing import mount


def install(app: FastAPI, ctx: AppContext) -> None:
    mount(app, account.router, campaigns.router, ad_groups.router, ads.router)
