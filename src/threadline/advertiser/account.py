"""GET /v1/ad_account."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from threadline.advertiser.deps import Ctx, OrgId
from threadline.kit.schemas import error_responses
from threadline.operator.orgs import default_ad_account

router = APIRouter(tags=["ad account"])


class AdAccountOut(BaseModel):
    id: str
    name: str
    url: str
    timezone: str
    currency_code: str


@router.get("/v1/ad_account", response_model=AdAccountOut, responses=error_responses(401, 429))
def get_ad_account(ctx: Ctx, org_id: OrgId) -> AdAccountOut:
    with ctx.db.read() as s:
        account = default_ad_account(s, org_id)
        return AdAccountOut(
            id=account.id,
            name=account.name,
            url=account.url,
            timezone=account.timezone,
            currency_code=account.currency_code,
        )
