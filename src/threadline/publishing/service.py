"""The Graph operations: create containers, publish, read nodes, list, delete, publishing limits.

Routes hand over the merged parameters and the principal; every rule and transaction lives here.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select
from sqlalchemy.orm import Session

from threadline.context import AppContext
from threadline.kit.ids import new_graph_id, parse_graph_id
from threadline.publishing import conversations, outbound
from threadline.publishing import fields as F
from threadline.publishing import relations as rel
from threadline.publishing import repository as repo
from threadline.publishing.auth import DELETE, MANAGE_REPLIES, PUBLISH, ThreadsPrincipal
from threadline.publishing.errors import GraphError, bad_param, no_object, not_ready, user_limit
from threadline.publishing.mentions import mentioned_usernames
from threadline.publishing.params import Params, text_param
from threadline.publishing.rules import ContainerSpec, check_geo_gating, parse_container
from threadline.store.models import ThreadsContainer, ThreadsPost, ThreadsProfile

READ_MEDIA_TYPE = {"TEXT": "TEXT_POST", "IMAGE": "IMAGE", "VIDEO": "VIDEO", "CAROUSEL": "CAROUSEL_ALBUM"}
MAX_LIST_LIMIT = 100
DEFAULT_LIST_LIMIT = 25
EARLIEST_SINCE = 1688540400  # Threads' launch; Graph refuses earlier `since` values


def _user(principal: ThreadsPrincipal, user: str) -> int:
    """``me`` or the token's own profile id; any other id reads as unknown (100/33)."""
    if user == "me" or parse_graph_id(user) == principal.profile_id:
        return principal.profile_id
    raise no_object(user[:64])


# -------------------------------------------------------------------------------------------- create


def create_container(ctx: AppContext, principal: ThreadsPrincipal, user: str, params: Params) -> str:
    principal.require(PUBLISH)
    profile_id = _user(principal, user)
    spec = parse_container(params)
    if spec.reply_to_id is not None:
        principal.require(PUBLISH, MANAGE_REPLIES)
    now = ctx.clock.now()
    with ctx.db.write() as s:
        profile = s.get(ThreadsProfile, profile_id)
        if profile is None:
            raise no_object(user[:64])
        check_geo_gating(spec, profile.is_eligible_for_geo_gating)
        options = _linked_posts(s, profile_id, spec)
        container = ThreadsContainer(
            id=new_graph_id(now),
            profile_id=profile_id,
            media_type=spec.media_type,
            is_carousel_item=spec.is_carousel_item,
            status="FINISHED" if spec.media_type in ("TEXT", "CAROUSEL") else "IN_PROGRESS",
            options={**spec.options, **options},
            source_url=spec.source_url,
            children=spec.children,
            media_info={},
            created_at=int(now),
        )
        s.add(container)
        s.flush()
        if spec.media_type == "CAROUSEL":
            _claim_children(s, container, spec)
        if spec.media_type in ("IMAGE", "VIDEO"):
            _enqueue_processing(ctx, s, container)
        if spec.auto_publish_text:
            return str(_publish_locked(ctx, s, principal, container.id))
    return str(container.id)


def _linked_posts(s: Session, profile_id: int, spec: ContainerSpec) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if spec.reply_to_id is not None:
        found = conversations.check_reply(s, profile_id, spec.reply_to_id)
        out["reply_to_id"] = str(found.target.id)
    if spec.quote_post_id is not None:
        out["quote_post_id"] = str(_quotable(s, spec.quote_post_id).id)
    return out


def _quotable(s: Session, raw: str) -> ThreadsPost:
    """The post a quote names (a repost's original for a repost); live, not a ghost."""
    qid = parse_graph_id(raw)
    quoted = repo.live_post(s, qid) if qid is not None else None
    if quoted is not None and quoted.repost_of_id is not None:
        quoted = repo.live_post(s, quoted.repost_of_id)
    if quoted is None or quoted.parent_id is not None:
        raise bad_param("quote_post_id", "does not name an existing post")
    if quoted.ghost_expires_at is not None:
        raise bad_param("quote_post_id", "names a ghost post, which cannot be quoted")
    return quoted


