"""Operator pages (/app/ops/): review queue, orgs, publishers, people, jobs, tool calls."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError

from threadline.dashboard import people
from threadline.dashboard.web import call, ctx_of, operator, page, posted, redirect, text
from threadline.kit.errors import ApiError, validation_to_api_error
from threadline.kit.pagination import PageParams
from threadline.operator import jobs, publishers, review
from threadline.operator import service as orgs
from threadline.operator.schemas import OrgCreate, PublisherCreate, RejectBody
from threadline.surfaces import DASHBOARD
from threadline.tools import keys as tool_keys

router = APIRouter(prefix=DASHBOARD.prefixes[0] + "/ops", include_in_schema=False)


def _problem(err: Exception) -> str:
    if isinstance(err, ValidationError):
        return validation_to_api_error(err.errors()).message
    return err.message if isinstance(err, ApiError) else str(err)


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
        return redirect("/ops/", notice=f"Give a reason: {_problem(err)}")
    done = await call(review.reject, ctx_of(request), campaign_id, body)
    return redirect("/ops/", notice=f"Rejected {done.name}.")


@router.get("/orgs")
async def org_list(request: Request) -> Response:
    principal = await operator(request)
    listing = await call(orgs.list_orgs, ctx_of(request), PageParams(limit=100))
    return page(
        request,
        "ops/orgs.html",
        principal,
        orgs=listing.data,
        created=None,
        error="",
        notice=_notice(request),
    )


@router.post("/orgs")
async def org_create(request: Request) -> Response:
    principal = await operator(request)
    form = await posted(request, principal)
    ctx = ctx_of(request)
    try:
        body = OrgCreate(name=text(form, "name", 200), url=text(form, "url", 2048) or None)
        created = await call(orgs.create_org, ctx, body)
    except (ApiError, ValidationError) as err:
        listing = await call(orgs.list_orgs, ctx, PageParams(limit=100))
        return page(
            request,
            "ops/orgs.html",
            principal,
            status=400,
            orgs=listing.data,
            created=None,
            error=_problem(err),
            notice="",
        )
    listing = await call(orgs.list_orgs, ctx, PageParams(limit=100))
    return page(request, "ops/orgs.html", principal, orgs=listing.data, created=created, error="", notice="")


@router.get("/publishers")
async def publisher_list(request: Request) -> Response:
    principal = await operator(request)
    listing = await call(publishers.list_publishers, ctx_of(request), PageParams(limit=100))
    return page(request, "ops/publishers.html", principal, publishers=listing.data, created=None, error="")


@router.post("/publishers")
async def publisher_create(request: Request) -> Response:
    principal = await operator(request)
    form = await posted(request, principal)
    ctx = ctx_of(request)
    created: Any = None
    error = ""
    try:
        origins = [o.strip() for o in text(form, "allowed_origins", 10_000).split(",") if o.strip()]
        floor = text(form, "floor_cpm_micros", 20)
        body = PublisherCreate.model_validate(
            {
                "name": text(form, "name", 200),
                "supply": text(form, "supply", 64) or "direct",
                "allowed_origins": origins,
                **({"floor_cpm_micros": floor} if floor else {}),
            },
            strict=False,
        )
        created = await call(publishers.create_publisher, ctx, body)
    except (ApiError, ValidationError) as err:
        error = _problem(err)
    listing = await call(publishers.list_publishers, ctx, PageParams(limit=100))
    return page(
        request,
        "ops/publishers.html",
        principal,
        status=400 if error else 200,
        publishers=listing.data,
        created=created,
        error=error,
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
