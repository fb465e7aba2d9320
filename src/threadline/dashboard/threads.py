"""Threads publishing from the dashboard: the org's profiles, publish now, or schedule for later.

The dashboard acts for a profile of the signed-in person's org through the publishing service (the same
rules as the Graph API: 500 characters, 5 links, ...). Scheduling (and publishing media, which waits for
processing) goes through publishing/scheduled.py, the one scheduler the agent tools use too.
"""

from __future__ import annotations

from typing import Any

from threadline.context import AppContext
from threadline.kit.errors import ApiError
from threadline.kit.ids import new_id
from threadline.publishing import accounts, scheduled
from threadline.publishing import service as publishing
from threadline.publishing.auth import ThreadsPrincipal
from threadline.publishing.errors import GraphError
from threadline.publishing.schemas import ProfileOut


def profiles(ctx: AppContext, org_id: str) -> list[ProfileOut]:
    return list(accounts.list_profiles(ctx, org_id).data)


def principal_for(ctx: AppContext, org_id: str, profile_id: str) -> ThreadsPrincipal:
    """The dashboard speaking for one of the org's profiles (404 for any other profile): the same org
    principal the agent tools use."""
    return accounts.org_principal(ctx, org_id, profile_id)


def graph_problem(err: GraphError) -> ApiError:
    return ApiError(400, "threads_error", err.message, None)


def publish_now(ctx: AppContext, org_id: str, profile_id: str, params: dict[str, Any]) -> str:
    """Create the container and publish it; the post id. Media containers go through the job."""
    principal = principal_for(ctx, org_id, profile_id)
    container_id = publishing.create_container(ctx, principal, profile_id, dict(params))
    if params.get("media_type", "TEXT") in ("IMAGE", "VIDEO", "CAROUSEL"):
        return schedule(ctx, org_id, profile_id, params, ctx.clock.now_s(), container_id=container_id)
    return publishing.publish(ctx, principal, profile_id, {"creation_id": container_id})


def schedule(
    ctx: AppContext,
    org_id: str,
    profile_id: str,
    params: dict[str, Any],
    run_at: int,
    container_id: str | None = None,
) -> str:
    """Through publishing's scheduler (the agent tools' too); the schedule id."""
    principal = principal_for(ctx, org_id, profile_id)
    draft = scheduled.Draft([], dict(params))
    if container_id is None:
        # Checked now with the API's rules, so a mistake shows on the form and not hours later.
        scheduled.check_draft(draft)
    row_id = new_id()
    now = ctx.clock.now_s()
    with ctx.db.write() as s:
        scheduled.schedule(
            s,
            principal,
            schedule_id=row_id,
            post=dict(params),
            draft=draft,
            publish_at=max(run_at, now),
            now=now,
            container_id=container_id,
        )
    return row_id


def recent(ctx: AppContext, org_id: str) -> list[dict[str, Any]]:
    return scheduled.recent(ctx, org_id)


def posts(ctx: AppContext, org_id: str, profile_id: str) -> list[dict[str, Any]]:
    principal = principal_for(ctx, org_id, profile_id)
    fields = "id,text,media_type,permalink,timestamp,shortcode,is_quote_post"
    listing = publishing.list_posts(ctx, principal, profile_id, {"fields": fields, "limit": "25"}, "")
    data: list[dict[str, Any]] = listing["data"]
    return data
