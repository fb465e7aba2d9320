"""The create-container rules of spec 70 as pure functions: parameters in, validated options out."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from threadline.advertiser.countries import COUNTRY_CODES
from threadline.publishing.errors import GraphError, bad_param, rule
from threadline.publishing.params import Params, bool_param, json_param, text_param

MEDIA_TYPES = ("TEXT", "IMAGE", "VIDEO", "CAROUSEL")
REPLY_CONTROLS = (
    "everyone",
    "accounts_you_follow",
    "mentioned_only",
    "parent_post_author_only",
    "followers_only",
)
STYLES = ("bold", "italic", "highlight", "underline", "strikethrough")
MAX_TEXT = 500
MAX_ALT_TEXT = 1000
MAX_LINKS = 5
MAX_TAG = 50
MAX_ENTITIES = 10
MAX_ATTACHMENT_TEXT = 10_000
MIN_CHILDREN, MAX_CHILDREN = 2, 20
MAX_URL = 4096
POLL_KEYS = ("option_a", "option_b", "option_c", "option_d")

URL_RE = re.compile(r"""https?://[^\s<>"']+|www\.[^\s<>"']+""", re.IGNORECASE)
TRAILING = ".,;:!?)]}'\""
# An in-text tag ends just before whitespace, "." or "&" (seed 004, "in-text tags").
IN_TEXT_TAG = re.compile(r"#([^\s.&#]+)")


def text_length(text: str) -> int:
    """Characters, except that an emoji counts as its UTF-8 byte length (seed 004)."""
    return sum(len(ch.encode("utf-8")) if _is_emoji(ch) else 1 for ch in text)


def _is_emoji(ch: str) -> bool:
    cp = ord(ch)
    return (
        cp >= 0x1F000  # pictographs, emoticons, flags (regional indicators), symbols and tags
        or 0x2600 <= cp <= 0x27BF  # miscellaneous symbols and dingbats
        or 0x2300 <= cp <= 0x23FF
        or 0x2B00 <= cp <= 0x2BFF
        or cp in (0x200D, 0xFE0F, 0x20E3, 0x00A9, 0x00AE, 0x203C, 0x2049, 0x2122, 0x2139)
    )


def urls_in(text: str) -> list[str]:
    return [m.group(0).rstrip(TRAILING) for m in URL_RE.finditer(text)]


def is_http_url(value: str) -> bool:
    return bool(re.fullmatch(r"https?://[^\s/?#]+[^\s]*", value, re.IGNORECASE)) and len(value) <= MAX_URL


def in_text_tag(text: str) -> str | None:
    """The first valid ``#tag`` of the text (1 to 50 characters), if any."""
    for m in IN_TEXT_TAG.finditer(text):
        tag = m.group(1)
        if 1 <= len(tag) <= MAX_TAG:
            return tag
    return None


@dataclass
class ContainerSpec:
    """What a create call asked for, validated; ``options`` is stored on the container."""

    media_type: str
    is_carousel_item: bool = False
    source_url: str | None = None
    children: list[str] = field(default_factory=list)
    reply_to_id: str | None = None
    quote_post_id: str | None = None
    allowlisted_country_codes: list[str] = field(default_factory=list)
    auto_publish_text: bool = False
    options: dict[str, Any] = field(default_factory=dict)


def _flag(params: Params, name: str, *, allowed_for: tuple[str, ...], media_type: str) -> bool:
    value = bool_param(params, name)
    if value and media_type not in allowed_for:
        raise bad_param(name, f"is only allowed for {'/'.join(allowed_for)} posts")
    return bool(value)


