"""Operator pages (/app/ops/): review queue, orgs (and one org's keys, cards, charges, tier), publishers
(and one publisher's keys, floor, origins), people, jobs, tool calls."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from threadline.auth.authenticator import DashboardPrincipal
from threadline.context import AppContext
from threadline.dashboard import people
from threadline.dashboard.pages import settings
from threadline.dashboard.web import (
    call,
    ctx_of,
    field_errors,
    operator,
    page,
    posted,
    problem,
    redirect,
    text,
)
from threadline.kit.errors import ApiError, validation_to_api_error
from threadline.kit.pagination import PageParams
from threadline.operator import jobs, publishers, review
from threadline.operator import service as orgs
from threadline.operator.schemas import (
    OrgCreate,
    PublisherCreate,
    PublisherKeyCreate,
    PublisherUpdate,
    RejectBody,
)
from threadline.surfaces import DASHBOARD
from threadline.tools import keys as tool_keys
from threadline.tools import quota
from threadline.tools.schemas import ToolPlanIn

router = APIRouter(prefix=DASHBOARD.prefixes[0] + "/ops", include_in_schema=False)


Shown = settings.Shown


def _errors(err: ApiError | ValidationError, known: dict[str, str]) -> dict[str, str]:
    """The API's message next to the field it names (a schema's error names its field too)."""
    api = validation_to_api_error(err.errors()) if isinstance(err, ValidationError) else err
    return field_errors(api, known)


def _notice(request: Request) -> str:
    return request.query_params.get("notice", "")


@router.get("/")
async def review_queue(request: Request) -> Response:
    principal = await operator(request)
    queue = await call(review.review_queue, ctx_of(request), 50)
    return page(request, "ops/review.html", principal, queue=queue.data, notice=_notice(request))


@router.post("/review/{campaign_id}/approve")
async def approve(request: Request, campaign_id: str) -> Response:
    principal = await operator(request)
    await posted(request, principal)
    done = await call(review.approve, ctx_of(request), campaign_id)
    return redirect("/ops/", notice=f"Approved {done.name}.")


@router.post("/review/{campaign_id}/reject")
async def reject(request: Request, campaign_id: str) -> Response:
    principal = await operator(request)
    form = await posted(request, principal)
    try:
        body = RejectBody(reason=text(form, "reason", 1000))
    except ValidationError as err:
        return redirect("/ops/", notice=f"Give a reason: {problem(err)}")
    done = await call(review.reject, ctx_of(request), campaign_id, body)
    return redirect("/ops/", notice=f"Rejected {done.name}.")


@router.get("/orgs")
async def org_list(request: Request) -> Response:
    principal = await operator(request)
    listing = await call(orgs.list_orgs, ctx_of(request), PageParams(limit=100))
    return page(request, "ops/orgs.html", principal, orgs=listing.data, created=None, errors={}, values={})


@router.post("/orgs")
async def org_create(request: Request) -> Response:
    principal = await operator(request)
    form = await posted(request, principal)
    ctx = ctx_of(request)
    values = {"name": text(form, "name", 200), "url": text(form, "url", 2048)}
    created: Any = None
    errors: dict[str, str] = {}
    try:
        body = OrgCreate(name=values["name"], url=values["url"] or None)
        created = await call(orgs.create_org, ctx, body)
    except (ApiError, ValidationError) as err:
        errors = _errors(err, {"name": "name", "url": "url"})
    listing = await call(orgs.list_orgs, ctx, PageParams(limit=100))
    return page(
        request,
        "ops/orgs.html",
        principal,
        status=400 if errors else 200,
        orgs=listing.data,
        created=created,
        errors=errors,
        values=values if errors else {},
    )


# ---------------------------------------------------------------------------------- one org's page


def _org_data(ctx: AppContext, org_id: str) -> dict[str, Any]:
    org = orgs.get_org(ctx, org_id)  # an unknown id is a 404 before anything else is read
    return {
        "org": org,
        "plan": tool_keys.get_plan(ctx, org_id),
        "tiers": [(t, quota.tier_limit(ctx.settings, t)) for t in quota.TIERS],
        **settings.org_settings(ctx, org_id),
    }


async def _detail_page(
    request: Request,
    principal: DashboardPrincipal,
    template: str,
    load: Callable[[AppContext, str], dict[str, Any]],
    object_id: str,
    shown: Shown,
) -> Response:
    """An operator's page of one org or publisher, with what the last action showed (notice, errors)."""
    data = await call(load, ctx_of(request), object_id[:36])
    status, values = shown
    return page(request, template, principal, status=status, **data, **values)