def _claim_children(s: Session, carousel: ThreadsContainer, spec: ContainerSpec) -> None:
    ids = [parse_graph_id(c) for c in spec.children]
    found = repo.containers(s, [i for i in ids if i is not None])
    for raw, cid in zip(spec.children, ids, strict=True):
        child = found.get(cid) if cid is not None else None
        if child is None or child.profile_id != carousel.profile_id:
            raise bad_param("children", f"contains {raw}, which is not a container of this profile")
        if not child.is_carousel_item or child.media_type not in ("IMAGE", "VIDEO"):
            raise bad_param(
                "children", f"contains {raw}, which is not a carousel item (is_carousel_item=true)"
            )
        if child.carousel_id is not None or child.published_media_id is not None:
            raise bad_param("children", f"contains {raw}, which is already used by another carousel")
    claimed = repo.claim_children(s, [i for i in ids if i is not None], carousel.id)
    if claimed != len(ids):
        raise bad_param("children", "contains an item another carousel claimed at the same time")


def _enqueue_processing(ctx: AppContext, s: Session, container: ThreadsContainer) -> None:
    """The container and its processing job commit together: neither exists without the other."""
    from threadline.publishing.jobs import enqueue_processing

    enqueue_processing(s, container, ctx.clock.now_s())


# -------------------------------------------------------------------------------------------- status


def container_status(
    ctx: AppContext, c: ThreadsContainer, children: dict[int, ThreadsContainer] | None = None
) -> tuple[str, str | None, str | None]:
    """(status, error_message, error_details) as a reader sees them now."""
    if c.published_media_id is not None:
        return "PUBLISHED", None, None
    if ctx.clock.now() - c.created_at >= ctx.settings.threads_container_ttl_seconds:
        return "EXPIRED", None, None
    if c.media_type == "CAROUSEL":
        kids = [children[int(k)] for k in c.children if children and int(k) in children]
        for kid in kids:
            if kid.status == "ERROR":
                return "ERROR", kid.error_message, f"carousel item {kid.id}: {kid.error_details or 'failed'}"
        if any(kid.status == "IN_PROGRESS" for kid in kids):
            return "IN_PROGRESS", None, None
        return "FINISHED", None, None
    return c.status, c.error_message, c.error_details


# ------------------------------------------------------------------------------------------- publish


def publish(ctx: AppContext, principal: ThreadsPrincipal, user: str, params: Params) -> str:
    principal.require(PUBLISH)
    _user(principal, user)
    raw = text_param(params, "creation_id", max_chars=64)
    if not raw:
        raise bad_param("creation_id", "is required")
    cid = parse_graph_id(raw)
    if cid is None:
        raise no_object(raw[:64])
    with ctx.db.write() as s:
        return str(_publish_locked(ctx, s, principal, cid))