def parse_container(params: Params) -> ContainerSpec:
    media_type = _media_type(params)
    is_item = bool(bool_param(params, "is_carousel_item"))
    if is_item and media_type not in ("IMAGE", "VIDEO"):
        raise bad_param("is_carousel_item", "is only allowed for IMAGE and VIDEO containers")
    spec = ContainerSpec(media_type=media_type, is_carousel_item=is_item)
    opts = spec.options

    if text_param(params, "location_id") is not None:
        raise bad_param("location_id", "is not supported on this server yet")

    text = text_param(params, "text") or ""
    if text_length(text) > MAX_TEXT:
        raise bad_param("text", f"must be at most {MAX_TEXT} characters (an emoji counts as its UTF-8 bytes)")

    if media_type == "IMAGE":
        spec.source_url = _url(params, "image_url", required=True)
    elif _present(params, "image_url"):
        raise bad_param("image_url", "is only allowed for IMAGE containers")
    if media_type == "VIDEO":
        spec.source_url = _url(params, "video_url", required=True)
    elif _present(params, "video_url"):
        raise bad_param("video_url", "is only allowed for VIDEO containers")
    if media_type == "CAROUSEL":
        spec.children = _children(params)
    elif _present(params, "children"):
        raise bad_param("children", "is only allowed for CAROUSEL containers")

    alt_text = text_param(params, "alt_text")
    if alt_text is not None:
        if media_type not in ("IMAGE", "VIDEO"):
            raise bad_param("alt_text", "is only allowed for IMAGE and VIDEO containers")
        if len(alt_text) > MAX_ALT_TEXT:
            raise bad_param("alt_text", f"must be at most {MAX_ALT_TEXT} characters")
        opts["alt_text"] = alt_text

    reply_control = text_param(params, "reply_control")
    if reply_control is not None:
        if reply_control not in REPLY_CONTROLS:
            raise bad_param("reply_control", f"must be one of {', '.join(REPLY_CONTROLS)}")
        opts["reply_control"] = reply_control

    spec.reply_to_id = _id_param(params, "reply_to_id")
    spec.quote_post_id = _id_param(params, "quote_post_id")

    poll = _poll(params, media_type)
    gif = _gif(params, media_type)
    attachment = _text_attachment(params, media_type, poll is not None)
    link = _link_attachment(params, media_type, poll is not None)
    if attachment is not None and link is not None and attachment.get("link_attachment_url"):
        raise bad_param("text_attachment", "cannot carry a link when the post has a link_attachment")

    is_text = media_type == "TEXT"
    if is_text and not text and link is None and attachment is None and gif is None and poll is None:
        raise bad_param("text", "is required for TEXT posts")

    entities = _text_entities(params, text)
    spoiler_media = _flag(
        params, "is_spoiler_media", allowed_for=("IMAGE", "VIDEO", "CAROUSEL"), media_type=media_type
    )
    ghost = _flag(params, "is_ghost_post", allowed_for=("TEXT",), media_type=media_type)
    if ghost and spec.reply_to_id is not None:
        raise bad_param("is_ghost_post", "cannot be used for a reply")
    spec.auto_publish_text = _flag(params, "auto_publish_text", allowed_for=("TEXT",), media_type=media_type)
    approvals = bool_param(params, "enable_reply_approvals")

    links: list[str] = []
    for url in [
        *urls_in(text),
        *(
            [attachment["link_attachment_url"]]
            if attachment and attachment.get("link_attachment_url")
            else []
        ),
        *([link] if link else []),
    ]:
        if url not in links:
            links.append(url)
    if len(links) > MAX_LINKS:
        raise rule(
            "THREADS_API__LINK_LIMIT_EXCEEDED",
            f"a post may contain at most {MAX_LINKS} unique links; this one has {len(links)}",
            "text",
        )
    if is_text and link is None and attachment is None and gif is None and poll is None:
        text_urls = urls_in(text)
        if text_urls:
            link = text_urls[0]

    tag = _topic_tag(params)
    if tag is None:
        tag = in_text_tag(text)

    spec.allowlisted_country_codes = _countries(params)

    opts.update(
        {
            k: v
            for k, v in {
                "text": text,
                "topic_tag": tag,
                "link_attachment_url": link,
                "poll_attachment": poll,
                "gif_attachment": gif,
                "text_attachment": attachment,
                "text_entities": entities,
                "is_spoiler_media": spoiler_media or None,
                "is_ghost_post": ghost or None,
                "enable_reply_approvals": approvals,
                "allowlisted_country_codes": spec.allowlisted_country_codes or None,
            }.items()
            if v is not None
        }
    )
    return spec


def _present(params: Params, name: str) -> bool:
    value = params.get(name)
    return value is not None and value != ""


def _media_type(params: Params) -> str:
    value = text_param(params, "media_type")
    if value is None or value == "":
        # Seed 004's carousel-item curl sends only image_url + is_carousel_item.
        if _present(params, "image_url"):
            return "IMAGE"
        if _present(params, "video_url"):
            return "VIDEO"
        raise bad_param("media_type", "is required")
    upper = value.upper()
    if upper not in MEDIA_TYPES:
        raise bad_param("media_type", f"must be one of {', '.join(MEDIA_TYPES)}")
    return upper