async def _org_page(
    request: Request, principal: DashboardPrincipal, org_id: str, shown: Shown = (200, {})
) -> Response:
    return await _detail_page(request, principal, "ops/org.html", _org_data, org_id, shown)


@router.get("/orgs/{org_id}")
async def org_detail(request: Request, org_id: str) -> Response:
    return await _org_page(request, await operator(request), org_id)


@router.post("/orgs/{org_id}/api-key/rotate")
async def org_rotate_api_key(request: Request, org_id: str) -> Response:
    principal = await operator(request)
    await posted(request, principal)
    shown = await settings.rotate_api_key(ctx_of(request), org_id[:36])
    return await _org_page(request, principal, org_id, shown)


@router.post("/orgs/{org_id}/api-key/revoke")
async def org_revoke_api_keys(request: Request, org_id: str) -> Response:
    principal = await operator(request)
    await posted(request, principal)
    shown = await settings.revoke_api_keys(ctx_of(request), org_id[:36])
    return await _org_page(request, principal, org_id, shown)


@router.post("/orgs/{org_id}/tier")
async def org_tier(request: Request, org_id: str) -> Response:
    """Change the tool tier; an htmx request gets only the tier section back."""
    principal = await operator(request)
    form = await posted(request, principal)
    ctx = ctx_of(request)
    shown: Shown
    try:
        body = ToolPlanIn.model_validate({"tier": text(form, "tier", 16)})
        plan = await call(tool_keys.set_plan, ctx, org_id[:36], body.tier)
        shown = 200, {"tier_notice": f"Tier set to {plan.tier} ({plan.limit:,} tool calls a month)."}
    except ValidationError as err:
        shown = 400, {"errors": _errors(err, {"tier": "tier"})}
    if not request.headers.get("hx-request"):
        return await _org_page(request, principal, org_id, shown)
    data = await call(_org_data, ctx, org_id[:36])
    status, values = shown
    return page(request, "ops/partials/tier.html", principal, status=status, **data, **values)


@router.post("/orgs/{org_id}/cards")
async def org_add_card(request: Request, org_id: str) -> Response:
    principal = await operator(request)
    form = await posted(request, principal)
    await call(orgs.get_org, ctx_of(request), org_id[:36])  # an unknown org: 404, not a form error
    shown = await settings.add_card(ctx_of(request), org_id[:36], form)
    return await _org_page(request, principal, org_id, shown)


@router.post("/orgs/{org_id}/cards/{card_id}/delete")
async def org_delete_card(request: Request, org_id: str, card_id: str) -> Response:
    principal = await operator(request)
    await posted(request, principal)
    shown = await settings.delete_card(ctx_of(request), org_id[:36], card_id)
    return await _org_page(request, principal, org_id, shown)


# After the tier's and the cards' routes: /orgs/{org_id}/{kind} would otherwise take them.
@router.post("/orgs/{org_id}/{kind}")
async def org_create_key(request: Request, org_id: str, kind: str) -> Response:
    principal = await operator(request)
    form = await posted(request, principal)
    await call(orgs.get_org, ctx_of(request), org_id[:36])
    shown = await settings.create_key(ctx_of(request), org_id[:36], kind, form)
    return await _org_page(request, principal, org_id, shown)


