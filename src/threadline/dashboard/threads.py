"""Threads publishing from the dashboard: the org's profiles, publish now, or schedule for later.

The dashboard acts for a profile of the signed-in person's org through the publishing service (the same
rules as the Graph API: 500 characters, 5 links, ...). A scheduled post is a row here and a durable job
(``dashboard.publish_post``) due at its time; the job creates the container, waits for media processing,
and publishes. The job is idempotent: a row already published or failed is left alone.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from threadline.context import AppContext
from threadline.kit.errors import ApiError, not_found
from threadline.kit.ids import new_id
from threadline.kit.jobs import Job, JobRegistry, RetryJob, enqueue
from threadline.publishing import accounts
from threadline.publishing import service as publishing
from threadline.publishing.auth import SCOPES, ThreadsPrincipal
from threadline.publishing.errors import GraphError
from threadline.publishing.schemas import ProfileOut
from threadline.store.models import ScheduledPost

PUBLISH_POST = "dashboard.publish_post"
MEDIA_WAIT_SECONDS = 5


def profiles(ctx: AppContext, org_id: str) -> list[ProfileOut]:
    return list(accounts.list_profiles(ctx, org_id).data)


def principal_for(ctx: AppContext, org_id: str, profile_id: str) -> ThreadsPrincipal:
    """The dashboard speaking for one of the org's profiles (404 for any other profile)."""
    for p in profiles(ctx, org_id):
        if p.id == profile_id:
            now = ctx.clock.now_s()
            return ThreadsPrincipal(
                token_id=0,
                profile_id=int(p.id),
                org_id=org_id,
                username=p.username,
                scopes=frozenset(SCOPES),
                app_id=None,
                lifetime="dashboard",
                created_at=now,
                expires_at=now + 60,
            )
    raise not_found("profile", "profile_id")


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
    principal = principal_for(ctx, org_id, profile_id)
    if container_id is None:
        # Checked now with the API's rules, so a mistake shows on the form and not hours later.
        from threadline.publishing.rules import parse_container

        parse_container(dict(params))
    row_id = new_id()
    now = ctx.clock.now_s()
    with ctx.db.write() as s:
        s.add(
            ScheduledPost(
                id=row_id,
                org_id=org_id,
                profile_id=principal.profile_id,
                params=dict(params),
                run_at=max(run_at, now),
                status="scheduled",
                container_id=container_id,
                created_at=now,
            )
        )
        enqueue(s, PUBLISH_POST, {"scheduled_post_id": row_id}, now=now, run_at=max(run_at, now))
    return row_id


def scheduled(ctx: AppContext, org_id: str) -> list[ScheduledPost]:
    with ctx.db.read() as s:
        return list(
            s.execute(
                select(ScheduledPost)
                .where(ScheduledPost.org_id == org_id)
                .order_by(ScheduledPost.seq.desc())
                .limit(50)
            ).scalars()
        )


def posts(ctx: AppContext, org_id: str, profile_id: str) -> list[dict[str, Any]]:
    principal = principal_for(ctx, org_id, profile_id)
    fields = "id,text,media_type,permalink,timestamp,shortcode,is_quote_post"
    listing = publishing.list_posts(ctx, principal, profile_id, {"fields": fields, "limit": "25"}, "")
    data: list[dict[str, Any]] = listing["data"]
    return data


def _finish(ctx: AppContext, row_id: str, **values: Any) -> None:
    with ctx.db.write() as s:
        row = s.execute(select(ScheduledPost).where(ScheduledPost.id == row_id)).scalar()
        if row is not None:
            for k, v in values.items():
                setattr(row, k, v)


def run_publish_post(ctx: AppContext, job: Job) -> None:
    row_id = str(job.payload.get("scheduled_post_id", ""))
    with ctx.db.read() as s:
        row = s.execute(select(ScheduledPost).where(ScheduledPost.id == row_id)).scalar()
    if row is None or row.status != "scheduled":
        return
    profile_id = str(row.profile_id)
    try:
        principal = principal_for(ctx, row.org_id, profile_id)
        container_id = row.container_id
        if container_id is None:
            container_id = publishing.create_container(ctx, principal, profile_id, dict(row.params))
            _finish(ctx, row_id, container_id=container_id)
        node = publishing.read_node(ctx, principal, container_id, {"fields": "id,status"})
        if node.get("status") == "IN_PROGRESS":
            raise RetryJob(MEDIA_WAIT_SECONDS, "media still processing")
        post_id = publishing.publish(ctx, principal, profile_id, {"creation_id": container_id})
    except (GraphError, ApiError) as err:
        _finish(ctx, row_id, status="failed", error=err.message[:500])
        return
    _finish(ctx, row_id, status="published", post_id=post_id)


def register_jobs(registry: JobRegistry, ctx: AppContext) -> None:
    registry.register(PUBLISH_POST, lambda job: run_publish_post(ctx, job))
