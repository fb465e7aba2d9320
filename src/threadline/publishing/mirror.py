"""Mirroring a profile to an upstream Threads account: links (operator), mirror jobs, token refresh.

One local post → at most one upstream post, across retries, lost leases and restarts:
- a post's mirror is one durable job (unique per post) and one ``threads_mirrors`` row;
- every upstream id is committed before the step that depends on it: each carousel child container as
  it is created, then the parent container, and only then ``threads_publish``;
- a re-run never creates a second container once one is recorded; it asks the recorded container's
  status and publishes it (Threads' publish of a published container answers the same media id).
A crash between an upstream create and our commit leaves at most an unpublished container upstream,
which expires there after 24 h; never a post.

Relations travel as upstream ids: a reply answers its parent's copy (``reply_to_id``), a quote quotes the
quoted post's copy (``quote_post_id``; without a copy it goes up as a plain post, noted in ``error``),
and a repost (REPOST_FACADE) is ``POST /{copy}/repost``. The original's copy is recorded in
``upstream_container_id`` before that call; a re-run repeats it, which answers the same repost (a
second repost of one post by one user is the first one).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from threadline.context import AppContext
from threadline.kit import crypto
from threadline.kit.errors import invalid, not_found
from threadline.kit.ids import parse_graph_id
from threadline.kit.jobs import Job, JobRegistry, RetryJob, enqueue, exponential_backoff
from threadline.publishing import fields as F
from threadline.publishing import repository as repo
from threadline.publishing.accounts import LONG_LIVED_SECONDS, profile_row
from threadline.publishing.outbound_schemas import MirrorOut, UpstreamLink, UpstreamOut
from threadline.publishing.upstream_client import ThreadsUpstream, UpstreamError
from threadline.store.models import ThreadsMirror, ThreadsPost, ThreadsUpstreamLink

log = logging.getLogger("threadline.publishing.mirror")

MIRROR = "publishing.mirror_post"
MIRROR_DELETE = "publishing.mirror_delete"
REFRESH = "publishing.mirror_token_refresh"
TOKEN_PURPOSE = "threadline/threads-upstream/access-token"
REFRESH_EVERY_SECONDS = 3600
JOB_ATTEMPTS_CEILING = 1000  # the handler gives up after settings.mirror_max_attempts first
# Container options forwarded as they are; the JSON-valued ones travel JSON-encoded, as Graph wants.
_PLAIN_OPTIONS = ("alt_text", "reply_control", "topic_tag", "link_attachment_url")
_JSON_OPTIONS = ("poll_attachment", "text_entities", "text_attachment", "gif_attachment")
_FLAG_OPTIONS = ("is_spoiler_media", "is_ghost_post")
QUOTE_DROPPED = "published without its quote: the quoted post has no upstream copy"


# ------------------------------------------------------------------------------------------- links


def _link_out(link: ThreadsUpstreamLink) -> UpstreamOut:
    return UpstreamOut(
        profile_id=str(link.profile_id),
        base_url=link.base_url,
        user_id=link.user_id,
        token_expires_at=link.token_expires_at,
        token_refreshed_at=link.token_refreshed_at,
        created_at=link.created_at,
        updated_at=link.updated_at,
    )


def link_upstream(ctx: AppContext, profile_id: str, body: UpstreamLink) -> UpstreamOut:
    parts = urlsplit(body.base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username or parts.query:
        raise invalid("base_url must be an http(s) URL such as https://graph.threads.net/v1.0", "base_url")
    now = ctx.clock.now_s()
    with ctx.db.write() as s:
        profile = profile_row(s, profile_id)
        link = s.get(ThreadsUpstreamLink, profile.id)
        if link is None:
            link = ThreadsUpstreamLink(profile_id=profile.id, created_at=now)
            s.add(link)
        link.base_url = body.base_url.rstrip("/")
        link.user_id = body.user_id
        link.token_encrypted = crypto.encrypt(ctx.secret_key, TOKEN_PURPOSE, body.access_token)
        link.token_expires_at = body.token_expires_at or now + LONG_LIVED_SECONDS
        link.token_refreshed_at = None
        link.updated_at = now
        s.flush()
        return _link_out(link)


def get_upstream(ctx: AppContext, profile_id: str) -> UpstreamOut:
    with ctx.db.read() as s:
        link = s.get(ThreadsUpstreamLink, profile_row(s, profile_id).id)
        if link is None:
            raise not_found("upstream link")
        return _link_out(link)


def unlink_upstream(ctx: AppContext, profile_id: str) -> None:
    with ctx.db.write() as s:
        link = s.get(ThreadsUpstreamLink, profile_row(s, profile_id).id)
        if link is None:
            raise not_found("upstream link")
        s.delete(link)


def get_mirror(ctx: AppContext, media_id: str) -> MirrorOut:
    mid = parse_graph_id(media_id)
    with ctx.db.read() as s:
        row = s.get(ThreadsMirror, mid) if mid is not None else None
        if row is None:
            raise not_found("mirror", "media_id")
        return MirrorOut(
            media_id=str(row.post_id),
            status=row.status,  # type: ignore[arg-type]
            upstream_media_id=row.upstream_media_id,
            error=row.error,
            attempts=row.attempts,
        )


# ------------------------------------------------------------------------------------ publish hooks


def enqueue_for_post(s: Session, post: ThreadsPost, *, now: int) -> bool:
    """A mirror row and job for a newly published post of a linked profile (in the publish transaction).

    Replies and reposts are mirrored only when the post they answer or repost is mirrored (upstream they
    answer or repost its copy).
    """
    if post.parent_id is not None or s.get(ThreadsUpstreamLink, post.profile_id) is None:
        return False
    for needed in (post.reply_to_id, post.repost_of_id):
        if needed is not None and s.get(ThreadsMirror, needed) is None:
            return False
    s.add(
        ThreadsMirror(
            post_id=post.id,
            profile_id=post.profile_id,
            status="pending",
            upstream_children=[],
            attempts=0,
            created_at=now,
            updated_at=now,
        )
    )
    enqueue(
        s,
        MIRROR,
        {"post_id": post.id},
        now=now,
        max_attempts=JOB_ATTEMPTS_CEILING,
        unique_key=f"{MIRROR}:{post.id}",
    )
    return True


def enqueue_delete(s: Session, post: ThreadsPost, *, now: int) -> bool:
    if s.get(ThreadsMirror, post.id) is None:
        return False
    enqueue(
        s,
        MIRROR_DELETE,
        {"post_id": post.id},
        now=now,
        max_attempts=JOB_ATTEMPTS_CEILING,
        unique_key=f"{MIRROR_DELETE}:{post.id}",
    )
    return True


# ---------------------------------------------------------------------------------------- the jobs


@dataclass
class _State:
    mirror: ThreadsMirror
    post: ThreadsPost
    children: list[ThreadsPost]
    link: ThreadsUpstreamLink | None
    parent: _Copy
    quoted: _Copy
    original: _Copy


@dataclass(frozen=True)
class _Copy:
    """What a related post's mirror has reached: its upstream id and status (both None when unmirrored)."""

    upstream_media_id: str | None = None
    status: str | None = None