@router.post("/orgs/{org_id}/{kind}/{key_id}/revoke")
async def org_revoke_key(request: Request, org_id: str, kind: str, key_id: str) -> Response:
    principal = await operator(request)
    await posted(request, principal)
    shown = await settings.revoke_key(ctx_of(request), org_id[:36], kind, key_id)
    return await _org_page(request, principal, org_id, shown)


# -------------------------------------------------------------------------------------- publishers

PUBLISHER_FIELDS = {
    "name": "name",
    "supply": "supply",
    "floor_cpm_micros": "floor_cpm_micros",
    "allowed_origins": "allowed_origins",
}


def _origins(form: FormData) -> list[str]:
    """One origin a line (commas work too), blanks dropped."""
    raw = text(form, "allowed_origins", 110_000).replace(",", "\n")
    return [o.strip() for o in raw.splitlines() if o.strip()]


@router.get("/publishers")
async def publisher_list(request: Request) -> Response:
    principal = await operator(request)
    listing = await call(publishers.list_publishers, ctx_of(request), PageParams(limit=100))
    return page(
        request,
        "ops/publishers.html",
        principal,
        publishers=listing.data,
        created=None,
        errors={},
        values={},
    )


@router.post("/publishers")
async def publisher_create(request: Request) -> Response:
    principal = await operator(request)
    form = await posted(request, principal)
    ctx = ctx_of(request)
    values = {
        name: text(form, name, 200 if name != "allowed_origins" else 110_000)
        for name in ("name", "supply", "floor_cpm_micros", "allowed_origins")
    }
    created: Any = None
    errors: dict[str, str] = {}
    try:
        floor = values["floor_cpm_micros"][:20]
        body = PublisherCreate.model_validate(
            {
                "name": values["name"],
                "supply": values["supply"][:64] or "direct",
                "allowed_origins": _origins(form),
                **({"floor_cpm_micros": floor} if floor else {}),
            },
            strict=False,
        )
        created = await call(publishers.create_publisher, ctx, body)
    except (ApiError, ValidationError) as err:
        errors = _errors(err, PUBLISHER_FIELDS)
    listing = await call(publishers.list_publishers, ctx, PageParams(limit=100))
    return page(
        request,
        "ops/publishers.html",
        principal,
        status=400 if errors else 200,
        publishers=listing.data,
        created=created,
        errors=errors,
        values=values if errors else {},
    )


# ---------------------------------------------------------------------------- one publisher's page


def _publisher_data(ctx: AppContext, publisher_id: str) -> dict[str, Any]:
    return {
        "publisher": publishers.get_publisher(ctx, publisher_id),
        "keys": publishers.list_publisher_keys(ctx, publisher_id),
        "grace_seconds": ctx.settings.key_rotation_grace_seconds,
    }


async def _publisher_page(
    request: Request, principal: DashboardPrincipal, publisher_id: str, shown: Shown = (200, {})
) -> Response:
    return await _detail_page(request, principal, "ops/publisher.html", _publisher_data, publisher_id, shown)


@router.get("/publishers/{publisher_id}")
async def publisher_detail(request: Request, publisher_id: str) -> Response:
    return await _publisher_page(request, await operator(request), publisher_id)


@router.post("/publishers/{publisher_id}/settings")
async def publisher_settings(request: Request, publisher_id: str) -> Response:
    """Floor and allowed origins; an htmx request gets only that section back."""
    principal = await operator(request)
    form = await posted(request, principal)
    ctx = ctx_of(request)
    pid = publisher_id[:36]
    floor = text(form, "floor_cpm_micros", 20)
    shown: Shown
    try:
        body = PublisherUpdate.model_validate(
            {"allowed_origins": _origins(form), **({"floor_cpm_micros": floor} if floor else {})},
            strict=False,
        )
        await call(publishers.update_publisher, ctx, pid, body)
        shown = 200, {"settings_notice": "Saved. Serving uses the new values within a second."}
    except ValidationError as err:
        await call(publishers.get_publisher, ctx, pid)  # an unknown publisher: 404, not a form error
        shown = (
            400,
            {
                "errors": _errors(err, PUBLISHER_FIELDS),
                "values": {
                    "floor_cpm_micros": floor,
                    "allowed_origins": text(form, "allowed_origins", 110_000),
                },
            },
        )
    if not request.headers.get("hx-request"):
        return await _publisher_page(request, principal, pid, shown)
    data = await call(_publisher_data, ctx, pid)
    status, values = shown
    return page(request, "ops/partials/publisher_settings.html", principal, status=status, **data, **values)


