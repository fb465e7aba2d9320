"""The ``fields`` machinery: per-node field sets, ``id`` by default, unknown names refused (code 100)."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from threadline.publishing.errors import nonexisting_field
from threadline.publishing.params import Params, text_param
from threadline.store.models import ThreadsContainer, ThreadsPost, ThreadsProfile

MEDIA_NODE = "ThreadsMedia"
CONTAINER_NODE = "ThreadsMediaContainer"
USER_NODE = "ThreadsUser"
LIMIT_NODE = "ThreadsPublishingLimit"

MEDIA_FIELDS = frozenset(
    [
        "id",
        "media_product_type",
        "media_type",
        "media_url",
        "permalink",
        "owner",
        "username",
        "text",
        "timestamp",
        "shortcode",
        "thumbnail_url",
        "children",
        "is_quote_post",
        "quoted_post",
        "alt_text",
        "link_attachment_url",
        "has_replies",
        "is_reply",
        "is_reply_owned_by_me",
        "root_post",
        "replied_to",
        "hide_status",
        "reply_audience",
        "reposted_post",
        "gif_url",
        "poll_attachment",
        "topic_tag",
        "is_spoiler_media",
        "text_entities",
        "text_attachment",
        "location_id",
        "allowlisted_country_codes",
        "ghost_post_status",
        "ghost_post_expiration_timestamp",
        "is_verified",
        "profile_picture_url",
    ]
)
CONTAINER_FIELDS = frozenset({"id", "status", "error_message", "error_details"})
USER_FIELDS = frozenset(
    {
        "id",
        "username",
        "name",
        "threads_profile_picture_url",
        "threads_biography",
        "is_verified",
        "is_eligible_for_geo_gating",
    }
)
LIMIT_FIELDS = frozenset(
    {"quota_usage", "config", "reply_quota_usage", "reply_config", "delete_quota_usage", "delete_config"}
)


def requested(
    params: Params, allowed: frozenset[str], node: str, default: tuple[str, ...] = ("id",)
) -> list[str]:
    raw = text_param(params, "fields", max_chars=4096)
    if not raw or not raw.strip():
        return list(default)
    out: list[str] = []
    for name in (f.strip() for f in raw.split(",")):
        if not name:
            continue
        if name not in allowed:
            raise nonexisting_field(name[:100], node)
        if name not in out:
            out.append(name)
    return out or list(default)


def graph_time(ts: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S+0000", time.gmtime(ts))


_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def shortcode(media_id: int) -> str:
    """Instagram-style: the id in a URL-safe base-64 alphabet (11 characters for 18-19 digit ids)."""
    out = ""
    n = media_id
    while n:
        n, r = divmod(n, 64)
        out = _ALPHABET[r] + out
    return out or "A"


def encode_cursor(media_id: int) -> str:
    return base64.urlsafe_b64encode(str(media_id).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int | None:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    return int(raw) if raw.isascii() and raw.isdigit() and 0 < len(raw) <= 19 else None


def render(fields: list[str], getters: Mapping[str, Callable[[], Any]]) -> dict[str, Any]:
    """The requested fields that have a value (Graph omits empty ones); a node always carries its id."""
    out: dict[str, Any] = {}
    for name in fields if "id" in fields or "id" not in getters else [*fields, "id"]:
        value = getters[name]()
        if value is not None:
            out[name] = value
    return out


def user_node(p: ThreadsProfile, fields: list[str]) -> dict[str, Any]:
    return render(
        fields,
        {
            "id": lambda: str(p.id),
            "username": lambda: p.username,
            "name": lambda: p.name,
            "threads_profile_picture_url": lambda: p.profile_picture_url,
            "threads_biography": lambda: p.biography,
            "is_verified": lambda: False,
            "is_eligible_for_geo_gating": lambda: p.is_eligible_for_geo_gating,
        },
    )


def container_node(
    c: ThreadsContainer, status: str, error: tuple[str | None, str | None], fields: list[str]
) -> dict[str, Any]:
    return render(
        fields,
        {
            "id": lambda: str(c.id),
            "status": lambda: status,
            "error_message": lambda: error[0],
            "error_details": lambda: error[1],
        },
    )


@dataclass(frozen=True)
class MediaContext:
    """What rendering a post needs beyond its row."""

    public_base_url: str
    viewer_profile_id: int
    usernames: Mapping[int, str]
    with_replies: frozenset[int]
    now: float = 0.0
    # Quoted and reposted originals that are still live: a deleted original drops out of the read.
    live_linked: frozenset[int] = frozenset()
    votes: Mapping[int, Mapping[str, int]] = field(default_factory=dict)


def media_url(base: str, file_id: str | None) -> str | None:
    return f"{base.rstrip('/')}/media/{file_id}" if file_id else None


def permalink(base: str, username: str, code: str) -> str:
    return f"{base.rstrip('/')}/@{username}/post/{code}"


POLL_SECONDS = 86400
GHOST_SECONDS = 86400


def poll_read(
    poll: dict[str, str] | None, created_at: int, votes: Mapping[str, int]
) -> dict[str, Any] | None:
    """Meta's read shape: the options, each option's share of the votes (percent), total, closing time."""
    if not poll:
        return None
    total = sum(votes.get(k, 0) for k in poll)
    out: dict[str, Any] = dict(poll)
    for key in poll:
        out[f"{key}_votes_percentage"] = round(100 * votes.get(key, 0) / total, 2) if total else 0.0
    out["total_votes"] = total
    out["expiration_timestamp"] = graph_time(created_at + POLL_SECONDS)
    return out


def ghost_status(post: ThreadsPost, now: float) -> str | None:
    if post.ghost_expires_at is None:
        return None
    return "ARCHIVED" if post.ghost_archived_at is not None or now >= post.ghost_expires_at else "ACTIVE"


def _linked(post_id: int | None, mc: MediaContext) -> dict[str, str] | None:
    return {"id": str(post_id)} if post_id is not None and post_id in mc.live_linked else None


def media_node(post: ThreadsPost, fields: list[str], mc: MediaContext) -> dict[str, Any]:
    a = post.attrs
    username = mc.usernames.get(post.profile_id, "")
    gif = a.get("gif_attachment")
    reply_to = post.reply_to_id
    return render(
        fields,
        {
            "id": lambda: str(post.id),
            "media_product_type": lambda: "THREADS",
            "media_type": lambda: post.media_type,
            "media_url": lambda: media_url(mc.public_base_url, a.get("media_file_id")),
            "permalink": lambda: permalink(mc.public_base_url, username, post.shortcode),
            "owner": lambda: {"id": str(post.profile_id)},
            "username": lambda: username,
            "text": lambda: post.text or None,
            "timestamp": lambda: graph_time(post.created_at),
            "shortcode": lambda: post.shortcode,
            "thumbnail_url": lambda: media_url(mc.public_base_url, a.get("thumbnail_file_id")),
            "children": lambda: {"data": [{"id": c} for c in a["children"]]} if a.get("children") else None,
            "is_quote_post": lambda: post.quote_post_id is not None,
            "quoted_post": lambda: _linked(post.quote_post_id, mc),
            "alt_text": lambda: a.get("alt_text"),
            "link_attachment_url": lambda: a.get("link_attachment_url"),
            "has_replies": lambda: post.id in mc.with_replies,
            "is_reply": lambda: reply_to is not None,
            "is_reply_owned_by_me": lambda: reply_to is not None and post.profile_id == mc.viewer_profile_id,
            "root_post": lambda: {"id": str(post.root_id or post.id)},
            "replied_to": lambda: {"id": str(reply_to)} if reply_to is not None else None,
            "hide_status": lambda: post.hide_status or "NOT_HUSHED",
            "reply_audience": lambda: str(a.get("reply_control") or "everyone").upper(),
            "reposted_post": lambda: _linked(post.repost_of_id, mc),
            "gif_url": lambda: f"https://media.giphy.com/media/{gif['gif_id']}/giphy.gif" if gif else None,
            "poll_attachment": lambda: poll_read(
                a.get("poll_attachment"), post.created_at, mc.votes.get(post.id, {})
            ),
            "topic_tag": lambda: a.get("topic_tag"),
            "is_spoiler_media": lambda: bool(a.get("is_spoiler_media")),
            "text_entities": lambda: {"data": a["text_entities"]} if a.get("text_entities") else None,
            "text_attachment": lambda: a.get("text_attachment"),
            "location_id": lambda: None,
            "allowlisted_country_codes": lambda: a.get("allowlisted_country_codes"),
            "ghost_post_status": lambda: ghost_status(post, mc.now),
            "ghost_post_expiration_timestamp": lambda: (
                graph_time(post.ghost_expires_at) if post.ghost_expires_at is not None else None
            ),
            "is_verified": lambda: False,
            "profile_picture_url": lambda: None,
        },
    )
