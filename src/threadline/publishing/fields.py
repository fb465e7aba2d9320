"""The ``fields`` machinery: per-node field sets, ``id`` by default, unknown names refused (code 100)."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from threadline.publishing.errors import GraphError, bad_param, nonexisting_field
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


# Fields that name another node, so a request may expand them with braces
# (``children{id,media_type}``, ``owner{username}``); the value is the node type of what they name.
NESTED_NODES: dict[str, dict[str, str]] = {
    MEDIA_NODE: {
        "children": MEDIA_NODE,
        "owner": USER_NODE,
        "quoted_post": MEDIA_NODE,
        "reposted_post": MEDIA_NODE,
        "root_post": MEDIA_NODE,
        "replied_to": MEDIA_NODE,
    },
}
# Edges (lists) among them accept Graph's ``.limit(n)`` modifier.
LIST_FIELDS = frozenset({"children"})
NODE_FIELDS: dict[str, frozenset[str]] = {
    MEDIA_NODE: MEDIA_FIELDS,
    CONTAINER_NODE: CONTAINER_FIELDS,
    USER_NODE: USER_FIELDS,
    LIMIT_NODE: LIMIT_FIELDS,
}
MAX_FIELD_DEPTH = 4
MAX_FIELDS_CHARS = 4096


class Fields(list[str]):
    """The field names asked of one node, in order, with what was asked of the nodes they name.

    A plain list of names to every caller that only renders flat fields; ``sub(name)`` is the
    selection inside ``name{...}`` (``id`` when the field was asked without braces).
    """

    def __init__(
        self,
        names: Iterable[str] = (),
        nested: dict[str, Fields] | None = None,
        limits: dict[str, int] | None = None,
    ) -> None:
        super().__init__(names)
        self.nested: dict[str, Fields] = nested or {}
        self.limits: dict[str, int] = limits or {}

    def sub(self, name: str) -> Fields:
        return self.nested.get(name) or Fields(["id"])


class _Syntax:
    """A recursive-descent reader of Graph's field expansion: ``a,b{c,d{e}},f.limit(5){g}``."""

    def __init__(self, raw: str) -> None:
        self.raw = raw
        self.pos = 0

    def fail(self, expected: str) -> GraphError:
        found = f'"{self.raw[self.pos]}"' if self.pos < len(self.raw) else "the end"
        return bad_param(
            "fields",
            f"has a syntax error: expected {expected} instead of {found} at character {self.pos}",
        )

    def skip_space(self) -> None:
        while self.pos < len(self.raw) and self.raw[self.pos] in " \t\r\n":
            self.pos += 1

    def name(self) -> str:
        start = self.pos
        while self.pos < len(self.raw) and (self.raw[self.pos].isalnum() or self.raw[self.pos] == "_"):
            self.pos += 1
        return self.raw[start : self.pos]

    def selection(self, node: str, allowed: frozenset[str], depth: int, closing: str) -> Fields:
        out = Fields()
        while True:
            self.skip_space()
            if self.pos >= len(self.raw) or self.raw[self.pos] in ",}":
                if self.pos < len(self.raw) and self.raw[self.pos] == ",":
                    self.pos += 1
                    continue  # an empty entry, as in "id,,text": ignored like Graph does
                break
            self.field(out, node, allowed, depth)
            self.skip_space()
            if self.pos < len(self.raw) and self.raw[self.pos] == ",":
                self.pos += 1
            elif self.pos < len(self.raw) and self.raw[self.pos] != "}":
                raise self.fail('"," or "}"' if closing == "}" else '","')
        if closing == "}":
            if self.pos >= len(self.raw):
                raise self.fail('"}"')
            self.pos += 1
        elif self.pos < len(self.raw):
            raise self.fail("a field name")
        return out

    def field(self, out: Fields, node: str, allowed: frozenset[str], depth: int) -> None:
        at = self.pos
        name = self.name()
        if not name:
            raise self.fail("a field name")
        if name not in allowed:
            raise nonexisting_field(name[:100], node)
        limit: int | None = None
        self.skip_space()
        while self.pos < len(self.raw) and self.raw[self.pos] == ".":
            self.pos += 1
            modifier = self.name()
            if modifier != "limit" or name not in LIST_FIELDS:
                self.pos = at
                raise bad_param("fields", f"cannot apply .{modifier[:20] or '?'}() to {name}")
            limit = self.count()
            self.skip_space()
        sub: Fields | None = None
        if self.pos < len(self.raw) and self.raw[self.pos] == "{":
            sub_node = NESTED_NODES.get(node, {}).get(name)
            if sub_node is None:
                raise bad_param("fields", f"cannot expand {name}: it is not a node of {node}")
            if depth >= MAX_FIELD_DEPTH:
                raise bad_param("fields", f"nests deeper than {MAX_FIELD_DEPTH} levels")
            self.pos += 1
            sub = self.selection(sub_node, NODE_FIELDS[sub_node], depth + 1, "}")
        if name not in out:
            out.append(name)
        if sub is not None:
            merged = out.nested.setdefault(name, Fields())
            merged.extend(n for n in sub if n not in merged)
            for key, deeper in sub.nested.items():
                merged.nested.setdefault(key, deeper)
            merged.limits.update(sub.limits)
        if limit is not None:
            out.limits[name] = limit

    def count(self) -> int:
        if self.pos >= len(self.raw) or self.raw[self.pos] != "(":
            raise self.fail('"("')
        self.pos += 1
        start = self.pos
        while self.pos < len(self.raw) and self.raw[self.pos].isdigit():
            self.pos += 1
        digits = self.raw[start : self.pos]
        if not digits or len(digits) > 4:
            raise self.fail("a number")
        if self.pos >= len(self.raw) or self.raw[self.pos] != ")":
            raise self.fail('")"')
        self.pos += 1
        return int(digits)


