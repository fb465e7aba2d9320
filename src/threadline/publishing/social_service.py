"""The Graph operations between posts: replies, conversations, ``manage_reply`` and ``repost``."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from threadline.context import AppContext
from threadline.kit.ids import new_graph_id, parse_graph_id
from threadline.publishing import conversations as conv
from threadline.publishing import fields as F
from threadline.publishing import outbound, service
from threadline.publishing import relations as rel
from threadline.publishing import repository as repo
from threadline.publishing.auth import MANAGE_REPLIES, PUBLISH, READ_REPLIES, ThreadsPrincipal
from threadline.publishing.errors import bad_param, no_object, user_limit
from threadline.publishing.params import Params, bool_param
from threadline.store.models import ThreadsPost


def _reverse(params: Params) -> bool:
    """``reverse`` (default true): newest first; ``reverse=false`` reads oldest first."""
    value = bool_param(params, "reverse")
    return True if value is None else value


def _readable_post(s: Session, principal: ThreadsPrincipal, node: str) -> ThreadsPost:
    post_id = parse_graph_id(node)
    post = repo.live_post(s, post_id) if post_id is not None else None
    if (
        post is None
        or post.ghost_archived_at is not None
        or not conv.visible_to(s, principal.profile_id, post)
    ):
        raise no_object(node[:64])
    return post


def replies(
    ctx: AppContext, principal: ThreadsPrincipal, node: str, params: Params, url: str
) -> dict[str, Any]:
    """``GET /{media}/replies`` (direct replies) or, for ``me``/the token's profile, ``GET /{user}/replies``."""
    principal.require(READ_REPLIES)
    fields = F.requested(params, F.MEDIA_FIELDS, F.MEDIA_NODE)
    mine = node == "me" or parse_graph_id(node) == principal.profile_id
    page = service.read_page(params, newest_first=True if mine else _reverse(params))
    with ctx.db.read() as s:
        if mine:
            q = rel.profile_replies(principal.profile_id)
        else:
            q = rel.direct_replies(_readable_post(s, principal, node).id)
        return service.paged_list(ctx, s, principal.profile_id, params, url, q, page, fields)


def conversation(
    ctx: AppContext, principal: ThreadsPrincipal, node: str, params: Params, url: str
) -> dict[str, Any]:
    """``GET /{media}/conversation``: every reply below the post, flattened, newest first by default."""
    principal.require(READ_REPLIES)
    fields = F.requested(params, F.MEDIA_FIELDS, F.MEDIA_NODE)
    page = service.read_page(params, newest_first=_reverse(params))
    with ctx.db.read() as s:
        post = _readable_post(s, principal, node)
        q = rel.conversation(conv.root_of(post))
        if post.root_id is not None:
            # Below a reply: the subtree, found from the conversation's (id, parent) pairs in one query.
            below = conv.descendants(rel.conversation_ids(s, post.root_id), post.id)
            q = q.where(ThreadsPost.id.in_(below or [0]))
        return service.paged_list(ctx, s, principal.profile_id, params, url, q, page, fields)


def manage_reply(ctx: AppContext, principal: ThreadsPrincipal, node: str, params: Params) -> dict[str, Any]:
    """``POST /{reply}/manage_reply hide=true|false``: only the conversation's root author may."""
    principal.require(MANAGE_REPLIES)
    hide = bool_param(params, "hide")
    if hide is None:
        raise bad_param("hide", "is required (true or false)")
    reply_id = parse_graph_id(node)
    with ctx.db.write() as s:
        reply = repo.live_post(s, reply_id) if reply_id is not None else None
        if reply is None or reply.root_id is None or reply.ghost_archived_at is not None:
            raise no_object(node[:64])
        root = s.get(ThreadsPost, reply.root_id)
        if root is None or root.profile_id != principal.profile_id:
            raise no_object(node[:64])
        reply.hide_status = conv.HIDDEN if hide else conv.UNHUSHED
    return {"success": True}


def repost(ctx: AppContext, principal: ThreadsPrincipal, node: str) -> dict[str, Any]:
    """``POST /{media}/repost``: a REPOST_FACADE post of the token's profile (one per original)."""
    principal.require(PUBLISH)
    original_id = parse_graph_id(node)
    now_f = ctx.clock.now()
    now = int(now_f)
    with ctx.db.write() as s:
        profile = repo.lock_profile(s, principal.profile_id)
        original = repo.live_post(s, original_id) if original_id is not None and profile else None
        if original is not None and original.repost_of_id is not None:
            original = repo.live_post(s, original.repost_of_id)  # a repost of a repost names the original
        if original is None or original.parent_id is not None or original.ghost_archived_at is not None:
            raise no_object(node[:64])
        if original.ghost_expires_at is not None:
            raise bad_param("id", "names a ghost post, which cannot be reposted")
        existing = rel.repost_by(s, principal.profile_id, original.id)
        if existing is not None:
            return {"id": str(existing.id)}
        if repo.quota_used(s, principal.profile_id, "post", now) >= ctx.settings.threads_post_quota:
            raise user_limit()
        media_id = new_graph_id(now_f)
        facade = ThreadsPost(
            id=media_id,
            profile_id=principal.profile_id,
            # A repost has no container; its own id keeps the one-post-per-container key unique.
            container_id=media_id,
            media_type=conv.REPOST,
            text="",
            shortcode=F.shortcode(media_id),
            attrs={},
            repost_of_id=original.id,
            created_at=now,
        )
        s.add(facade)
        repo.count_quota(s, principal.profile_id, "post", now)
        s.flush()
        outbound.after_repost(s, facade, now=now)
    return {"id": str(media_id)}
