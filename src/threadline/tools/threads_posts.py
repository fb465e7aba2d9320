"""Threads posts on behalf of the org: containers, publishing and scheduled posts, through publishing's
service functions (never HTTP to ourselves). The tool definitions are in catalog/threads.py.

A scheduled post is a row of ``tool_scheduled_posts`` plus a durable job (kit/jobs) due at its
``publish_at``; both commit with the tool call that made them. The job creates the containers, waits
(retrying) while media is processed, and publishes once: a container is published at most once, so a
re-run after a lost lease finds the same post.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from threadline.context import AppContext
from threadline.kit.errors import ApiError
from threadline.kit.jobs import Job, JobRegistry, RetryJob, enqueue
from threadline.publishing import accounts as threads_accounts
from threadline.publishing import service as publishing
from threadline.publishing.auth import ThreadsPrincipal
from threadline.publishing.errors import GraphError
from threadline.publishing.params import Params
from threadline.publishing.rules import parse_container
from threadline.store.models import ToolScheduledPost
from threadline.tools.envelope import ToolError

log = logging.getLogger("threadline.tools")

PUBLISH_SCHEDULED = "tools.publish_scheduled_post"
MAX_ATTEMPTS = 8
PROCESSING_RETRY_SECONDS = 15
PENDING = ("scheduled", "publishing")
POST_FIELDS = "id,media_type,text,permalink,timestamp,shortcode,topic_tag,is_reply"
LIMIT_FIELDS = "quota_usage,config,reply_quota_usage,reply_config,delete_quota_usage,delete_config"


@dataclass(frozen=True)
class Draft:
    """A post's content as Graph parameters: the containers to create, in order (carousel items first)."""

    items: list[Params]  # carousel items (is_carousel_item); empty unless a carousel
    main: Params  # the post itself (its ``children`` are filled in when the items exist)


def draft_of(post: dict[str, Any]) -> Draft:
    """Graph parameters from a post's tool arguments (already type-checked by the argument model)."""
    main: Params = {}
    items: list[Params] = []
    if post.get("carousel"):
        main["media_type"] = "CAROUSEL"
        for item in post["carousel"]:
            kind = "IMAGE" if item.get("image_url") else "VIDEO"
            p: Params = {
                "media_type": kind,
                "is_carousel_item": True,
                f"{kind.lower()}_url": item[f"{kind.lower()}_url"],
            }
            if item.get("alt_text") is not None:
                p["alt_text"] = item["alt_text"]
            items.append(p)
    elif post.get("image_url"):
        main.update(media_type="IMAGE", image_url=post["image_url"])
    elif post.get("video_url"):
        main.update(media_type="VIDEO", video_url=post["video_url"])
    else:
        main["media_type"] = "TEXT"
    for name in ("text", "alt_text", "topic_tag", "link_attachment", "reply_to_id", "reply_control"):
        if post.get(name) is not None:
            main[name] = post[name]
    if post.get("poll_options"):
        main["poll_attachment"] = dict(
            zip(("option_a", "option_b", "option_c", "option_d"), post["poll_options"], strict=False)
        )
    return Draft(items, main)


def check_draft(draft: Draft) -> None:
    """Every content rule publishing applies, without creating anything (a schedule fails now, not later)."""
    for item in draft.items:
        parse_container(item)
    main = draft.main
    if draft.items:
        # The item ids exist only once created: stand-ins of the right count check the rest of the post.
        main = {**main, "children": [str(n + 1) for n in range(len(draft.items))]}
    parse_container(main)


def principal(ctx: AppContext, org_id: str, profile_id: str) -> ThreadsPrincipal:
    return threads_accounts.org_principal(ctx, org_id, profile_id)


def create(ctx: AppContext, who: ThreadsPrincipal, draft: Draft) -> str:
    """The post's container id (its items created first)."""
    params = draft.main
    if draft.items:
        children = [publishing.create_container(ctx, who, "me", item) for item in draft.items]
        params = {**params, "children": children}
    return publishing.create_container(ctx, who, "me", params)


def container(ctx: AppContext, who: ThreadsPrincipal, container_id: str) -> dict[str, Any]:
    """``{id, status, error_message?, error_details?}`` as Graph reports it now."""
    return publishing.read_node(ctx, who, container_id, {"fields": "status,error_message,error_details"})


def publish(ctx: AppContext, who: ThreadsPrincipal, container_id: str) -> dict[str, Any]:
    media_id = publishing.publish(ctx, who, "me", {"creation_id": container_id})
    return post(ctx, who, media_id)


def post(ctx: AppContext, who: ThreadsPrincipal, media_id: str) -> dict[str, Any]:
    return publishing.read_node(ctx, who, media_id, {"fields": POST_FIELDS})


def failed(node: dict[str, Any]) -> ToolError:
    detail = node.get("error_details") or node.get("error_message") or "processing failed"
    return ToolError(
        400,
        "media_processing_failed",
        f"The media of container {node['id']} could not be processed: {detail}",
        structured_content={"container": node},
    )


