"""Permalink pages: ``/@<username>/post/<shortcode>`` as HTML with Open Graph tags and JSON-LD (Jinja2).

A page shows the post, its quote or repost card, its poll (results, and the vote form while it is open)
and its replies, threaded. Every view is counted once per visitor and hour (the ``views`` insight).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, select_autoescape
from sqlalchemy.orm import Session

from threadline.context import AppContext
from threadline.publishing import conversations as conv
from threadline.publishing import fields as F
from threadline.publishing import relations as rel
from threadline.publishing import repository as repo
from threadline.publishing import visitors
from threadline.store.models import ThreadsPost, ThreadsProfile

MAX_PAGE_REPLIES = 500  # a page shows the first 500 replies of a conversation, oldest first


@cache
def _env() -> Environment:
    return Environment(
        loader=PackageLoader("threadline.publishing", "templates"), autoescape=select_autoescape()
    )


@dataclass(frozen=True)
class ReplyRow:
    post: ThreadsPost
    username: str
    depth: int
    permalink: str


def not_found(username: str) -> HTMLResponse:
    html = _env().get_template("not_found.html").render(username=username[:30])
    return HTMLResponse(html, status_code=404)


def message_page(status: int, message: str, back: str | None) -> HTMLResponse:
    html = _env().get_template("message.html").render(message=message, back=back)
    return HTMLResponse(html, status_code=status)


def post_page(ctx: AppContext, username: str, code: str, cookie: str | None = None) -> HTMLResponse:
    base = ctx.settings.public_base_url
    now = ctx.clock.now()
    visitor = visitors.visitor(ctx, cookie)
    with ctx.db.read() as s:
        found = repo.post_by_shortcode(s, username[:30], code[:16]) if len(username) <= 30 else None
        if found is None or F.ghost_status(found[0], now) == "ARCHIVED":
            return not_found(username)
        post, profile = found
        children = repo.child_posts(s, post.id)
        original = _original(s, post)
        quoted = (
            rel.posts_by_id(s, [post.quote_post_id]).get(post.quote_post_id) if post.quote_post_id else None
        )
        replies = _thread(s, base, post)
        shown = original or post
        votes = rel.vote_counts(s, [shown.id]).get(shown.id, {})
        mine = rel.vote_of(s, shown.id, visitor.id) if shown.attrs.get("poll_attachment") else None
        names = repo.usernames(s, {p.profile_id for p in (original, quoted) if p is not None})
    visitors.record_view(ctx, post.id, post.profile_id, visitor.id)
    a = shown.attrs
    media: list[dict[str, Any]] = []
    for item in children or [shown]:
        url = F.media_url(base, item.attrs.get("media_file_id"))
        if url:
            media.append(
                {
                    "kind": "video" if item.media_type == "VIDEO" else "image",
                    "url": url,
                    "poster": F.media_url(base, item.attrs.get("thumbnail_file_id")),
                    "alt": item.attrs.get("alt_text") or "",
                }
            )
    gif = a.get("gif_attachment")
    link = F.permalink(base, profile.username, post.shortcode)
    poll = F.poll_read(a.get("poll_attachment"), shown.created_at, votes)
    poll_open = poll is not None and now < shown.created_at + F.POLL_SECONDS
    context = {
        "post": post,
        "profile": profile,
        "text": shown.text,
        "timestamp": F.graph_time(post.created_at),
        "permalink": link,
        "media": media,
        "link": a.get("link_attachment_url"),
        "poll": poll,
        "poll_options": [(k, v) for k, v in (a.get("poll_attachment") or {}).items()],
        "poll_open": poll_open and mine is None,
        "my_vote": mine,
        "vote_token": visitors.vote_token(ctx, shown.id, visitor.id) if poll_open else None,
        "topic_tag": a.get("topic_tag"),
        "gif_url": f"https://media.giphy.com/media/{gif['gif_id']}/giphy.gif" if gif else None,
        "attachment": a.get("text_attachment"),
        "spoiler": bool(a.get("is_spoiler_media")),
        "og_image": media[0]["poster"] or media[0]["url"] if media else None,
        "reposted": _card(base, original, names),
        "quoted": _card(base, quoted, names),
        "replies": replies,
        "json_ld": _json_ld(link, profile, base, shown, post, len(replies), quoted, names),
    }
    response = HTMLResponse(_env().get_template("post.html").render(**context))
    if visitor.is_new:
        response.set_cookie(
            visitors.COOKIE,
            visitor.cookie,
            max_age=visitors.COOKIE_MAX_AGE,
            httponly=True,
            samesite="lax",
            secure=base.startswith("https://"),
        )
    return response


def _original(s: Session, post: ThreadsPost) -> ThreadsPost | None:
    if post.repost_of_id is None:
        return None
    return rel.posts_by_id(s, [post.repost_of_id]).get(post.repost_of_id)


def _thread(s: Session, base: str, post: ThreadsPost) -> list[ReplyRow]:
    """The replies below ``post`` depth first, oldest first at each level; hidden replies left out."""
    root = conv.root_of(post)
    rows = list(
        s.execute(rel.conversation(root).order_by(ThreadsPost.id.asc()).limit(MAX_PAGE_REPLIES)).scalars()
    )
    children: dict[int, list[ThreadsPost]] = {}
    for r in rows:
        if r.hide_status != conv.HIDDEN and r.reply_to_id is not None:
            children.setdefault(r.reply_to_id, []).append(r)
    names = repo.usernames(s, {r.profile_id for r in rows})
    out: list[ReplyRow] = []
    stack = [(kid, 0) for kid in reversed(children.get(post.id, []))]
    while stack:
        reply, depth = stack.pop()
        name = names.get(reply.profile_id, "")
        out.append(ReplyRow(reply, name, depth, F.permalink(base, name, reply.shortcode)))
        stack.extend((kid, depth + 1) for kid in reversed(children.get(reply.id, [])))
    return out


def _card(base: str, post: ThreadsPost | None, names: dict[int, str]) -> dict[str, Any] | None:
    if post is None:
        return None
    name = names.get(post.profile_id, "")
    return {
        "username": name,
        "text": post.text,
        "timestamp": F.graph_time(post.created_at),
        "permalink": F.permalink(base, name, post.shortcode),
    }


def _json_ld(
    url: str,
    profile: ThreadsProfile,
    base: str,
    shown: ThreadsPost,
    post: ThreadsPost,
    reply_count: int,
    quoted: ThreadsPost | None,
    names: dict[int, str],
) -> dict[str, Any]:
    """schema.org SocialMediaPosting: what search engines and link unfurlers read."""
    data: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "SocialMediaPosting",
        "@id": url,
        "url": url,
        "datePublished": F.graph_time(post.created_at),
        "author": {
            "@type": "Person",
            "name": profile.name or profile.username,
            "alternateName": f"@{profile.username}",
            "url": f"{base.rstrip('/')}/@{profile.username}",
        },
        "commentCount": reply_count,
    }
    if shown.text:
        data["text"] = shown.text
    if post.reply_to_id is not None:
        data["isPartOf"] = {"@type": "SocialMediaPosting", "identifier": str(post.root_id)}
    linked = quoted or (shown if shown is not post else None)
    if linked is not None:
        name = names.get(linked.profile_id, "")
        data["sharedContent"] = {
            "@type": "SocialMediaPosting",
            "url": F.permalink(base, name, linked.shortcode),
            "author": {"@type": "Person", "alternateName": f"@{name}"},
        }
    return data