def _url(params: Params, name: str, *, required: bool) -> str | None:
    value = text_param(params, name, max_chars=MAX_URL)
    if not value:
        if required:
            raise bad_param(name, "is required")
        return None
    if not is_http_url(value):
        raise bad_param(name, "must be an http or https URL")
    return value


def _id_param(params: Params, name: str) -> str | None:
    value = text_param(params, name, max_chars=64)
    if not value:
        return None
    if not value.isascii() or not value.isdigit():
        raise bad_param(name, "must be a media id")
    return value


def _children(params: Params) -> list[str]:
    raw = params.get("children")
    if isinstance(raw, list):
        items = [str(v).strip() for v in raw]
    else:
        text = text_param(params, "children", max_chars=2048)
        if not text:
            raise bad_param("children", "is required for CAROUSEL containers")
        items = [v.strip() for v in text.split(",")]
    items = [v for v in items if v]
    if not MIN_CHILDREN <= len(items) <= MAX_CHILDREN:
        raise bad_param("children", f"must list between {MIN_CHILDREN} and {MAX_CHILDREN} carousel items")
    if len(set(items)) != len(items):
        raise bad_param("children", "must not list the same item twice")
    if not all(v.isascii() and v.isdigit() for v in items):
        raise bad_param("children", "must be container ids")
    return items


def _topic_tag(params: Params) -> str | None:
    tag = text_param(params, "topic_tag", max_chars=1024)
    if tag is None:
        return None
    if not 1 <= len(tag) <= MAX_TAG:
        raise bad_param("topic_tag", f"must be between 1 and {MAX_TAG} characters")
    if "." in tag or "&" in tag:
        raise bad_param("topic_tag", "must not contain '.' or '&'")
    if any(ch.isspace() for ch in tag):
        raise bad_param("topic_tag", "must not contain whitespace")
    return tag


def _link_attachment(params: Params, media_type: str, has_poll: bool) -> str | None:
    link = _url(params, "link_attachment", required=False)
    if link is None:
        return None
    if media_type != "TEXT":
        raise bad_param("link_attachment", "is only allowed for TEXT posts")
    if has_poll:
        raise bad_param("link_attachment", "cannot be combined with poll_attachment")
    return link


def _poll(params: Params, media_type: str) -> dict[str, str] | None:
    data = json_param(params, "poll_attachment")
    if data is None:
        return None
    if media_type != "TEXT":
        raise bad_param("poll_attachment", "is only allowed for TEXT posts")
    if not isinstance(data, dict):
        raise bad_param("poll_attachment", "must be a JSON object with option_a ... option_d")
    unknown = sorted(set(data) - set(POLL_KEYS))
    if unknown:
        raise bad_param("poll_attachment", f"has an unknown key: {unknown[0]}")
    options: dict[str, str] = {}
    for key in POLL_KEYS:
        if key not in data:
            break
        value = data[key]
        if not isinstance(value, str) or not 1 <= len(value) <= 25:
            raise bad_param("poll_attachment", f"{key} must be a string of 1 to 25 characters")
        options[key] = value
    if len(options) != len(data):
        raise bad_param("poll_attachment", "options must be given in order: option_a, option_b, ...")
    if len(options) < 2:
        raise bad_param("poll_attachment", "needs between 2 and 4 options")
    return options


def _gif(params: Params, media_type: str) -> dict[str, str] | None:
    data = json_param(params, "gif_attachment")
    if data is None:
        return None
    if media_type != "TEXT":
        raise bad_param("gif_attachment", "is only allowed for TEXT posts")
    if not isinstance(data, dict) or set(data) - {"gif_id", "provider"}:
        raise bad_param("gif_attachment", "must be a JSON object with gif_id and provider")
    gif_id, provider = data.get("gif_id"), data.get("provider")
    if not isinstance(gif_id, str) or not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", gif_id):
        raise bad_param("gif_attachment", "gif_id must be a GIPHY id")
    if provider == "TENOR":
        raise bad_param("gif_attachment", "provider TENOR is no longer supported (its API closed); use GIPHY")
    if provider != "GIPHY":
        raise bad_param("gif_attachment", "provider must be GIPHY")
    return {"gif_id": gif_id, "provider": provider}