def _publish_locked(ctx: AppContext, s: Session, principal: ThreadsPrincipal, cid: int) -> int:
    profile = repo.lock_profile(s, principal.profile_id)
    container = s.get(ThreadsContainer, cid) if profile is not None else None
    if profile is None or container is None or container.profile_id != principal.profile_id:
        raise no_object(str(cid))
    if container.published_media_id is not None:
        return container.published_media_id  # a retry or a lost race: the same post, never a second
    if container.is_carousel_item:
        raise bad_param("creation_id", "is a carousel item; publish the carousel that contains it")
    children = repo.containers(s, (int(k) for k in container.children))
    status, _, _ = container_status(ctx, container, children)
    if status == "IN_PROGRESS":
        carousel_wait = container.media_type == "CAROUSEL"
        raise not_ready(str(cid), carousel=carousel_wait)
    if status in ("ERROR", "EXPIRED"):
        raise GraphError(
            100,
            f"(#100) The media container {cid} cannot be published: its status is {status}",
            param="creation_id",
        )
    opts = container.options
    bucket = "reply" if opts.get("reply_to_id") else "post"
    if bucket == "reply":
        principal.require(PUBLISH, MANAGE_REPLIES)
    limit = ctx.settings.threads_reply_quota if bucket == "reply" else ctx.settings.threads_post_quota
    now_f = ctx.clock.now()
    now = int(now_f)
    if repo.quota_used(s, profile.id, bucket, now) >= limit:
        raise user_limit()
    # Checked again here: the target may have been deleted, hidden or locked down since the create.
    target = conversations.check_reply(s, profile.id, opts["reply_to_id"]) if bucket == "reply" else None
    quoted = _quotable(s, opts["quote_post_id"]) if opts.get("quote_post_id") else None

    media_id = new_graph_id(now_f)
    attrs: dict[str, Any] = {k: v for k, v in opts.items() if k != "text"}
    attrs["media_file_id"] = container.media_file_id
    attrs["thumbnail_file_id"] = container.thumbnail_file_id
    if container.media_type == "CAROUSEL":
        child_ids = []
        for k in container.children:
            kid = children[int(k)]
            kid_id = new_graph_id(now_f)
            child_ids.append(str(kid_id))
            s.add(
                _post(
                    kid,
                    kid_id,
                    profile.id,
                    READ_MEDIA_TYPE[kid.media_type],
                    "",
                    _media_attrs(kid),
                    now,
                    media_id,
                )
            )
            kid.published_media_id = kid_id
            kid.status = "PUBLISHED"
        attrs["children"] = child_ids
    attrs["mentions"] = mentioned_usernames(opts.get("text", ""))
    if target is not None:
        # A reply's audience is its conversation's: reply_control is a root-post setting.
        attrs["reply_control"] = target.root.attrs.get("reply_control") or "everyone"
    post = _post(
        container,
        media_id,
        profile.id,
        READ_MEDIA_TYPE[container.media_type],
        opts.get("text", ""),
        attrs,
        now,
        None,
    )
    if target is not None:
        post.reply_to_id = target.target.id
        post.root_id = target.root.id
    post.quote_post_id = quoted.id if quoted is not None else None
    if opts.get("is_ghost_post"):
        post.ghost_expires_at = now + F.GHOST_SECONDS
    s.add(post)
    container.published_media_id = media_id
    container.status = "PUBLISHED"
    repo.count_quota(s, profile.id, bucket, now)
    s.flush()  # the unique container_id turns a concurrent duplicate into an error, never a second post
    outbound.after_publish(s, post, now=now)
    if post.ghost_expires_at is not None:
        from threadline.publishing.jobs import enqueue_ghost_expiry

        enqueue_ghost_expiry(s, post, now)
    return media_id


def _media_attrs(c: ThreadsContainer) -> dict[str, Any]:
    out = {k: v for k, v in c.options.items() if k in ("alt_text", "is_spoiler_media")}
    out["media_file_id"] = c.media_file_id
    out["thumbnail_file_id"] = c.thumbnail_file_id
    return out


def _post(
    c: ThreadsContainer,
    media_id: int,
    profile_id: int,
    media_type: str,
    text: str,
    attrs: dict[str, Any],
    now: int,
    parent_id: int | None,
) -> ThreadsPost:
    return ThreadsPost(
        id=media_id,
        profile_id=profile_id,
        container_id=c.id,
        media_type=media_type,
        text=text,
        shortcode=F.shortcode(media_id),
        attrs=attrs,
        parent_id=parent_id,
        created_at=now,
    )


# ---------------------------------------------------------------------------------------------- read


