"""Creatives (the upload library) and publishing (profiles, the composer, posts and scheduled posts)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from threadline.context import AppContext
from threadline.dashboard import threads
from threadline.dashboard.web import advertiser as signed_in_org
from threadline.dashboard.web import call, ctx_of, page, posted, redirect, text
from threadline.kit.errors import ApiError
from threadline.media import service as media
from threadline.media.uploads import list_uploads, public_media_url
from threadline.publishing.rules import MAX_LINKS, MAX_TEXT
from threadline.surfaces import DASHBOARD

router = APIRouter(prefix=DASHBOARD.prefixes[0].rstrip("/"), include_in_schema=False)


def _creatives(ctx: AppContext, org_id: str) -> list[dict[str, Any]]:
    with ctx.db.read() as s:
        rows = list_uploads(s, org_id)
    return [
        {
            "id": u.id,
            "url": public_media_url(ctx.settings, u.id),
            "size": u.size,
            "width": u.width,
            "height": u.height,
            "created_at": u.created_at,
        }
        for u in rows
    ]


@router.get("/creatives")
async def creatives(request: Request) -> Response:
    principal, org_id = await signed_in_org(request)
    items = await call(_creatives, ctx_of(request), org_id)
    return page(
        request,
        "creatives.html",
        principal,
        items=items,
        error="",
        notice=request.query_params.get("notice", ""),
    )


@router.post("/creatives")
async def upload_creative(request: Request) -> Response:
    principal, org_id = await signed_in_org(request)
    ctx = ctx_of(request)
    form = await posted(request, principal)
    upload = form.get("file")
    url = text(form, "image_url", 4096)
    try:
        if upload is not None and not isinstance(upload, str) and upload.filename:
            data = await upload.read(5 * 1024 * 1024 + 1)
        elif url:
            data = await media.fetch_image_bytes(ctx, url)
        else:
            raise ApiError(400, "missing_param", "Choose a file or give an image URL.", "file")
        file_id = await call(media.store_image, ctx, org_id, data)
    except ApiError as err:
        items = await call(_creatives, ctx, org_id)
        return page(
            request, "creatives.html", principal, status=err.status, items=items, error=err.message, notice=""
        )
    return redirect("/creatives", notice=f"Uploaded {file_id}.")


# --- publishing --------------------------------------------------------------------------------------


def _publishing(ctx: AppContext, org_id: str, profile_id: str | None) -> dict[str, Any]:
    profiles = threads.profiles(ctx, org_id)
    chosen = next((p for p in profiles if p.id == profile_id), profiles[0] if profiles else None)
    return {
        "profiles": profiles,
        "profile": chosen,
        "posts": threads.posts(ctx, org_id, chosen.id) if chosen else [],
        "scheduled": threads.recent(ctx, org_id),
        "max_text": MAX_TEXT,
        "max_links": MAX_LINKS,
    }


@router.get("/publishing")
async def publishing(request: Request) -> Response:
    principal, org_id = await signed_in_org(request)
    data = await call(_publishing, ctx_of(request), org_id, request.query_params.get("profile"))
    return page(
        request,
        "publishing.html",
        principal,
        **data,
        values={},
        error="",
        notice=request.query_params.get("notice", ""),
    )


def composed(form: Any) -> dict[str, Any]:
    """The container parameters of the composer (the Graph API's names and rules)."""
    params: dict[str, Any] = {}
    image, video = text(form, "image_url", 4096), text(form, "video_url", 4096)
    carousel = [u.strip() for u in text(form, "carousel_urls", 40_000).splitlines() if u.strip()]
    if carousel:
        params["media_type"] = "CAROUSEL"
    elif video:
        params.update(media_type="VIDEO", video_url=video)
    elif image:
        params.update(media_type="IMAGE", image_url=image)
    else:
        params["media_type"] = "TEXT"
    for name in ("text", "topic_tag", "link_attachment"):
        value = text(form, name, 10_000)
        if value:
            params[name] = value
    options = [text(form, f"poll_{k}", 100) for k in ("a", "b", "c", "d")]
    if any(options):
        import json

        params["poll_attachment"] = json.dumps(
            {f"option_{k}": v for k, v in zip("abcd", options, strict=True) if v}
        )
    if carousel:
        params["carousel_urls"] = carousel
    return params


def _when(raw: str) -> int | None:
    if not raw:
        return None
    try:
        return int(datetime.fromisoformat(raw).replace(tzinfo=UTC).timestamp())
    except ValueError:
        raise ApiError(
            400, "invalid_value", "Give the time as YYYY-MM-DDTHH:MM (UTC).", "publish_at"
        ) from None


def _submit(ctx: AppContext, org_id: str, profile_id: str, params: dict[str, Any], when: int | None) -> str:
    carousel = params.pop("carousel_urls", None)
    if carousel:
        principal = threads.principal_for(ctx, org_id, profile_id)
        from threadline.publishing import service as publishing_service

        children = [
            publishing_service.create_container(
                ctx,
                principal,
                profile_id,
                {"media_type": "IMAGE", "image_url": u, "is_carousel_item": "true"},
            )
            for u in carousel
        ]
        params["children"] = ",".join(children)
        container_id = publishing_service.create_container(ctx, principal, profile_id, dict(params))
        return threads.schedule(ctx, org_id, profile_id, params, when or ctx.clock.now_s(), container_id)
    if when is not None and when > ctx.clock.now_s():
        threads.schedule(ctx, org_id, profile_id, params, when)
        return "scheduled"
    return threads.publish_now(ctx, org_id, profile_id, params)


@router.post("/publishing")
async def compose(request: Request) -> Response:
    principal, org_id = await signed_in_org(request)
    ctx = ctx_of(request)
    form = await posted(request, principal)
    profile_id = text(form, "profile_id", 32)
    params = composed(form)
    try:
        when = _when(text(form, "publish_at", 32))
        outcome = await call(_submit, ctx, org_id, profile_id, dict(params), when)
    except ApiError as err:
        data = await call(_publishing, ctx, org_id, profile_id)
        values = {k: text(form, k, 40_000) for k in form if isinstance(form.get(k), str)}
        return page(
            request,
            "publishing.html",
            principal,
            status=err.status if err.status < 500 else 400,
            **data,
            values=values,
            error=err.message,
            notice="",
        )
    notice = "Post scheduled." if outcome == "scheduled" or when else "Post published."
    return redirect("/publishing", profile=profile_id, notice=notice)