def _range_ok(item: Any, limit: int) -> bool:
    offset, length = item.get("offset"), item.get("length")
    return (
        isinstance(offset, int)
        and isinstance(length, int)
        and not isinstance(offset, bool)
        and not isinstance(length, bool)
        and offset >= 0
        and length >= 1
        and offset + length <= limit
    )


def _text_attachment(params: Params, media_type: str, has_poll: bool) -> dict[str, Any] | None:
    data = json_param(params, "text_attachment")
    if data is None:
        return None
    name = "text_attachment"
    if media_type != "TEXT":
        raise bad_param(name, "is only allowed for TEXT posts")
    if has_poll:
        raise bad_param(name, "cannot be combined with poll_attachment")
    if not isinstance(data, dict):
        raise bad_param(name, "must be a JSON object")
    unknown = sorted(set(data) - {"plaintext", "link_attachment_url", "text_with_styling_info"})
    if unknown:
        raise bad_param(name, f"has an unknown key: {unknown[0]}")
    plaintext = data.get("plaintext")
    if not isinstance(plaintext, str) or not 1 <= len(plaintext) <= MAX_ATTACHMENT_TEXT:
        raise bad_param(name, f"plaintext is required, at most {MAX_ATTACHMENT_TEXT} characters")
    out: dict[str, Any] = {"plaintext": plaintext}
    link = data.get("link_attachment_url")
    if link is not None:
        if not isinstance(link, str) or not is_http_url(link):
            raise bad_param(name, "link_attachment_url must be an http or https URL")
        out["link_attachment_url"] = link
    styling = data.get("text_with_styling_info")
    if styling is not None:
        if not isinstance(styling, list) or len(styling) > 1000:
            raise bad_param(name, "text_with_styling_info must be a list of ranges")
        ranges = []
        for item in styling:
            if not isinstance(item, dict) or set(item) - {"offset", "length", "styling_info"}:
                raise bad_param(name, "each styling range needs offset, length and styling_info")
            if not _range_ok(item, len(plaintext)):
                raise bad_param(name, "a styling range lies outside the plaintext")
            styles = item.get("styling_info")
            if not isinstance(styles, list) or not styles or any(s not in STYLES for s in styles):
                raise bad_param(name, f"styling_info must list styles among {', '.join(STYLES)}")
            ranges.append({"offset": item["offset"], "length": item["length"], "styling_info": list(styles)})
        out["text_with_styling_info"] = ranges
    return out


def _text_entities(params: Params, text: str) -> list[dict[str, Any]] | None:
    data = json_param(params, "text_entities")
    if data is None:
        return None
    name = "text_entities"
    if not isinstance(data, list):
        raise bad_param(name, "must be a JSON list of entities")
    if len(data) > MAX_ENTITIES:
        raise bad_param(name, f"may hold at most {MAX_ENTITIES} entities")
    out = []
    for item in data:
        if not isinstance(item, dict) or set(item) - {"entity_type", "offset", "length"}:
            raise bad_param(name, "each entity needs entity_type, offset and length")
        if item.get("entity_type") not in ("SPOILER", "spoiler"):
            raise bad_param(name, "entity_type must be SPOILER")
        if not _range_ok(item, len(text)):
            raise bad_param(name, "an entity lies outside the text")
        out.append({"entity_type": "SPOILER", "offset": item["offset"], "length": item["length"]})
    return out


def _countries(params: Params) -> list[str]:
    raw = params.get("allowlisted_country_codes")
    if raw is None or raw == "":
        return []
    if isinstance(raw, list):
        codes = [str(c).strip() for c in raw]
    else:
        text = text_param(params, "allowlisted_country_codes", max_chars=2048) or ""
        codes = [c.strip() for c in text.split(",")]
    bad = [c for c in codes if c not in COUNTRY_CODES]
    if bad or not codes:
        raise rule(
            "THREADS_API__GEO_GATING_INVALID_COUNTRY_CODES",
            f"not ISO 3166-1 alpha-2 country codes: {', '.join(bad) or '(empty)'}",
            "allowlisted_country_codes",
        )
    return sorted(set(codes))


def check_geo_gating(spec: ContainerSpec, eligible: bool) -> None:
    if spec.allowlisted_country_codes and not eligible:
        raise rule(
            "THREADS_API__FEATURE_NOT_AVAILABLE",
            "geo-gating is not available for this profile",
            "allowlisted_country_codes",
        )


__all__ = ["ContainerSpec", "GraphError", "check_geo_gating", "parse_container", "text_length"]
