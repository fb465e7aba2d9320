"""Threads posts on behalf of the org: containers, publishing and scheduled posts, through publishing's
service functions (never HTTP to ourselves). The tool definitions are in catalog/threads.py.

Scheduled posts are publishing's (publishing/scheduled.py: one table and one job for the dashboard and
the tools); schedule_threads_post writes one in the tool call's own transaction (ToolResult.commit).
"""

from __future__ import annotations

from typing import Any

from threadline.context import AppContext
from threadline.publishing import accounts as threads_accounts
from threadline.publishing import scheduled
from threadline.publishing import service as publishing
from threadline.publishing.auth import ThreadsPrincipal
from threadline.publishing.params import Params
from threadline.publishing.scheduled import Draft
from threadline.tools.envelope import ToolError

POST_FIELDS = "id,media_type,text,permalink,timestamp,shortcode,topic_tag,is_reply"
LIMIT_FIELDS = "quota_usage,config,reply_quota_usage,reply_config,delete_quota_usage,delete_config"


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


def principal(ctx: AppContext, org_id: str, profile_id: str) -> ThreadsPrincipal:
    return threads_accounts.org_principal(ctx, org_id, profile_id)


def container(ctx: AppContext, who: ThreadsPrincipal, container_id: str) -> dict[str, Any]:
    """``{id, status, error_message?, error_details?}`` as Graph reports it now."""
    return publishing.read_node(ctx, who, container_id, {"fields": "status,error_message,error_details"})


def publish(ctx: AppContext, who: ThreadsPrincipal, container_id: str) -> dict[str, Any]:
    media_id = publishing.publish(ctx, who, "me", {"creation_id": container_id})
    return post(ctx, who, media_id)


def post(ctx: AppContext, who: ThreadsPrincipal, media_id: str) -> dict[str, Any]:
    return publishing.read_node(ctx, who, media_id, {"fields": POST_FIELDS})


def failed(node: dict[str, Any]) -> ToolError:
    """The scheduler's wording, with the container for the agent."""
    base = scheduled.processing_failed(node)
    return ToolError(base.status, base.code, base.message, structured_content={"container": node})


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
# The schedule itself is publishing's (publishing/scheduled.py); here is only the tools' wording.


def pending(ctx: AppContext, org_id: str, profile_id: str) -> list[dict[str, Any]]:
    return scheduled.pending(ctx, org_id, profile_id)


def cancel(ctx: AppContext, org_id: str, profile_id: str, schedule_id: str) -> dict[str, Any]:
    outcome, row = scheduled.cancel(ctx, org_id, profile_id, schedule_id)
    if row is None:
        raise ToolError(
            400,
            "schedule_not_found",
            f'No scheduled post with schedule_id="{schedule_id[:64]}" on this profile. '
            "Call list_threads_posts to see the scheduled posts.",
            "schedule_id",
        )
    if outcome == "not_cancellable":
        raise ToolError(
            400,
            "schedule_not_cancellable",
            f"The scheduled post {row['schedule_id']} is {row['status']} and can no longer be cancelled"
            + (
                f" (its post is {row['post_id']}; delete it with delete_threads_post)."
                if row["post_id"]
                else "."
            ),
            "schedule_id",
            structured_content={"scheduled_post": row},
        )
    return row
