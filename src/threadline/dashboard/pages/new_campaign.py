"""The new-campaign form: the nested create of POST /v1/campaigns, the deposit shown and confirmed."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError

from threadline.advertiser import launch
from threadline.advertiser.schemas import CampaignCreate
from threadline.context import AppContext
from threadline.dashboard.web import advertiser as signed_in_org
from threadline.dashboard.web import call, ctx_of, field_errors, page, posted, redirect, text
from threadline.kit.errors import ApiError, validation_to_api_error
from threadline.media import service as media
from threadline.surfaces import DASHBOARD

router = APIRouter(prefix=DASHBOARD.prefixes[0].rstrip("/"), include_in_schema=False)


# --- the new-campaign form ---------------------------------------------------------------------------

# Form field → the API's parameter path it feeds (errors are placed by the param the API names).
FIELD_PARAMS = {
    "name": "name",
    "description": "description",
    "budget": "budget",
    "start_time": "start_time",
    "end_time": "end_time",
    "countries": "targeting",
    "pricing_model": "pricing_model",
    "recurring_frequency": "recurring_frequency",
    "ad_groups[0].context_hints": "hints",
    "ad_groups[0].bidding_config": "max_bid",
    "ad_groups[0].ads[0].creative.title": "title",
    "ad_groups[0].ads[0].creative.body": "body",
    "ad_groups[0].ads[0].creative.target_url": "target_url",
    "ad_groups[0].ads[0].creative.cta_text": "cta_text",
    "ad_groups[0].ads[0].creative.file_id": "file",
    "ad_groups[0].ads[0].creative": "title",
    "ad_groups[0].ads[0].name": "title",
    "ad_groups[0].name": "group_name",
    "file": "file",
    "image_url": "file",
    "ad_groups": "title",
}
FORM_FIELDS = (
    "name",
    "description",
    "budget",
    "start_time",
    "end_time",
    "countries",
    "pricing_model",
    "recurring_frequency",
    "group_name",
    "hints",
    "max_bid",
    "title",
    "body",
    "target_url",
    "cta_text",
    "file_id",
)


def _micros(raw: str) -> int | str:
    """Dollars typed in the form as micros; anything else goes to the API as typed, for its message."""
    try:
        return int(Decimal(raw.replace(",", "").removeprefix("$")) * 1_000_000)
    except (InvalidOperation, ValueError):
        return raw


def _timestamp(raw: str) -> int | str | None:
    if not raw:
        return None
    try:
        return int(datetime.fromisoformat(raw).replace(tzinfo=UTC).timestamp())
    except ValueError:
        return raw


def campaign_body(values: dict[str, str]) -> dict[str, Any]:
    """The nested create (POST /v1/campaigns' body) the form describes."""
    creative: dict[str, Any] = {
        "type": "chat_card",
        "title": values["title"],
        "body": values["body"],
        "target_url": values["target_url"],
    }
    if values["cta_text"]:
        creative["cta_text"] = values["cta_text"]
    if values["file_id"]:
        creative["file_id"] = values["file_id"]
    group: dict[str, Any] = {
        "name": values["group_name"] or values["name"] or "Ad group",
        "context_hints": [h.strip() for h in values["hints"].split(",") if h.strip()],
        "ads": [{"name": values["title"] if len(values["title"]) >= 3 else "Ad 1", "creative": creative}],
    }
    if values["max_bid"]:
        group["bidding_config"] = {"max_bid_micros": _micros(values["max_bid"])}
    body: dict[str, Any] = {
        "name": values["name"],
        "budget": {"lifetime_spend_limit_micros": _micros(values["budget"])},
        "ad_groups": [group],
    }
    if values["description"]:
        body["description"] = values["description"]
    for key in ("start_time", "end_time"):
        ts = _timestamp(values[key])
        if ts is not None:
            body[key] = ts
    if values["pricing_model"]:
        body["pricing_model"] = values["pricing_model"]
    if values["recurring_frequency"]:
        body["recurring_frequency"] = values["recurring_frequency"]
    countries = [c.strip().upper() for c in values["countries"].split(",") if c.strip()]
    if countries:
        body["targeting"] = {"locations": {"include": countries}}
    return body


def _form_page(
    request: Request,
    principal: Any,
    values: dict[str, str],
    errors: dict[str, str],
    step: str,
    status: int = 200,
) -> Response:
    ctx = ctx_of(request)
    return page(
        request,
        "new_campaign.html",
        principal,
        status=status,
        values=values,
        errors=errors,
        step=step,
        deposit_micros=ctx.settings.deposit_micros,
        # One key per confirmation page: a double submit replays the same deposit, never a second one.
        idempotency_key=secrets.token_hex(16),
    )


@router.get("/campaigns/new")
async def new_campaign_form(request: Request) -> Response:
    principal, _ = await signed_in_org(request)
    values = dict.fromkeys(FORM_FIELDS, "")
    values.update(pricing_model="cpm", recurring_frequency="daily", budget="25.00")
    return _form_page(request, principal, values, {}, "edit")


def _validate(ctx: AppContext, org_id: str, body: dict[str, Any]) -> CampaignCreate:
    try:
        parsed = CampaignCreate.model_validate(body)
    except ValidationError as exc:
        raise validation_to_api_error(exc.errors()) from None
    with ctx.db.read() as s:
        launch.plan_campaign(s, ctx, org_id, parsed)  # every rule of the create, no side effect
    return parsed


@router.post("/campaigns/new")
async def new_campaign(request: Request) -> Response:
    """Step 1 (no ``confirm``): validate, upload the creative, show the deposit. Step 2: charge and create."""
    principal, org_id = await signed_in_org(request)
    ctx = ctx_of(request)
    form = await posted(request, principal)
    values = {name: text(form, name, 4096) for name in FORM_FIELDS}
    upload = form.get("file")
    try:
        if upload is not None and not isinstance(upload, str) and upload.filename:
            data = await upload.read(5 * 1024 * 1024 + 1)
            values["file_id"] = await call(media.store_image, ctx, org_id, data)
        elif text(form, "image_url", 4096):
            data = await media.fetch_image_bytes(ctx, text(form, "image_url", 4096))
            values["file_id"] = await call(media.store_image, ctx, org_id, data)
        body = campaign_body(values)
        parsed = await call(_validate, ctx, org_id, body)
        if text(form, "confirm") != "yes":
            return _form_page(request, principal, values, {}, "confirm")
        key = text(form, "idempotency_key", 200) or None
        created = await call(launch.create_campaign, ctx, org_id, parsed, key)
    except ApiError as err:
        errors = field_errors(err, FIELD_PARAMS)
        return _form_page(
            request, principal, values, errors, "edit", status=err.status if err.status < 500 else 200
        )
    return redirect(f"/campaigns/{created['id']}", notice="Campaign created and submitted for review.")