def parse_fields(raw: str, allowed: frozenset[str], node: str) -> Fields:
    """``fields`` as Graph reads it; unknown names refused per node type exactly as at the top."""
    return _Syntax(raw).selection(node, allowed, 1, "")


def requested(
    params: Params, allowed: frozenset[str], node: str, default: tuple[str, ...] = ("id",)
) -> Fields:
    raw = text_param(params, "fields", max_chars=MAX_FIELDS_CHARS)
    if not raw or not raw.strip():
        return Fields(default)
    out = parse_fields(raw, allowed, node)
    return out if out else Fields(default)


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
    # Posts that nested fields expand (carousel items, quoted and replied-to posts), by id: only the
    # viewer's own live posts are loaded, any other id renders as ``{"id"}``.
    posts: Mapping[int, ThreadsPost] = field(default_factory=dict)
    # Owners that ``owner{...}`` expands, by id.
    profiles: Mapping[int, ThreadsProfile] = field(default_factory=dict)


# What ``owner{...}`` shows of a profile other than the viewer's: what its posts already show.
PUBLIC_OWNER_FIELDS = frozenset({"id", "username"})


def referenced(post: ThreadsPost, name: str, limit: int | None = None) -> list[int]:
    """The ids of the posts a node-valued field of ``post`` names (for loading and for rendering)."""
    a = post.attrs
    if name == "children":
        return [int(c) for c in a.get("children") or []][:limit]
    if name == "quoted_post":
        return [post.quote_post_id] if post.quote_post_id is not None else []
    if name == "root_post":
        return [post.root_id or post.id]
    if name == "replied_to":
        return [post.reply_to_id] if post.reply_to_id is not None else []
    return []


def mentions(fields: list[str], name: str) -> bool:
    """Whether ``name`` is asked anywhere in the selection, nested selections included."""
    if name in fields:
        return True
    return isinstance(fields, Fields) and any(mentions(sub, name) for sub in fields.nested.values())


def _sub(fields: list[str], name: str) -> Fields:
    return fields.sub(name) if isinstance(fields, Fields) else Fields(["id"])


def _post_ref(post_id: int, sub: Fields, mc: MediaContext) -> dict[str, Any]:
    target = mc.posts.get(post_id)
    if target is None or sub == ["id"]:
        return {"id": str(post_id)}
    return media_node(target, sub, mc)


def _owner(post: ThreadsPost, sub: Fields, mc: MediaContext) -> dict[str, Any]:
    profile = mc.profiles.get(post.profile_id)
    if profile is None or sub == ["id"]:
        return {"id": str(post.profile_id)}
    if profile.id == mc.viewer_profile_id:
        return user_node(profile, sub)
    return user_node(profile, [f for f in sub if f in PUBLIC_OWNER_FIELDS])


def _children(post: ThreadsPost, fields: list[str], mc: MediaContext) -> dict[str, Any] | None:
    if not post.attrs.get("children"):
        return None
    limit = fields.limits.get("children") if isinstance(fields, Fields) else None
    sub = _sub(fields, "children")
    return {"data": [_post_ref(c, sub, mc) for c in referenced(post, "children", limit)]}


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
            "owner": lambda: _owner(post, _sub(fields, "owner"), mc),
            "username": lambda: username,
            "text": lambda: post.text or None,
            "timestamp": lambda: graph_time(post.created_at),
            "shortcode": lambda: post.shortcode,
            "thumbnail_url": lambda: media_url(mc.public_base_url, a.get("thumbnail_file_id")),
            "children": lambda: _children(post, fields, mc),
            "is_quote_post": lambda: post.quote_post_id is not None,
            "quoted_post": lambda: (
                _post_ref(post.quote_post_id, _sub(fields, "quoted_post"), mc)
                if post.quote_post_id is not None and post.quote_post_id in mc.live_linked
                else None
            ),
            "alt_text": lambda: a.get("alt_text"),
            "link_attachment_url": lambda: a.get("link_attachment_url"),
            "has_replies": lambda: post.id in mc.with_replies,
            "is_reply": lambda: reply_to is not None,
            "is_reply_owned_by_me": lambda: reply_to is not None and post.profile_id == mc.viewer_profile_id,
            "root_post": lambda: _post_ref(referenced(post, "root_post")[0], _sub(fields, "root_post"), mc),
            "replied_to": lambda: (
                _post_ref(reply_to, _sub(fields, "replied_to"), mc) if reply_to is not None else None
            ),
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