def read_node(ctx: AppContext, principal: ThreadsPrincipal, node: str, params: Params) -> dict[str, Any]:
    """``GET /v1.0/{id}``: a profile (``me``), a container or a published media object."""
    principal.require()
    if node == "me":
        node_id: int | None = principal.profile_id
    else:
        node_id = parse_graph_id(node)
    if node_id is None:
        raise no_object(node[:64])
    with ctx.db.read() as s:
        if node_id == principal.profile_id:
            profile = s.get(ThreadsProfile, node_id)
            if profile is not None:
                return F.user_node(profile, F.requested(params, F.USER_FIELDS, F.USER_NODE))
        post = repo.live_post(s, node_id)
        if post is not None and post.profile_id == principal.profile_id:
            fields = F.requested(params, F.MEDIA_FIELDS, F.MEDIA_NODE)
            return F.media_node(post, fields, _media_context(ctx, s, principal, [post], fields))
        container = s.get(ThreadsContainer, node_id)
        if container is not None and container.profile_id == principal.profile_id:
            fields = F.requested(params, F.CONTAINER_FIELDS, F.CONTAINER_NODE)
            kids = repo.containers(s, (int(k) for k in container.children))
            status, message, details = container_status(ctx, container, kids)
            return F.container_node(container, status, (message, details), fields)
    raise no_object(node[:64])


def _media_context(
    ctx: AppContext, s: Session, principal: ThreadsPrincipal, posts: list[ThreadsPost], fields: list[str]
) -> F.MediaContext:
    return media_context(ctx, s, principal.profile_id, posts, fields)


def media_context(
    ctx: AppContext, s: Session, viewer_id: int, posts: list[ThreadsPost], fields: list[str]
) -> F.MediaContext:
    """What the requested fields of these posts need, in one query per kind (never one per post)."""
    loaded = _expanded_posts(s, viewer_id, posts, fields)
    every = list(loaded.values())
    ids = [p.id for p in every]
    replies = rel.count_by(s, "reply_to_id", ids) if F.mentions(fields, "has_replies") else {}
    linked: set[int] = set()
    if F.mentions(fields, "quoted_post"):
        linked |= {p.quote_post_id for p in every if p.quote_post_id is not None}
    if F.mentions(fields, "reposted_post"):
        linked |= {p.repost_of_id for p in every if p.repost_of_id is not None}
    live_linked = set(rel.posts_by_id(s, linked)) if linked else set()
    polls = (
        [p.id for p in every if p.attrs.get("poll_attachment")]
        if F.mentions(fields, "poll_attachment")
        else []
    )
    owners = {p.profile_id for p in every}
    expands_owner = any(
        isinstance(fs, F.Fields) and fs.sub("owner") != ["id"] for fs in _selections(fields) if "owner" in fs
    )
    return F.MediaContext(
        public_base_url=ctx.settings.public_base_url,
        viewer_profile_id=viewer_id,
        usernames=repo.usernames(s, owners),
        with_replies=frozenset(replies),
        now=ctx.clock.now(),
        live_linked=frozenset(live_linked),
        votes=rel.vote_counts(s, polls),
        posts=loaded,
        profiles=repo.profiles(s, owners) if expands_owner else {},
    )


def _selections(fields: list[str]) -> list[list[str]]:
    out = [fields]
    if isinstance(fields, F.Fields):
        for sub in fields.nested.values():
            out += _selections(sub)
    return out


def _expanded_posts(
    s: Session, viewer_id: int, posts: list[ThreadsPost], fields: list[str]
) -> dict[int, ThreadsPost]:
    """``posts`` and every post their nested fields expand, loaded a level at a time (one query each).

    Only the viewer's own live posts are loaded: another profile's post named by a field stays ``{"id"}``.
    The parser bounds the depth, so this ends after at most ``MAX_FIELD_DEPTH`` levels.
    """
    loaded = {p.id: p for p in posts}
    level: list[tuple[ThreadsPost, list[str]]] = [(p, fields) for p in posts]
    media_refs = {name for name, node in F.NESTED_NODES[F.MEDIA_NODE].items() if node == F.MEDIA_NODE}
    while level:
        wanted: list[tuple[int, F.Fields]] = []
        for post, fs in level:
            if not isinstance(fs, F.Fields):
                continue
            for name, sub in fs.nested.items():
                if name in media_refs and sub != ["id"]:
                    wanted += [(i, sub) for i in F.referenced(post, name, fs.limits.get(name))]
        missing = {i for i, _ in wanted if i not in loaded}
        loaded.update(repo.own_posts(s, viewer_id, missing))
        level = [(loaded[i], sub) for i, sub in wanted if i in loaded and sub.nested]
    return loaded


