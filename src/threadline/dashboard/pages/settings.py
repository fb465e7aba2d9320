"""Settings: the API key (create / rotate with grace / revoke), event keys, tool keys, cards, charges.

The same actions serve an operator on any org's page (/ops/orgs/{id}, pages/operator.py): each action
below takes the org and returns what the page shows next (status and values), and each page renders it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from threadline.auth import keys
from threadline.billing import payment_methods
from threadline.billing.providers import SANDBOX_TOKENS
from threadline.context import AppContext
from threadline.dashboard.web import advertiser as signed_in_org
from threadline.dashboard.web import call, ctx_of, page, posted, problem, text
from threadline.kit.errors import ApiError, not_found
from threadline.kit.pagination import PageParams
from threadline.operator import event_keys
from threadline.operator import service as operator
from threadline.operator.schemas import EventKeyCreate, PaymentMethodCreate
from threadline.surfaces import DASHBOARD
from threadline.tools import keys as tool_keys
from threadline.tools.schemas import ToolKeyCreate

router = APIRouter(prefix=DASHBOARD.prefixes[0].rstrip("/"), include_in_schema=False)
Shown = tuple[int, dict[str, Any]]  # the status of the page and what it shows besides the org's data


def org_settings(ctx: AppContext, org_id: str) -> dict[str, Any]:
    """The org's keys, cards and charges as the settings sections show them."""
    now = ctx.clock.now_s()
    with ctx.db.read() as s:
        api_keys = keys.live_keys(s, kind="advertiser", org_id=org_id, now=now)
        ev_keys = keys.live_keys(s, kind="event", org_id=org_id, now=now)
        cards = payment_methods.cards_of(s, org_id)
    return {
        "api_keys": api_keys,
        "event_keys": ev_keys,
        "tool_keys": tool_keys.list_tool_keys(ctx, org_id),
        "cards": cards,
        "charges": operator.list_charges(ctx, org_id, PageParams(limit=50)).data,
        "sandbox_tokens": SANDBOX_TOKENS if ctx.settings.payment_provider == "sandbox" else (),
        "grace_seconds": ctx.settings.key_rotation_grace_seconds,
        "now": now,
    }


# ------------------------------------------------------------------------------ the actions, once


async def rotate_api_key(ctx: AppContext, org_id: str) -> Shown:
    rotated = await call(operator.rotate_api_key, ctx, org_id)
    return 200, {
        "secret": rotated.api_key,
        "secret_label": "New API key",
        "notice": "The previous key keeps working until the time shown below.",
        "previous_expires_at": rotated.previous_key_expires_at,
    }


async def revoke_api_keys(ctx: AppContext, org_id: str) -> Shown:
    await call(operator.revoke_api_key, ctx, org_id)
    return 200, {"notice": "Every API key of this org is revoked."}


async def add_card(ctx: AppContext, org_id: str, form: FormData) -> Shown:
    try:
        body = PaymentMethodCreate(token=text(form, "token", 255))
        card = await call(operator.add_payment_method, ctx, org_id, body)
    except (ApiError, ValueError) as err:
        return 400, {"errors": {"token": problem(err)}}
    return 200, {"notice": f"Card {card.brand} ending {card.last4} added."}


async def delete_card(ctx: AppContext, org_id: str, card_id: str) -> Shown:
    await call(operator.delete_payment_method, ctx, org_id, card_id[:36])
    return 200, {"notice": "Card removed."}


# kind -> (the create service and its body, the revoke service, the label field's error key, its name)
KEY_KINDS: dict[str, tuple[Callable[[str], Any], Callable[..., Any], Callable[..., Any], str, str]] = {
    "event-keys": (
        lambda label: EventKeyCreate(label=label),
        event_keys.create_event_key,
        event_keys.revoke_event_key,
        "event_label",
        "event key",
    ),
    "tool-keys": (
        lambda label: ToolKeyCreate(label=label),
        tool_keys.create_tool_key,
        tool_keys.revoke_tool_key,
        "tool_label",
        "tool key",
    ),
}


async def create_key(ctx: AppContext, org_id: str, kind: str, form: FormData) -> Shown:
    if kind not in KEY_KINDS:
        raise not_found("page")
    make_body, create, _, field, name = KEY_KINDS[kind]
    try:
        created = await call(create, ctx, org_id, make_body(text(form, "label", 200) or "default"))
    except (ApiError, ValueError) as err:
        return 400, {"errors": {field: problem(err)}}
    return 200, {"secret": created.api_key, "secret_label": f"New {name}"}


async def revoke_key(ctx: AppContext, org_id: str, kind: str, key_id: str) -> Shown:
    if kind not in KEY_KINDS:
        raise not_found("page")
    _, _, revoke, _, name = KEY_KINDS[kind]
    await call(revoke, ctx, org_id, key_id[:36])
    return 200, {"notice": f"{name.capitalize()} revoked."}


# ----------------------------------------------------------------------------- the advertiser's page


async def _page(request: Request, principal: Any, org_id: str, shown: Shown = (200, {})) -> Response:
    data = await call(org_settings, ctx_of(request), org_id)
    status, values = shown
    return page(request, "settings.html", principal, status=status, **data, **values)


@router.get("/settings")
async def settings(request: Request) -> Response:
    principal, org_id = await signed_in_org(request)
    return await _page(request, principal, org_id)


@router.post("/settings/api-key/rotate")
async def rotate_api_key_route(request: Request) -> Response:
    principal, org_id = await signed_in_org(request)
    await posted(request, principal)
    return await _page(request, principal, org_id, await rotate_api_key(ctx_of(request), org_id))


@router.post("/settings/api-key/revoke")
async def revoke_api_keys_route(request: Request) -> Response:
    principal, org_id = await signed_in_org(request)
    await posted(request, principal)
    return await _page(request, principal, org_id, await revoke_api_keys(ctx_of(request), org_id))


@router.post("/settings/cards")
async def add_card_route(request: Request) -> Response:
    principal, org_id = await signed_in_org(request)
    form = await posted(request, principal)
    return await _page(request, principal, org_id, await add_card(ctx_of(request), org_id, form))


@router.post("/settings/cards/{card_id}/delete")
async def delete_card_route(request: Request, card_id: str) -> Response:
    principal, org_id = await signed_in_org(request)
    await posted(request, principal)
    return await _page(request, principal, org_id, await delete_card(ctx_of(request), org_id, card_id))


# After the cards' routes: /settings/{kind} would otherwise take /settings/cards.
@router.post("/settings/{kind}")
async def create_key_route(request: Request, kind: str) -> Response:
    principal, org_id = await signed_in_org(request)
    form = await posted(request, principal)
    return await _page(request, principal, org_id, await create_key(ctx_of(request), org_id, kind, form))


@router.post("/settings/{kind}/{key_id}/revoke")
async def revoke_key_route(request: Request, kind: str, key_id: str) -> Response:
    principal, org_id = await signed_in_org(request)
    await posted(request, principal)
    return await _page(request, principal, org_id, await revoke_key(ctx_of(request), org_id, kind, key_id))
