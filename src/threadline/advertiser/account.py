"""GET /v1/ad_account."""

from __future__ import annotations

import json

import anyio.to_thread
from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel

from threadline.advertiser.repository import default_ad_account
from threadline.auth.deps import principal_org_id
from threadline.context import AppContext
from threadline.kit.schemas import error_responses
from threadline.routing import RawRoute
from threadline.store.models import AdAccount

router = APIRouter(tags=["ad account"])

# Ad accounts never change once created (no API edits them), so a short per-process cache keeps
# this smoke-test endpoint off the database without ever serving stale data for long.
CACHE_SECONDS = 5.0


class AdAccountOut(BaseModel):
    id: str
    name: str
    url: str
    timezone: str
    currency_code: str


def ad_account_out(account: AdAccount) -> AdAccountOut:
    return AdAccountOut(
        id=account.id,
        name=account.name,
        url=account.url,
        timezone=account.timezone,
        currency_code=account.currency_code,
    )


def _load(ctx: AppContext, org_id: str) -> bytes:
    with ctx.db.read() as s:
        out = ad_account_out(default_ad_account(s, org_id))
    return json.dumps(out.model_dump(), separators=(",", ":")).encode()


# The smoke-test endpoint clients poll most: no FastAPI dependencies at all (each costs a solve per
# request). The gate has authenticated the key; the security requirement is declared for OpenAPI only.
async def get_ad_account(request: Request) -> Response:
    ctx: AppContext = request.app.state.ctx
    org_id = principal_org_id(request)
    cache = ctx.ad_account_cache
    now = ctx.clock.monotonic()
    hit = cache.get(org_id)
    if hit is not None and hit[0] > now:
        body = hit[1]
    else:
        body = await ctx.ad_account_loads.run(org_id, lambda: anyio.to_thread.run_sync(_load, ctx, org_id))
        cache[org_id] = (now + CACHE_SECONDS, body)
    return Response(body, media_type="application/json")


router.add_api_route(
    "/v1/ad_account",
    get_ad_account,
    methods=["GET"],
    response_model=AdAccountOut,
    responses=error_responses(401, 429),
    openapi_extra={"security": [{"HTTPBearer": []}]},
    route_class_override=RawRoute,
)