def list_children(ctx: AppContext, principal: ThreadsPrincipal, node: str, params: Params) -> dict[str, Any]:
    """``GET /v1.0/{media}/children``: a carousel's items in album order (none for other media)."""
    principal.require()
    media_id = parse_graph_id(node)
    if media_id is None:
        raise no_object(node[:64])
    fields = F.requested(params, F.MEDIA_FIELDS, F.MEDIA_NODE)
    with ctx.db.read() as s:
        post = repo.live_post(s, media_id)
        if post is None or post.profile_id != principal.profile_id:
            raise no_object(node[:64])
        ids = F.referenced(post, "children")
        found = repo.own_posts(s, principal.profile_id, set(ids))
        kids = [found[i] for i in ids if i in found]
        mc = _media_context(ctx, s, principal, kids, fields)
        return {"data": [F.media_node(k, fields, mc) for k in kids]}


def time_param(params: Params, name: str) -> int | None:
    raw = text_param(params, name, max_chars=64)
    if raw is None or raw == "":
        return None
    if raw.lstrip("-").isdigit():
        value = int(raw) if len(raw) <= 12 else -1
    else:
        try:
            parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            raise bad_param(name, "must be a Unix timestamp or an ISO 8601 date") from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        value = int(parsed.timestamp())
    if value < 0:
        raise bad_param(name, "must be a Unix timestamp or an ISO 8601 date")
    return value


def list_posts(
    ctx: AppContext, principal: ThreadsPrincipal, user: str, params: Params, url: str
) -> dict[str, Any]:
    principal.require()
    profile_id = _user(principal, user)
    fields = F.requested(params, F.MEDIA_FIELDS, F.MEDIA_NODE)
    page = read_page(params, newest_first=True)
    since, until = time_param(params, "since"), time_param(params, "until")
    if since is not None and since < EARLIEST_SINCE:
        raise bad_param("since", f"must be at least {EARLIEST_SINCE}")
    q = repo.profile_posts(profile_id, since=since, until=until, now=ctx.clock.now_s())
    with ctx.db.read() as s:
        return paged_list(ctx, s, principal.profile_id, params, url, q, page, fields)


def read_page(params: Params, *, newest_first: bool) -> rel.Page:
    """``limit`` and the ``before``/``after`` cursors of a list call (never both)."""
    raw_limit = text_param(params, "limit", max_chars=16)
    if raw_limit in (None, ""):
        limit = DEFAULT_LIST_LIMIT
    elif raw_limit.isascii() and raw_limit.isdigit() and 1 <= int(raw_limit) <= MAX_LIST_LIMIT:
        limit = int(raw_limit)
    else:
        raise bad_param("limit", f"must be an integer between 1 and {MAX_LIST_LIMIT}")
    after_raw, before_raw = (
        text_param(params, "after", max_chars=64),
        text_param(params, "before", max_chars=64),
    )
    if after_raw and before_raw:
        raise bad_param("before", "cannot be used together with after")
    after = before = None
    if after_raw:
        after = F.decode_cursor(after_raw)
        if after is None:
            raise bad_param("after", "is not a valid cursor")
    if before_raw:
        before = F.decode_cursor(before_raw)
        if before is None:
            raise bad_param("before", "is not a valid cursor")
    return rel.Page(limit=limit, newest_first=newest_first, after=after, before=before)


