"""Threads tools: the org's profiles publish, schedule, list and delete posts (tools/threads_posts.py)."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Annotated, Any, Literal

import anyio
import anyio.to_thread
from pydantic import AfterValidator, Field, model_validator

from threadline.kit.ids import new_id
from threadline.publishing import scheduled
from threadline.tools import threads_posts as tp
from threadline.tools.envelope import ToolError
from threadline.tools.registry import Args, Call, HttpUrl, Tool, ToolResult

MAX_WAIT_SECONDS = 60
MAX_SCHEDULE_DAYS = 90
POLL_SECONDS = 0.5

Selector = Annotated[
    str | None,
    Field(None, min_length=1, max_length=64, description="Threads profile id (optional with one active)."),
]


class CarouselItem(Args):
    image_url: HttpUrl | None = Field(None, description="A public image URL (JPEG or PNG).")
    video_url: HttpUrl | None = Field(None, description="A public video URL (MP4 or MOV).")
    alt_text: str | None = Field(None, max_length=1000, description="Alt text of this item.")

    @model_validator(mode="after")
    def _one(self) -> CarouselItem:
        if (self.image_url is None) == (self.video_url is None):
            raise ValueError("each carousel item takes exactly one of image_url or video_url")
        return self


class PostContent(Args):
    text: str | None = Field(None, max_length=2000, description="The post's text (at most 500 characters).")
    image_url: HttpUrl | None = Field(None, description="One image (a public URL Threadline fetches).")
    video_url: HttpUrl | None = Field(None, description="One video (a public URL Threadline fetches).")
    carousel: list[CarouselItem] | None = Field(
        None, min_length=2, max_length=20, description="2-20 images/videos as one carousel post."
    )
    alt_text: str | None = Field(None, max_length=1000, description="Alt text of image_url or video_url.")
    topic_tag: str | None = Field(None, min_length=1, max_length=50, description="One topic tag, no '#'.")
    link_attachment: HttpUrl | None = Field(None, description="A link preview (text posts only).")
    poll_options: list[Annotated[str, Field(min_length=1, max_length=25)]] | None = Field(
        None, min_length=2, max_length=4, description="2-4 poll options (text posts only)."
    )
    reply_to_id: str | None = Field(None, min_length=1, max_length=32, description="Reply to this post id.")
    reply_control: (
        Literal[
            "everyone", "accounts_you_follow", "mentioned_only", "parent_post_author_only", "followers_only"
        ]
        | None
    ) = Field(None, description="Who may reply.")
    profile_id: Selector

    def content(self) -> dict[str, Any]:
        return self.model_dump(
            mode="json",
            exclude_none=True,
            exclude={"profile_id", "publish_at", "wait_seconds", "container_id"},
        )

    def has_content(self) -> bool:
        return bool(self.content())


def _media_kinds(args: PostContent) -> None:
    given = [n for n in ("image_url", "video_url", "carousel") if getattr(args, n) is not None]
    if len(given) > 1:
        raise ValueError(f"pass at most one of image_url, video_url or carousel (got {', '.join(given)})")


class PublishArgs(PostContent):
    container_id: str | None = Field(
        None,
        min_length=1,
        max_length=32,
        description="Publish a container an earlier call reported as still processing (no other content).",
    )
    wait_seconds: int = Field(
        30, ge=0, le=MAX_WAIT_SECONDS, description="How long to wait for image/video processing (0-60)."
    )

    @model_validator(mode="after")
    def _shape(self) -> PublishArgs:
        _media_kinds(self)
        if self.container_id is not None and self.has_content():
            raise ValueError("container_id publishes an existing container: pass no other content with it")
        if self.container_id is None and not self.has_content():
            raise ValueError(
                "pass the post's content (text, image_url, video_url or carousel) or container_id"
            )
        return self


def _publish_at(value: str) -> str:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError("must be an ISO 8601 date-time, e.g. 2026-12-24T09:00:00Z") from None
    if parsed.tzinfo is None:
        raise ValueError("must carry a time zone (Z or +hh:mm)")
    return value


class ScheduleArgs(PostContent):
    publish_at: Annotated[str, Field(min_length=1, max_length=40), AfterValidator(_publish_at)] = Field(
        description=f"When to publish: ISO 8601 with a time zone, in the future, at most {MAX_SCHEDULE_DAYS} days ahead."
    )

    @model_validator(mode="after")
    def _shape(self) -> ScheduleArgs:
        _media_kinds(self)
        if not self.has_content():
            raise ValueError("pass the post's content (text, image_url, video_url or carousel)")
        return self

    def publish_ts(self) -> int:
        return int(datetime.fromisoformat(self.publish_at.replace("Z", "+00:00")).timestamp())


async def _run(fn: Any, *args: Any) -> Any:
    return await anyio.to_thread.run_sync(fn, *args)


def _profile(call: Call) -> str:
    assert call.account is not None  # a platform tool always has its account selected
    return call.account.account_id


def _post_line(p: dict[str, Any]) -> str:
    text = (p.get("text") or "").replace("\n", " ")
    text = text if len(text) <= 80 else text[:77] + "..."
    return f"- `{p['id']}` {p.get('media_type', '')} {p.get('timestamp', '')}: {text} {p.get('permalink', '')}".rstrip()


def _scheduled_line(s: dict[str, Any]) -> str:
    at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(s["publish_at"]))
    extra = f", post `{s['post_id']}`" if s["post_id"] else ""
    extra += f", error: {s['error']}" if s["error"] else ""
    return f"- schedule `{s['schedule_id']}` at {at}: {s['status']}{extra}"


# ------------------------------------------------------------------------------------------ publish


async def publish_threads_post(call: Call, args: PublishArgs) -> ToolResult:
    ctx = call.ctx
    who = await _run(tp.principal, ctx, call.org_id, _profile(call))
    container_id = args.container_id
    if container_id is None:
        draft = tp.draft_of(args.content())
        container_id = await _run(scheduled.create, ctx, who, draft)
    deadline = time.monotonic() + args.wait_seconds
    node = await _run(tp.container, ctx, who, container_id)
    while node.get("status") == "IN_PROGRESS" and time.monotonic() < deadline:
        await anyio.sleep(min(POLL_SECONDS, max(0.0, deadline - time.monotonic())))
        node = await _run(tp.container, ctx, who, container_id)
    status = node.get("status")
    if status == "IN_PROGRESS":
        return ToolResult(
            f"The media of container `{container_id}` is still processing after {args.wait_seconds} s; nothing is "
            f'published yet. Call publish_threads_post again with container_id="{container_id}" to publish it.',
            {
                "published": False,
                "status": status,
                "container_id": container_id,
                "profile_id": _profile(call),
            },
        )
    if status == "PUBLISHED" and args.container_id is None:
        raise ToolError(400, "already_published", f"Container {container_id} is already published.")
    if status not in ("FINISHED", "PUBLISHED"):
        raise tp.failed(node)
    post = await _run(tp.publish, ctx, who, container_id)
    return ToolResult(
        f"Published post `{post['id']}` on @{who.username}: {post.get('permalink', '')}",
        {
            "published": True,
            "status": "PUBLISHED",
            "post_id": post["id"],
            "container_id": container_id,
            "profile_id": _profile(call),
            "post": post,
        },
    )


async def schedule_threads_post(call: Call, args: ScheduleArgs) -> ToolResult:
    ctx = call.ctx
    now = ctx.clock.now_s()
    at = args.publish_ts()
    if at <= now:
        raise ToolError(400, "invalid_value", "publish_at: must be in the future.", "publish_at")
    if at > now + MAX_SCHEDULE_DAYS * 86400:
        raise ToolError(
            400, "invalid_value", f"publish_at: must be at most {MAX_SCHEDULE_DAYS} days ahead.", "publish_at"
        )
    profile_id = _profile(call)
    content = args.content()
    who = await _run(tp.principal, ctx, call.org_id, profile_id)  # the profile is still the org's
    draft = tp.draft_of(content)
    scheduled.check_draft(draft)
    schedule_id = new_id()

    def commit(s: Any) -> None:
        scheduled.schedule(s, who, schedule_id=schedule_id, post=content, draft=draft, publish_at=at, now=now)

    when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))
    return ToolResult(
        f"Scheduled a post on profile {profile_id} for {when} (schedule `{schedule_id}`). Cancel it with "
        f'cancel_threads_scheduled_post schedule_id="{schedule_id}".',
        {
            "schedule_id": schedule_id,
            "profile_id": profile_id,
            "publish_at": at,
            "publish_at_iso": when,
            "status": "scheduled",
            "post": content,
        },
        commit=commit,
    )


class CancelArgs(Args):
    schedule_id: str = Field(
        min_length=1, max_length=64, description="The schedule_id schedule_threads_post returned."
    )
    profile_id: Selector


async def cancel_threads_scheduled_post(call: Call, args: CancelArgs) -> ToolResult:
    out = await _run(tp.cancel, call.ctx, call.org_id, _profile(call), args.schedule_id)
    return ToolResult(
        f"Cancelled scheduled post `{out['schedule_id']}`; it will not be published.", {"scheduled_post": out}
    )


# ------------------------------------------------------------------------------------------ read


class ListPostsArgs(Args):
    limit: int = Field(25, ge=1, le=100, description="How many published posts (newest first).")
    after: str | None = Field(
        None, min_length=1, max_length=200, description="Cursor from a previous call's next_after."
    )
    profile_id: Selector


async def list_threads_posts(call: Call, args: ListPostsArgs) -> ToolResult:
    ctx = call.ctx
    profile_id = _profile(call)
    who = await _run(tp.principal, ctx, call.org_id, profile_id)
    page = await _run(tp.list_posts, ctx, who, args.limit, args.after)
    scheduled = await _run(tp.pending, ctx, call.org_id, profile_id)
    posts = page["data"]
    paging = page.get("paging", {})
    next_after = paging.get("cursors", {}).get("after") if "next" in paging else None
    lines = [
        f"{len(posts)} published post(s) of @{who.username}:"
        if posts
        else f"@{who.username} has no published posts."
    ]
    lines += [_post_line(p) for p in posts]
    if next_after:
        lines.append(f'More posts: pass after="{next_after}".')
    if scheduled:
        lines.append(f"{len(scheduled)} scheduled post(s):")
        lines += [_scheduled_line(s) for s in scheduled]
    return ToolResult(
        "\n".join(lines),
        {"profile_id": profile_id, "posts": posts, "next_after": next_after, "scheduled": scheduled},
    )


class ProfileArgs(Args):
    profile_id: Selector


async def get_threads_publishing_limit(call: Call, args: ProfileArgs) -> ToolResult:
    who = await _run(tp.principal, call.ctx, call.org_id, _profile(call))
    limit = await _run(tp.publishing_limit, call.ctx, who)
    posts, replies, deletes = limit["config"], limit["reply_config"], limit["delete_config"]
    hours = posts["quota_duration"] // 3600
    return ToolResult(
        f"@{who.username} in the last {hours} h: {limit['quota_usage']}/{posts['quota_total']} posts, "
        f"{limit['reply_quota_usage']}/{replies['quota_total']} replies, "
        f"{limit['delete_quota_usage']}/{deletes['quota_total']} deletions.",
        {"profile_id": _profile(call), **limit},
    )


class DeleteArgs(Args):
    post_id: str = Field(min_length=1, max_length=32, description="The published post's id.")
    profile_id: Selector


async def delete_threads_post(call: Call, args: DeleteArgs) -> ToolResult:
    who = await _run(tp.principal, call.ctx, call.org_id, _profile(call))
    out = await _run(tp.delete, call.ctx, who, args.post_id)
    return ToolResult(
        f"Deleted post `{out['deleted_id']}` of @{who.username}.",
        {"deleted": True, "post_id": out["deleted_id"], "profile_id": _profile(call)},
    )


TOOLS = [
    Tool(
        "publish_threads_post",
        "Publish a Threads post on one of the organization's profiles now: text, one image or video (public "
        "URL), or a carousel of 2-20; optional topic_tag, link_attachment, poll_options, reply_to_id. Waits up to "
        "wait_seconds for media processing; if still processing, returns the container_id to publish later. "
        "Confirm with the user first.",
        PublishArgs,
        publish_threads_post,
        "threads",
        platform="threads",
    ),
    Tool(
        "schedule_threads_post",
        "Schedule a Threads post (same content as publish_threads_post) for publish_at; Threadline publishes "
        "it then. Returns a schedule_id; list_threads_posts shows it, cancel_threads_scheduled_post cancels it.",
        ScheduleArgs,
        schedule_threads_post,
        "threads",
        platform="threads",
    ),
    Tool(
        "cancel_threads_scheduled_post",
        "Cancel a scheduled Threads post that has not been published yet.",
        CancelArgs,
        cancel_threads_scheduled_post,
        "threads",
        platform="threads",
        destructive=True,
        idempotent=True,
    ),
    Tool(
        "list_threads_posts",
        "List a profile's published Threads posts (newest first, with ids and permalinks) and its scheduled "
        "posts that are not published yet.",
        ListPostsArgs,
        list_threads_posts,
        "threads",
        platform="threads",
        read_only=True,
        idempotent=True,
    ),
    Tool(
        "get_threads_publishing_limit",
        "How many posts, replies and deletions the profile has used of its 24-hour publishing limits.",
        ProfileArgs,
        get_threads_publishing_limit,
        "threads",
        platform="threads",
        read_only=True,
        idempotent=True,
    ),
    Tool(
        "delete_threads_post",
        "Delete a published Threads post of the profile (counts toward the deletion limit). Cannot be undone.",
        DeleteArgs,
        delete_threads_post,
        "threads",
        platform="threads",
        destructive=True,
        idempotent=True,
    ),
]
