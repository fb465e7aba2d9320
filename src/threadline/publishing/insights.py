"""Threads insights in Meta's shape: ``GET /{media}/insights`` and ``GET /{user}/threads_insights``.

Sources: views are permalink page views (once per visitor per hour, ``visitors.record_view``); replies,
reposts, quotes and followers are counted from our rows. Nothing here records likes or shares, so those
metrics answer 0 (docs/publishing.md says so).
"""

from __future__ import annotations

from typing import Any

from threadline.context import AppContext
from threadline.kit.ids import parse_graph_id
from threadline.publishing import conversations as conv
from threadline.publishing import fields as F
from threadline.publishing import relations as rel
from threadline.publishing import repository as repo
from threadline.publishing.auth import INSIGHTS, ThreadsPrincipal
from threadline.publishing.errors import GraphError, bad_param, no_object
from threadline.publishing.params import Params, text_param
from threadline.publishing.service import time_param

MEDIA_METRICS = ("views", "likes", "replies", "reposts", "quotes", "shares")
USER_METRICS = ("views", "likes", "replies", "reposts", "quotes", "followers_count")
EARLIEST_USER_SINCE = 1712991600  # Meta: user insights do not go back before 2024-04-13
DAY = 86400

TITLES = {
    "views": ("Views", "The number of times the post's page was viewed (once per visitor per hour)."),
    "likes": ("Likes", "The number of likes. Threadline records no likes: always 0."),
    "replies": ("Replies", "The number of replies."),
    "reposts": ("Reposts", "The number of times the post was reposted."),
    "quotes": ("Quotes", "The number of times the post was quoted."),
    "shares": ("Shares", "The number of shares. Threadline records no shares: always 0."),
    "followers_count": ("Followers count", "The profile's followers, now."),
}
USER_VIEWS = ("Views", "The number of times the profile's post pages were viewed, per day.")


def _metrics(params: Params, allowed: tuple[str, ...]) -> list[str]:
    raw = text_param(params, "metric", max_chars=1024)
    if not raw or not raw.strip():
        raise bad_param("metric", "is required")
    out: list[str] = []
    for i, name in enumerate(m.strip() for m in raw.split(",")):
        if name not in allowed:
            raise GraphError(
                100,
                f"(#100) metric[{i}] must be one of the following values: {', '.join(allowed)}",
                param="metric",
            )
        if name not in out:
            out.append(name)
    return out


def _item(node_id: int, name: str, period: str, **value: Any) -> dict[str, Any]:
    title, description = (
        USER_VIEWS if (name == "views" and "values" in value and period == "day") else TITLES[name]
    )
    return {
        "name": name,
        "period": period,
        **value,
        "title": title,
        "description": description,
        "id": f"{node_id}/insights/{name}/{period}",
    }


def media_insights(ctx: AppContext, principal: ThreadsPrincipal, node: str, params: Params) -> dict[str, Any]:
    principal.require(INSIGHTS)
    metrics = _metrics(params, MEDIA_METRICS)
    post_id = parse_graph_id(node)
    with ctx.db.read() as s:
        post = repo.live_post(s, post_id) if post_id is not None else None
        if post is None or post.profile_id != principal.profile_id:
            raise no_object(node[:64])
        if post.media_type == conv.REPOST:
            return {"data": []}  # as Meta: a repost's numbers belong to the original's author
        # A root post counts its whole conversation; a reply counts its direct replies (Meta's rule).
        reply_col = "root_id" if post.root_id is None else "reply_to_id"
        values = {
            "views": rel.post_views(s, post.id),
            "likes": 0,
            "replies": rel.count_by(s, reply_col, [post.id]).get(post.id, 0) if "replies" in metrics else 0,
            "reposts": rel.count_by(s, "repost_of_id", [post.id]).get(post.id, 0)
            if "reposts" in metrics
            else 0,
            "quotes": rel.count_by(s, "quote_post_id", [post.id]).get(post.id, 0)
            if "quotes" in metrics
            else 0,
            "shares": 0,
        }
    return {"data": [_item(post.id, m, "lifetime", values=[{"value": values[m]}]) for m in metrics]}


def _user_range(ctx: AppContext, params: Params) -> tuple[int, int]:
    now = ctx.clock.now_s()
    since, until = time_param(params, "since"), time_param(params, "until")
    until = now if until is None else min(until, now)
    since = (until // DAY - 1) * DAY if since is None else since  # Meta's default: yesterday and today
    if since < EARLIEST_USER_SINCE:
        raise bad_param("since", f"must be at least {EARLIEST_USER_SINCE}")
    if since > until:
        raise bad_param("since", "must not be after until")
    return since, until


def user_insights(ctx: AppContext, principal: ThreadsPrincipal, user: str, params: Params) -> dict[str, Any]:
    principal.require(INSIGHTS)
    if user != "me" and parse_graph_id(user) != principal.profile_id:
        raise no_object(user[:64])
    metrics = _metrics(params, USER_METRICS)
    since, until = _user_range(ctx, params)
    pid = principal.profile_id
    data: list[dict[str, Any]] = []
    with ctx.db.read() as s:
        for m in metrics:
            if m == "views":
                first_day = since // DAY * DAY
                hours = rel.profile_views_by_hour(s, pid, first_day, until // DAY * DAY + DAY)
                days = range(first_day, until + 1, DAY)
                values = [
                    {
                        "value": sum(n for h, n in hours.items() if day <= h < day + DAY),
                        "end_time": F.graph_time(day + DAY),
                    }
                    for day in days
                ]
                data.append(_item(pid, m, "day", values=values))
                continue
            if m == "followers_count":
                total = rel.followers_count(s, pid)
            elif m in ("replies", "reposts", "quotes"):
                column = {"replies": "reply_to_id", "reposts": "repost_of_id", "quotes": "quote_post_id"}[m]
                total = rel.profile_counts(s, pid, column, since, until)
            else:
                total = 0
            data.append(_item(pid, m, "day", total_value={"value": total}))
    return {"data": data}