def paged_list(
    ctx: AppContext,
    s: Session,
    viewer_id: int,
    params: Params,
    url: str,
    q: Select[ThreadsPost],
    page: rel.Page,
    fields: list[str],
) -> dict[str, Any]:
    """One page of ``q`` as Graph answers a list: ``data`` and ``paging`` (cursors, next, previous)."""
    limit, after, before = page.limit, page.after, page.before
    rows = rel.paged(s, q, replace(page, limit=limit + 1))
    more = len(rows) > limit
    shown = (rows[-limit:] if more else rows) if before is not None else rows[:limit]
    mc = media_context(ctx, s, viewer_id, shown, fields)
    data = [F.media_node(p, fields, mc) for p in shown]
    return {"data": data, "paging": paging(url, params, [p.id for p in shown], more, after, before)}


def paging(
    url: str, params: Params, ids: list[int], more: bool, after: int | None, before: int | None
) -> dict[str, Any]:
    if not ids:
        return {"cursors": {}}
    cursors = {"before": F.encode_cursor(ids[0]), "after": F.encode_cursor(ids[-1])}
    out: dict[str, Any] = {"cursors": cursors}
    has_next = more if before is None else True
    has_previous = (after is not None) or (before is not None and more)
    if has_next:
        out["next"] = _page_url(url, params, "after", cursors["after"])
    if has_previous:
        out["previous"] = _page_url(url, params, "before", cursors["before"])
    return out


def _page_url(url: str, params: Params, key: str, cursor: str) -> str:
    from urllib.parse import urlencode

    keep = {
        k: v
        for k, v in params.items()
        if k in ("fields", "limit", "since", "until", "reverse", "access_token") and isinstance(v, str)
    }
    keep[key] = cursor
    return f"{url}?{urlencode(keep)}"


def publishing_limit(
    ctx: AppContext, principal: ThreadsPrincipal, user: str, params: Params
) -> dict[str, Any]:
    principal.require(PUBLISH)
    profile_id = _user(principal, user)
    fields = F.requested(params, F.LIMIT_FIELDS, F.LIMIT_NODE, default=("quota_usage",))
    if any(f.startswith("reply_") for f in fields):
        principal.require(PUBLISH, MANAGE_REPLIES)
    st = ctx.settings
    now = ctx.clock.now_s()
    with ctx.db.read() as s:
        used = {b: repo.quota_used(s, profile_id, b, now) for b in ("post", "reply", "delete")}
    window = repo.QUOTA_WINDOW
    values: dict[str, Any] = {
        "quota_usage": used["post"],
        "config": {"quota_total": st.threads_post_quota, "quota_duration": window},
        "reply_quota_usage": used["reply"],
        "reply_config": {"quota_total": st.threads_reply_quota, "quota_duration": window},
        "delete_quota_usage": used["delete"],
        "delete_config": {"quota_total": st.threads_delete_quota, "quota_duration": window},
    }
    return {"data": [{f: values[f] for f in fields}]}


# -------------------------------------------------------------------------------------------- delete


def delete_post(ctx: AppContext, principal: ThreadsPrincipal, node: str) -> dict[str, Any]:
    principal.require(DELETE)
    media_id = parse_graph_id(node)
    if media_id is None:
        raise no_object(node[:64])
    now = ctx.clock.now_s()
    with ctx.db.write() as s:
        repo.lock_profile(s, principal.profile_id)
        post = repo.live_post(s, media_id)
        if post is None or post.profile_id != principal.profile_id or post.parent_id is not None:
            raise no_object(node[:64])
        if repo.quota_used(s, principal.profile_id, "delete", now) >= ctx.settings.threads_delete_quota:
            raise user_limit()
        post.deleted_at = now
        for child in repo.child_posts(s, post.id):
            child.deleted_at = now
        # A repost is only a pointer: it goes with its original. Quotes keep their own text and stop
        # naming the original (quoted_post is omitted once the original is gone).
        for repost in rel.reposts_of(s, post.id):
            repost.deleted_at = now
        repo.count_quota(s, principal.profile_id, "delete", now)
        outbound.after_delete(s, post, now=now)
    return {"success": True, "deleted_id": str(media_id)}