def _copy_of(s: Session, post_id: int | None) -> _Copy:
    row = s.get(ThreadsMirror, post_id) if post_id is not None else None
    return _Copy(row.upstream_media_id, row.status) if row is not None else _Copy()


def _load(ctx: AppContext, post_id: int) -> _State | None:
    with ctx.db.read() as s:
        mirror = s.get(ThreadsMirror, post_id)
        post = s.get(ThreadsPost, post_id)
        if mirror is None or post is None:
            return None
        state = _State(
            mirror=mirror,
            post=post,
            children=repo.child_posts(s, post.id) if post.media_type == "CAROUSEL_ALBUM" else [],
            link=s.get(ThreadsUpstreamLink, mirror.profile_id),
            parent=_copy_of(s, post.reply_to_id),
            quoted=_copy_of(s, post.quote_post_id),
            original=_copy_of(s, post.repost_of_id),
        )
        s.expunge_all()
        return state


def _update(ctx: AppContext, post_id: int, **values: Any) -> None:
    with ctx.db.write() as s:
        row = s.get(ThreadsMirror, post_id)
        if row is None:
            return
        for key, value in values.items():
            setattr(row, key, value)
        row.updated_at = ctx.clock.now_s()


def _client(ctx: AppContext, link: ThreadsUpstreamLink) -> ThreadsUpstream:
    """A client with a usable token, refreshing it first when it is within the margin of expiry."""
    token = crypto.decrypt(ctx.secret_key, TOKEN_PURPOSE, link.token_encrypted)
    if token is None:
        raise UpstreamError(
            "the stored upstream token cannot be decrypted (server secret changed?)", transient=False
        )
    client = ThreadsUpstream.from_settings(ctx.settings, link.base_url, token)
    now = ctx.clock.now_s()
    if link.token_expires_at - now <= ctx.settings.mirror_token_refresh_margin_seconds:
        refresh(ctx, link.profile_id, client)
    return client