def list_posts(ctx: AppContext, who: ThreadsPrincipal, limit: int, after: str | None) -> dict[str, Any]:
    params: Params = {"fields": POST_FIELDS, "limit": str(limit)}
    if after:
        params["after"] = after
    return publishing.list_posts(ctx, who, "me", params, "")


def publishing_limit(ctx: AppContext, who: ThreadsPrincipal) -> dict[str, Any]:
    data: dict[str, Any] = publishing.publishing_limit(ctx, who, "me", {"fields": LIMIT_FIELDS})["data"][0]
    return data


def delete(ctx: AppContext, who: ThreadsPrincipal, post_id: str) -> dict[str, Any]:
    return publishing.delete_post(ctx, who, post_id)


# ---------------------------------------------------------------------------------------- scheduled


def scheduled_out(row: ToolScheduledPost) -> dict[str, Any]:
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
    *,
    schedule_id: str,
    org_id: str,
    profile_id: str,
    post: dict[str, Any],
    publish_at: int,
    now: int,
) -> None:
    """The schedule and its job, in the caller's transaction (the tool call's own)."""
    s.add(
        ToolScheduledPost(
            id=schedule_id,
            org_id=org_id,
            profile_id=profile_id,
            post=post,
            publish_at=publish_at,
            status="scheduled",
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
    """Scheduled posts not published yet (and failed ones, so an agent sees why), soonest first."""
    with ctx.db.read() as s:
        rows = s.execute(
            select(ToolScheduledPost)
            .where(
                ToolScheduledPost.org_id == org_id,
                ToolScheduledPost.profile_id == profile_id,
                ToolScheduledPost.status.in_((*PENDING, "failed")),
            )
            .order_by(ToolScheduledPost.publish_at, ToolScheduledPost.seq)
            .limit(100)
        ).scalars()
        return [scheduled_out(r) for r in rows]


def cancel(ctx: AppContext, org_id: str, profile_id: str, schedule_id: str) -> dict[str, Any]:
    now = ctx.clock.now_s()
    with ctx.db.write() as s:
        row = s.execute(
            select(ToolScheduledPost).where(
                ToolScheduledPost.id == schedule_id[:36],
                ToolScheduledPost.org_id == org_id,
                ToolScheduledPost.profile_id == profile_id,
            )
        ).scalar_one_or_none()
        if row is None:
            raise ToolError(
                400,
                "schedule_not_found",
                f'No scheduled post with schedule_id="{schedule_id[:64]}" on this profile. '
                "Call list_threads_posts to see the scheduled posts.",
                "schedule_id",
            )
        done = s.execute(
            update(ToolScheduledPost)
            .where(ToolScheduledPost.id == row.id, ToolScheduledPost.status == "scheduled")
            .values(status="cancelled", updated_at=now)
        ).rowcount  # type: ignore[attr-defined]
        if not done:
            raise ToolError(
                400,
                "schedule_not_cancellable",
                f"The scheduled post {row.id} is {row.status} and can no longer be cancelled"
                + (
                    f" (its post is {row.post_id}; delete it with delete_threads_post)."
                    if row.post_id
                    else "."
                ),
                "schedule_id",
                structured_content={"scheduled_post": scheduled_out(row)},
            )
        row.status = "cancelled"
        return scheduled_out(row)


def _settle(ctx: AppContext, schedule_id: str, **values: Any) -> None:
    with ctx.db.write() as s:
        s.execute(
            update(ToolScheduledPost)
            .where(ToolScheduledPost.id == schedule_id)
            .values(updated_at=ctx.clock.now_s(), **values)
        )


def run_scheduled(ctx: AppContext, job: Job) -> None:
    """The job: create (once), wait for processing, publish (once)."""
    schedule_id = str(job.payload["schedule_id"])
    with ctx.db.write() as s:
        row = s.execute(
            select(ToolScheduledPost).where(ToolScheduledPost.id == schedule_id)
        ).scalar_one_or_none()
        if row is None or row.status not in PENDING:
            return  # cancelled, or settled by an earlier run
        row.status = "publishing"  # from here on a cancel is refused: the post may be going out
        row.updated_at = ctx.clock.now_s()
        org_id, profile_id, content, container_id = (
            row.org_id,
            row.profile_id,
            dict(row.post),
            row.container_id,
        )
    try:
        who = principal(ctx, org_id, profile_id)
        if container_id is None:
            container_id = create(ctx, who, draft_of(content))
            _settle(ctx, schedule_id, container_id=container_id)
        node = container(ctx, who, container_id)
        if node.get("status") == "IN_PROGRESS":
            raise RetryJob(PROCESSING_RETRY_SECONDS, f"container {container_id} is still processing")
        if node.get("status") != "FINISHED":
            raise failed(node)
        published = publish(ctx, who, container_id)
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
    _settle(ctx, schedule_id, status="published", post_id=str(published["id"]), error=None)


def register_jobs(registry: JobRegistry, ctx: AppContext) -> None:
    registry.register(PUBLISH_SCHEDULED, lambda job: run_scheduled(ctx, job))
