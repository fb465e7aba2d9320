"""Scheduled Threads posts: one row of ``threads_scheduled_posts`` plus a durable job due at its
``publish_at``, both written in the caller's transaction (a tool call's own, or the dashboard's form post).

The dashboard and the agent tools both schedule here. The job creates the containers (once), waits
(retrying) while media is processed, and publishes once: a container is published at most once, so a
re-run after a lost lease finds the same post. A failure is recorded with the publishing error.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from threadline.context import AppContext
from threadline.kit.errors import ApiError
from threadline.kit.jobs import Job, JobRegistry, RetryJob, enqueue
from threadline.publishing import accounts
from threadline.publishing import service as publishing
from threadline.publishing.auth import ThreadsPrincipal
from threadline.publishing.errors import GraphError
from threadline.publishing.params import Params
from threadline.publishing.rules import parse_container
from threadline.store.models import ThreadsScheduledPost

log = logging.getLogger("threadline.publishing")

PUBLISH_SCHEDULED = "publishing.publish_scheduled_post"
MAX_ATTEMPTS = 8
PROCESSING_RETRY_SECONDS = 15
PENDING = ("scheduled", "publishing")


@dataclass(frozen=True)
class Draft:
    """A post's content as Graph parameters: the containers to create, in order (carousel items first)."""

    items: list[Params]  # carousel items (is_carousel_item); empty unless a carousel
    main: Params  # the post itself (its ``children`` are filled in when the items exist)


def check_draft(draft: Draft) -> None:
    """Every content rule publishing applies, without creating anything (a schedule fails now, not later)."""
    for item in draft.items:
        parse_container(item)
    main = draft.main
    if draft.items:
        # The item ids exist only once created: stand-ins of the right count check the rest of the post.
        main = {**main, "children": [str(n + 1) for n in range(len(draft.items))]}
    parse_container(main)


def out(row: ThreadsScheduledPost) -> dict[str, Any]:
    return {
        "schedule_id": row.id,
        "profile_id": row.profile_id,
        "publish_at": row.publish_at,
        "status": row.status,
        "post_id": row.post_id,
        "container_id": row.container_id,
        "error": row.error,
        "post": row.post,
    }


def schedule(
    s: Session,
    who: ThreadsPrincipal,
    *,
    schedule_id: str,
    post: dict[str, Any],
    draft: Draft,
    publish_at: int,
    now: int,
    container_id: str | None = None,
) -> None:
    """The schedule and its job in ``s`` (the caller commits). ``post`` is the content as the caller
    shows it back; ``draft`` what is created, unless ``container_id`` was created already."""
    s.add(
        ThreadsScheduledPost(
            id=schedule_id,
            org_id=who.org_id,
            profile_id=str(who.profile_id),
            post=post,
            draft={"items": draft.items, "main": draft.main},
            publish_at=publish_at,
            status="scheduled",
            container_id=container_id,
            created_at=now,
            updated_at=now,
        )
    )
    enqueue(
        s,
        PUBLISH_SCHEDULED,
        {"schedule_id": schedule_id},
        now=now,
        run_at=publish_at,
        max_attempts=MAX_ATTEMPTS,
        unique_key=f"{PUBLISH_SCHEDULED}:{schedule_id}",
    )


def pending(ctx: AppContext, org_id: str, profile_id: str) -> list[dict[str, Any]]:
    """A profile's posts not published yet (and failed ones, so the caller sees why), soonest first."""
    with ctx.db.read() as s:
        rows = s.execute(
            select(ThreadsScheduledPost)
            .where(
                ThreadsScheduledPost.org_id == org_id,
                ThreadsScheduledPost.profile_id == profile_id,
                ThreadsScheduledPost.status.in_((*PENDING, "failed")),
            )
            .order_by(ThreadsScheduledPost.publish_at, ThreadsScheduledPost.seq)
            .limit(100)
        ).scalars()
        return [out(r) for r in rows]


def recent(ctx: AppContext, org_id: str, limit: int = 50) -> list[dict[str, Any]]:
    """The org's scheduled posts of every status and profile, newest first."""
    with ctx.db.read() as s:
        rows = s.execute(
            select(ThreadsScheduledPost)
            .where(ThreadsScheduledPost.org_id == org_id)
            .order_by(ThreadsScheduledPost.seq.desc())
            .limit(limit)
        ).scalars()
        return [out(r) for r in rows]