def refresh(ctx: AppContext, profile_id: int, client: ThreadsUpstream) -> None:
    """Swap the link's token for a refreshed one (the client then uses it)."""
    try:
        grant = client.refresh_token()
    except UpstreamError as exc:
        # Too young to refresh (< 24 h) or a passing failure: the current token still works until it
        # expires, so only an expired one stops the mirror.
        with ctx.db.read() as s:
            link = s.get(ThreadsUpstreamLink, profile_id)
            expired = link is None or link.token_expires_at <= ctx.clock.now_s()
        if expired:
            raise UpstreamError(
                f"the upstream token expired and could not be refreshed: {exc.message}",
                code=190,
                transient=False,
            ) from None
        log.warning("upstream token refresh failed for profile %s: %s", profile_id, exc.message)
        return
    now = ctx.clock.now_s()
    with ctx.db.write() as s:
        link = s.get(ThreadsUpstreamLink, profile_id)
        if link is not None:
            link.token_encrypted = crypto.encrypt(ctx.secret_key, TOKEN_PURPOSE, grant.access_token)
            link.token_expires_at = now + grant.expires_in
            link.token_refreshed_at = now
            link.updated_at = now
    client.access_token = grant.access_token


def _params(ctx: AppContext, post: ThreadsPost) -> dict[str, str]:
    a = post.attrs
    media_type = {"TEXT_POST": "TEXT", "CAROUSEL_ALBUM": "CAROUSEL"}.get(post.media_type, post.media_type)
    out: dict[str, str] = {"media_type": media_type}
    if post.text:
        out["text"] = post.text
    url = F.media_url(ctx.settings.public_base_url, a.get("media_file_id"))
    if media_type == "IMAGE" and url:
        out["image_url"] = url
    if media_type == "VIDEO" and url:
        out["video_url"] = url
    for key in _PLAIN_OPTIONS:
        if a.get(key):
            out["link_attachment" if key == "link_attachment_url" else key] = str(a[key])
    for key in _JSON_OPTIONS:
        if a.get(key):
            out[key] = json.dumps(a[key])
    for key in _FLAG_OPTIONS:
        if a.get(key):
            out[key] = "true"
    return out


def _backoff(ctx: AppContext, attempt: int) -> int:
    st = ctx.settings
    return exponential_backoff(
        attempt, base_seconds=st.mirror_retry_base_seconds, max_seconds=st.mirror_retry_max_seconds
    )


def mirror_post(ctx: AppContext, post_id: int, attempt: int) -> None:
    state = _load(ctx, post_id)
    if state is None or state.mirror.status in ("published", "deleted"):
        return
    _update(ctx, post_id, attempts=attempt)
    if state.link is None:
        _update(ctx, post_id, status="failed", error="the profile is no longer linked to an upstream account")
        return
    try:
        client = _client(ctx, state.link)
        if state.post.deleted_at is not None:
            _settle_deleted(ctx, client, post_id)
            return
        _mirror_steps(ctx, client, state, attempt)
    except UpstreamError as exc:
        if exc.transient and attempt < ctx.settings.mirror_max_attempts:
            _update(ctx, post_id, error=exc.message[:500])
            raise RetryJob(_backoff(ctx, attempt), exc.message) from None
        _update(ctx, post_id, status="failed", error=exc.message[:500])


def _required_copy(copy: _Copy, what: str) -> str:
    if copy.upstream_media_id is None:
        if copy.status == "pending":
            raise UpstreamError(f"waiting for the {what} post's mirror", transient=True)
        raise UpstreamError(f"the {what} post was not mirrored", transient=False)
    return copy.upstream_media_id


def _mirror_repost(ctx: AppContext, client: ThreadsUpstream, state: _State) -> None:
    original = state.mirror.upstream_container_id
    if original is None:
        original = _required_copy(state.original, "reposted")
        _update(ctx, state.post.id, upstream_container_id=original)  # recorded before the call
    media_id = client.repost(original)
    _update(ctx, state.post.id, status="published", upstream_media_id=media_id, error=None)