@router.post("/publishers/{publisher_id}/keys/rotate")
async def publisher_rotate_key(request: Request, publisher_id: str) -> Response:
    principal = await operator(request)
    await posted(request, principal)
    rotated = await call(publishers.rotate_publisher_key, ctx_of(request), publisher_id[:36])
    shown: Shown = (
        200,
        {
            "secret": rotated.api_key,
            "secret_label": "New publisher key",
            "notice": "The previous keys keep working until the time shown below.",
            "previous_expires_at": rotated.previous_key_expires_at,
        },
    )
    return await _publisher_page(request, principal, publisher_id, shown)


@router.post("/publishers/{publisher_id}/keys")
async def publisher_create_key(request: Request, publisher_id: str) -> Response:
    principal = await operator(request)
    form = await posted(request, principal)
    ctx = ctx_of(request)
    shown: Shown
    try:
        body = PublisherKeyCreate(label=text(form, "label", 200) or "default")
        created = await call(publishers.create_publisher_key, ctx, publisher_id[:36], body)
        shown = 200, {"secret": created.api_key, "secret_label": "New publisher key"}
    except ValidationError as err:
        await call(publishers.get_publisher, ctx, publisher_id[:36])
        shown = 400, {"errors": _errors(err, {"label": "label"})}
    return await _publisher_page(request, principal, publisher_id, shown)


@router.post("/publishers/{publisher_id}/keys/{key_id}/revoke")
async def publisher_revoke_key(request: Request, publisher_id: str, key_id: str) -> Response:
    principal = await operator(request)
    await posted(request, principal)
    await call(publishers.revoke_publisher_key, ctx_of(request), publisher_id[:36], key_id[:36])
    return await _publisher_page(
        request, principal, publisher_id, (200, {"notice": "Publisher key revoked."})
    )


@router.get("/people")
async def people_list(request: Request) -> Response:
    principal = await operator(request)
    everyone = await call(people.list_people, ctx_of(request))
    return page(request, "ops/people.html", principal, people=everyone, link="", error="")


@router.post("/people/invite")
async def invite(request: Request) -> Response:
    principal = await operator(request)
    form = await posted(request, principal)
    ctx = ctx_of(request)
    link, error = "", ""
    try:
        org = text(form, "org_id", 36) or None
        made = await call(lambda: people.invite(ctx, text(form, "email", 254), org_id=org))
        link = made.link(ctx.settings.public_base_url)
    except ApiError as err:
        error = err.message
    everyone = await call(people.list_people, ctx)
    return page(
        request,
        "ops/people.html",
        principal,
        status=400 if error else 200,
        people=everyone,
        link=link,
        error=error,
    )


@router.get("/jobs")
async def job_list(request: Request) -> Response:
    principal = await operator(request)
    state = request.query_params.get("state") or None
    if state not in (None, "queued", "running", "done", "dead"):
        state = None
    listing = await call(jobs.list_jobs, ctx_of(request), state, PageParams(limit=100))
    return page(request, "ops/jobs.html", principal, jobs=listing.data, state=state or "")


@router.get("/tool-calls")
async def tool_calls(request: Request) -> Response:
    principal = await operator(request)
    ctx = ctx_of(request)
    all_orgs = (await call(orgs.list_orgs, ctx, PageParams(limit=100))).data
    org_id = request.query_params.get("org") or (all_orgs[0].id if all_orgs else "")
    calls = (await call(tool_keys.list_tool_calls, ctx, org_id, PageParams(limit=100))).data if org_id else []
    return page(request, "ops/tool_calls.html", principal, orgs=all_orgs, org_id=org_id, calls=calls)