CancelOutcome = Literal["cancelled", "not_found", "not_cancellable"]


def cancel(
    ctx: AppContext, org_id: str, profile_id: str, schedule_id: str
) -> tuple[CancelOutcome, dict[str, Any] | None]:
    """Cancel a post still ``scheduled``; the outcome and the schedule as it is now (None if unknown).
    Callers word the refusal for their surface."""
    now = ctx.clock.now_s()
    with ctx.db.write() as s:
        row = s.execute(
            select(ThreadsScheduledPost).where(
                ThreadsScheduledPost.id == schedule_id[:36],
                ThreadsScheduledPost.org_id == org_id,
                ThreadsScheduledPost.profile_id == profile_id,
            )
        ).scalar_one_or_none()
        if row is None:
            return "not_found", None
        done = s.execute(
            update(ThreadsScheduledPost)
            .where(ThreadsScheduledPost.id == row.id, ThreadsScheduledPost.status == "scheduled")
            .values(status="cancelled", updated_at=now)
        ).rowcount  # type: ignore[attr-defined]
        if not done:
            return "not_cancellable", out(row)
        row.status = "cancelled"
        return "cancelled", out(row)


def create(ctx: AppContext, who: ThreadsPrincipal, draft: Draft) -> str:
    """The post's container id (its items created first)."""
    params = draft.main
    if draft.items:
        children = [publishing.create_container(ctx, who, "me", item) for item in draft.items]
        params = {**params, "children": children}
    return publishing.create_container(ctx, who, "me", params)


def processing_failed(node: dict[str, Any]) -> ApiError:
    detail = node.get("error_details") or node.get("error_message") or "processing failed"
    return ApiError(
        400,
        "media_processing_failed",
        f"The media of container {node['id']} could not be processed: {detail}",
    )


def _settle(ctx: AppContext, schedule_id: str, **values: Any) -> None:
    with ctx.db.write() as s:
        s.execute(
            update(ThreadsScheduledPost)
            .where(ThreadsScheduledPost.id == schedule_id)
            .values(updated_at=ctx.clock.now_s(), **values)
        )


def run_scheduled(ctx: AppContext, job: Job) -> None:
    """The job: create (once), wait for processing, publish (once)."""
    schedule_id = str(job.payload["schedule_id"])
    with ctx.db.write() as s:
        row = s.execute(
            select(ThreadsScheduledPost).where(ThreadsScheduledPost.id == schedule_id)
        ).scalar_one_or_none()
        if row is None or row.status not in PENDING:
            return  # cancelled, or settled by an earlier run
        row.status = "publishing"  # from here on a cancel is refused: the post may be going out
        row.updated_at = ctx.clock.now_s()
        org_id, profile_id, draft, container_id = (
            row.org_id,
            row.profile_id,
            Draft(list(row.draft["items"]), dict(row.draft["main"])),
            row.container_id,
        )
    try:
        who = accounts.org_principal(ctx, org_id, profile_id)
        if container_id is None:
            container_id = create(ctx, who, draft)
            _settle(ctx, schedule_id, container_id=container_id)
        node = publishing.read_node(ctx, who, container_id, {"fields": "status,error_message,error_details"})
        if node.get("status") == "IN_PROGRESS":
            raise RetryJob(PROCESSING_RETRY_SECONDS, f"container {container_id} is still processing")
        if node.get("status") != "FINISHED":
            raise processing_failed(node)
        post_id = publishing.publish(ctx, who, "me", {"creation_id": container_id})
    except RetryJob:
        if job.attempt >= job.max_attempts:
            _settle(
                ctx, schedule_id, status="failed", error="the media was still processing at the last attempt"
            )
            return
        raise
    except ApiError as err:
        transient = isinstance(err, GraphError) and bool(err.transient)
        if transient and job.attempt < job.max_attempts:
            raise RetryJob(60, err.message) from None
        _settle(ctx, schedule_id, status="failed", error=err.message[:500])
        log.info("scheduled post %s failed: %s", schedule_id, err.message)
        return
    _settle(ctx, schedule_id, status="published", post_id=str(post_id), error=None)


def register_jobs(registry: JobRegistry, ctx: AppContext) -> None:
    registry.register(PUBLISH_SCHEDULED, lambda job: run_scheduled(ctx, job))