def _mirror_steps(ctx: AppContext, client: ThreadsUpstream, state: _State, attempt: int) -> None:
    link, post, mirror = state.link, state.post, state.mirror
    assert link is not None
    if post.repost_of_id is not None:
        _mirror_repost(ctx, client, state)
        return
    user = link.user_id
    container = mirror.upstream_container_id
    note: str | None = None
    if container is None:
        params = _params(ctx, post)
        if post.reply_to_id is not None:
            params["reply_to_id"] = _required_copy(state.parent, "replied-to")
        if post.quote_post_id is not None:
            if state.quoted.upstream_media_id is not None:
                params["quote_post_id"] = state.quoted.upstream_media_id
            elif state.quoted.status == "pending":
                raise UpstreamError("waiting for the quoted post's mirror", transient=True)
            else:
                note = QUOTE_DROPPED
        if state.children:
            kids = list(mirror.upstream_children)
            for child in state.children[len(kids) :]:
                child_params = {**_params(ctx, child), "is_carousel_item": "true"}
                kids.append(client.create_container(user, child_params))
                _update(ctx, post.id, upstream_children=list(kids))  # recorded one by one
            params["children"] = ",".join(kids)
        container = client.create_container(user, params)
        _update(ctx, post.id, upstream_container_id=container, error=note)
    status, error_message = client.container_status(container)
    if status == "IN_PROGRESS":
        raise UpstreamError(f"upstream container {container} is still IN_PROGRESS", transient=True)
    if status == "EXPIRED":
        # Never published (an expired container cannot be): a fresh one cannot make a duplicate.
        _update(ctx, post.id, upstream_container_id=None, upstream_children=[])
        raise UpstreamError(f"upstream container {container} expired; creating a new one", transient=True)
    if status == "ERROR":
        raise UpstreamError(
            f"upstream container {container} failed: {error_message or 'ERROR'}", transient=False
        )
    media_id = client.publish(user, container)
    # A re-run past the container step knows the quote was dropped from the quoted post lacking a copy.
    dropped = note is not None or (post.quote_post_id is not None and state.quoted.upstream_media_id is None)
    kept = QUOTE_DROPPED if dropped else None
    _update(ctx, post.id, status="published", upstream_media_id=media_id, error=kept)


def _settle_deleted(ctx: AppContext, client: ThreadsUpstream, post_id: int) -> None:
    """The local post is gone: remove its upstream copy, whatever step the mirror had reached."""
    with ctx.db.read() as s:
        row = s.get(ThreadsMirror, post_id)
        if row is None:
            return
        link = s.get(ThreadsUpstreamLink, row.profile_id)
        user_id = link.user_id if link is not None else None
        media_id, container = row.upstream_media_id, row.upstream_container_id
        is_repost = (post := s.get(ThreadsPost, post_id)) is not None and post.repost_of_id is not None
    if media_id is None and container is not None and is_repost:
        media_id = client.repost(container)  # a run reposted but died before recording: learn the id
    elif media_id is None and container is not None and user_id is not None:
        status, _ = client.container_status(container)
        if status == "PUBLISHED":  # a run published it but died before recording: learn the id
            media_id = client.publish(user_id, container)
    if media_id is not None:
        try:
            client.delete(media_id)
        except UpstreamError as exc:
            if not exc.unknown_object:  # already gone upstream is what we want
                raise
    _update(ctx, post_id, status="deleted", upstream_media_id=media_id, error=None)


def mirror_delete(ctx: AppContext, post_id: int, attempt: int) -> None:
    state = _load(ctx, post_id)
    if state is None or state.mirror.status == "deleted":
        return
    if state.mirror.status == "pending":
        # The mirror job is still running: it sees the deletion itself, or publishes and we follow.
        raise RetryJob(_backoff(ctx, attempt), "waiting for the mirror job to settle")
    if state.link is None:
        _update(ctx, post_id, status="deleted", error="unlinked: the upstream copy was left in place")
        return
    try:
        _settle_deleted(ctx, _client(ctx, state.link), post_id)
    except UpstreamError as exc:
        if exc.transient and attempt < ctx.settings.mirror_max_attempts:
            raise RetryJob(_backoff(ctx, attempt), exc.message) from None
        _update(ctx, post_id, error=f"deleting upstream failed: {exc.message}"[:500])


def refresh_due_tokens(ctx: AppContext) -> int:
    """Refresh every link whose token is within the margin of its expiry; how many were tried."""
    horizon = ctx.clock.now_s() + ctx.settings.mirror_token_refresh_margin_seconds
    with ctx.db.read() as s:
        links = list(
            s.execute(
                select(ThreadsUpstreamLink).where(ThreadsUpstreamLink.token_expires_at <= horizon)
            ).scalars()
        )
        s.expunge_all()
    for link in links:
        try:
            _client(ctx, link)
        except UpstreamError as exc:
            log.warning("upstream token of profile %s: %s", link.profile_id, exc.message)
    return len(links)


def register_jobs(registry: JobRegistry, ctx: AppContext) -> None:
    registry.register(MIRROR, lambda job: mirror_post(ctx, int(job.payload["post_id"]), job.attempt))
    registry.register(MIRROR_DELETE, lambda job: mirror_delete(ctx, int(job.payload["post_id"]), job.attempt))

    def refresh_job(_job: Job) -> None:
        refresh_due_tokens(ctx)

    registry.every(REFRESH, REFRESH_EVERY_SECONDS, refresh_job)
