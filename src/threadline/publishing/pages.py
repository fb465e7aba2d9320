"""Permalink pages: ``/@<username>/post/<shortcode>`` as HTML with Open Graph tags (Jinja2)."""

from __future__ import annotations

from functools import cache
from typing import Any

from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, select_autoescape

from threadline.context import AppContext
from threadline.publishing import fields as F
from threadline.publishing import repository as repo


@cache
def _env() -> Environment:
    return Environment(
        loader=PackageLoader("threadline.publishing", "templates"), autoescape=select_autoescape()
    )


def post_page(ctx: AppContext, username: str, code: str) -> HTMLResponse:
    base = ctx.settings.public_base_url
    with ctx.db.read() as s:
        found = repo.post_by_shortcode(s, username[:30], code[:16]) if len(username) <= 30 else None
        if found is None:
            html = _env().get_template("not_found.html").render(username=username[:30])
            return HTMLResponse(html, status_code=404)
        post, profile = found
        children = repo.child_posts(s, post.id)
    a = post.attrs
    media: list[dict[str, Any]] = []
    for item in children or [post]:
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
    context = {
        "post": post,
        "profile": profile,
        "text": post.text,
        "timestamp": F.graph_time(post.created_at),
        "permalink": F.permalink(base, profile.username, post.shortcode),
        "media": media,
        "link": a.get("link_attachment_url"),
        "poll": a.get("poll_attachment"),
        "topic_tag": a.get("topic_tag"),
        "gif_url": f"https://media.giphy.com/media/{gif['gif_id']}/giphy.gif" if gif else None,
        "attachment": a.get("text_attachment"),
        "spoiler": bool(a.get("is_spoiler_media")),
        "og_image": media[0]["poster"] or media[0]["url"] if media else None,
    }
    return HTMLResponse(_env().get_template("post.html").render(**context))
