"""Webhooks in Meta's model: apps subscribe a verified callback to ``replies`` and ``mentions``; every
notification is a delivery row plus a durable job that POSTs it, signed, through the SSRF-safe fetcher.

Signing: Meta signs with the app secret (``X-Hub-Signature-256: sha256=<HMAC-SHA256 of the body>``). The
secret is stored hashed (to check it) and, since 0011, Fernet-encrypted under the server secret (to sign
with it); apps created before 0011 have no encrypted copy and cannot subscribe until their secret is
reissued (a new app). Who is notified: the apps holding a live token of the profile the event is about
(the "install user") — the root post's author for ``replies`` (the token must carry
``threads_read_replies``, as Meta requires), each ``@mentioned`` profile of this server for ``mentions``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
from typing import Any
from urllib.parse import urlencode, urlsplit

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from threadline.context import AppContext
from threadline.kit import crypto
from threadline.kit.errors import ApiError, not_found
from threadline.kit.http_fetch import FetchError
from threadline.kit.ids import new_graph_id, parse_graph_id
from threadline.kit.jobs import Job, JobRegistry, RetryJob, enqueue, exponential_backoff
from threadline.kit.pagination import PageParams, keyset_page
from threadline.operator.schemas import Page
from threadline.publishing import fields as F
from threadline.publishing import outbound_http
from threadline.publishing import repository as repo
from threadline.publishing.accounts import app_row, app_secret
from threadline.publishing.auth import READ_REPLIES
from threadline.publishing.mentions import mentioned_usernames
from threadline.publishing.outbound_schemas import (
    DeliveryOut,
    SubscriptionCreate,
    SubscriptionList,
    SubscriptionOut,
)
from threadline.store.models import (
    ThreadsApp,
    ThreadsPost,
    ThreadsProfile,
    ThreadsToken,
    ThreadsWebhookDelivery,
    ThreadsWebhookSubscription,
)

log = logging.getLogger("threadline.publishing.webhooks")

DELIVER = "publishing.webhook_delivery"
VERIFY_TOKEN_PURPOSE = "threadline/threads-webhooks/verify-token"
TOPIC = {"replies": "moderate", "mentions": "interaction"}
# The job table's own ceiling; the handler gives up after settings.webhook_max_attempts first (the
# enqueueing transaction has no settings at hand, the handler does).
JOB_ATTEMPTS_CEILING = 1000
SIGNATURE_HEADER = "X-Hub-Signature-256"


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


# ------------------------------------------------------------------------------------ subscriptions


def _app(s: Session, client_id: str) -> ThreadsApp:
    return app_row(s, client_id, "client_id")


def _sub_out(sub: ThreadsWebhookSubscription) -> SubscriptionOut:
    return SubscriptionOut(
        id=str(sub.id),
        client_id=str(sub.app_id),
        callback_url=sub.callback_url,
        fields=list(sub.fields),  # type: ignore[arg-type]
        active=True,
        created_at=sub.created_at,
    )


def _with_query(url: str, params: dict[str, str]) -> str:
    sep = "&" if urlsplit(url).query else "?"
    return f"{url}{sep}{urlencode(params)}"


def verify_callback(ctx: AppContext, callback_url: str, verify_token: str) -> None:
    """Meta's verification request: the callback must answer 2xx with exactly the challenge."""
    challenge = str(secrets.randbelow(10**9))
    url = _with_query(
        callback_url, {"hub.mode": "subscribe", "hub.challenge": challenge, "hub.verify_token": verify_token}
    )
    policy = outbound_http.policy(
        ctx.settings, timeout=ctx.settings.webhook_timeout_seconds, subject="callback_url"
    )
    try:
        result = outbound_http.request("GET", url, policy)
    except FetchError as exc:
        raise ApiError(
            400, "verification_failed", f"The callback could not be verified: {exc.message}", "callback_url"
        ) from None
    if not 200 <= result.status < 300:
        raise ApiError(
            400,
            "verification_failed",
            f"The callback answered the verification request with HTTP {result.status}.",
            "callback_url",
        )
    if result.body.decode("utf-8", "replace").strip() != challenge:
        raise ApiError(
            400,
            "verification_failed",
            "The callback did not echo hub.challenge (check the verify token it expects).",
            "callback_url",
        )


def create_subscription(ctx: AppContext, client_id: str, body: SubscriptionCreate) -> SubscriptionOut:
    with ctx.db.read() as s:
        app = _app(s, client_id)
        if app.secret_encrypted is None:
            raise ApiError(
                409,
                "app_secret_unavailable",
                "This app was created before webhooks existed and its secret is only stored hashed, so "
                "deliveries could not be signed; create a new app for webhooks.",
                "client_id",
            )
    verify_callback(ctx, body.callback_url, body.verify_token)
    try:
        with ctx.db.write() as s:
            _app(s, client_id)  # deleted meanwhile: 404, never an orphan subscription
            sub = ThreadsWebhookSubscription(
                id=new_graph_id(ctx.clock.now()),
                app_id=app.id,
                callback_url=body.callback_url,
                verify_token_encrypted=crypto.encrypt(
                    ctx.secret_key, VERIFY_TOKEN_PURPOSE, body.verify_token
                ),
                fields=sorted(set(body.fields)),
                created_at=ctx.clock.now_s(),
            )
            s.add(sub)
            s.flush()
    except IntegrityError:
        raise ApiError(
            409,
            "subscription_exists",
            "This app already has a subscription for that callback URL.",
            "callback_url",
        ) from None
    return _sub_out(sub)


def list_subscriptions(ctx: AppContext, client_id: str) -> SubscriptionList:
    with ctx.db.read() as s:
        app = _app(s, client_id)
        rows = s.execute(
            select(ThreadsWebhookSubscription)
            .where(ThreadsWebhookSubscription.app_id == app.id)
            .order_by(ThreadsWebhookSubscription.id)
        ).scalars()
        return SubscriptionList(data=[_sub_out(r) for r in rows])


def delete_subscription(ctx: AppContext, client_id: str, subscription_id: str) -> None:
    sid = parse_graph_id(subscription_id)
    with ctx.db.write() as s:
        app = _app(s, client_id)
        sub = s.get(ThreadsWebhookSubscription, sid) if sid is not None else None
        if sub is None or sub.app_id != app.id:
            raise not_found("subscription", "subscription_id")
        s.delete(sub)


def _delivery_out(d: ThreadsWebhookDelivery) -> DeliveryOut:
    return DeliveryOut(
        id=str(d.id),
        subscription_id=str(d.subscription_id),
        field=d.field,  # type: ignore[arg-type]
        media_id=str(d.media_id),
        target_id=str(d.target_id),
        status=d.status,  # type: ignore[arg-type]
        attempts=d.attempts,
        last_status_code=d.last_status_code,
        last_error=d.last_error,
        created_at=d.created_at,
        updated_at=d.updated_at,
        delivered_at=d.delivered_at,
        payload=json.loads(d.body) if d.body else None,
    )


def list_deliveries(
    ctx: AppContext, client_id: str, status: str | None, params: PageParams
) -> Page[DeliveryOut]:
    with ctx.db.read() as s:
        app = _app(s, client_id)
        stmt = select(ThreadsWebhookDelivery).where(ThreadsWebhookDelivery.app_id == app.id)
        if status is not None:
            stmt = stmt.where(ThreadsWebhookDelivery.status == status)
        page = keyset_page(
            s, stmt, seq=ThreadsWebhookDelivery.id, id_=ThreadsWebhookDelivery.id, params=params
        )
        data = [_delivery_out(d) for d in page.items]
    return Page[DeliveryOut](
        data=data,
        count=len(data),
        first_id=data[0].id if data else None,
        last_id=data[-1].id if data else None,
        has_more=page.has_more,
    )


# ------------------------------------------------------------------------------------------- fan-out


def _apps_by_profile(s: Session, profile_ids: set[int], now: int) -> dict[int, dict[int, set[str]]]:
    """For each profile, the apps holding a live token of it and the scopes those tokens carry."""
    rows = s.execute(
        select(ThreadsToken.profile_id, ThreadsToken.app_id, ThreadsToken.scopes).where(
            ThreadsToken.profile_id.in_(profile_ids),
            ThreadsToken.app_id.is_not(None),
            ThreadsToken.revoked_at.is_(None),
            ThreadsToken.expires_at > now,
        )
    ).all()
    apps: dict[int, dict[int, set[str]]] = {}
    for profile_id, app_id, scopes in rows:
        if app_id is not None:
            apps.setdefault(int(profile_id), {}).setdefault(int(app_id), set()).update(scopes or [])
    return apps


def enqueue_for_post(s: Session, post: ThreadsPost, *, now: int) -> int:
    """Deliveries (rows + jobs, in the publish transaction) for a newly published post; how many.

    At most four reads whatever the number of mentions: the root, the mentioned profiles, their apps'
    tokens, those apps' subscriptions."""
    targets: list[tuple[int, str]] = []
    if post.reply_to_id is not None:
        root = s.get(ThreadsPost, post.root_id or post.reply_to_id)
        if root is not None:
            targets.append((root.profile_id, "replies"))
    names = mentioned_usernames(post.text)
    if names:
        mentioned = s.execute(
            select(ThreadsProfile.id)
            .where(ThreadsProfile.username.in_(names), ThreadsProfile.id != post.profile_id)
            .order_by(ThreadsProfile.id)
        ).scalars()
        targets.extend((int(pid), "mentions") for pid in mentioned)
    if not targets:
        return 0
    apps = _apps_by_profile(s, {profile_id for profile_id, _ in targets}, now)
    app_ids = {app_id for by_app in apps.values() for app_id in by_app}
    if not app_ids:
        return 0
    subs_by_app: dict[int, list[ThreadsWebhookSubscription]] = {}
    for sub in s.execute(
        select(ThreadsWebhookSubscription)
        .where(ThreadsWebhookSubscription.app_id.in_(app_ids))
        .order_by(ThreadsWebhookSubscription.id)
    ).scalars():
        subs_by_app.setdefault(sub.app_id, []).append(sub)
    deliveries: list[ThreadsWebhookDelivery] = []
    for profile_id, field in targets:
        for app_id, scopes in apps.get(profile_id, {}).items():
            if field == "replies" and READ_REPLIES not in scopes:
                continue  # Meta notifies replies only to apps that may read them
            deliveries.extend(
                ThreadsWebhookDelivery(
                    subscription_id=sub.id,
                    app_id=sub.app_id,
                    field=field,
                    media_id=post.id,
                    target_id=profile_id,
                    status="pending",
                    attempts=0,
                    created_at=now,
                    updated_at=now,
                )
                for sub in subs_by_app.get(app_id, [])
                if field in sub.fields
            )
    if deliveries:
        s.add_all(deliveries)
        s.flush()  # one INSERT round for the fan-out; the jobs need the rows' ids
        for delivery in deliveries:
            enqueue(s, DELIVER, {"delivery_id": delivery.id}, now=now, max_attempts=JOB_ATTEMPTS_CEILING)
    return len(deliveries)


# ------------------------------------------------------------------------------------------ delivery


def render_value(ctx: AppContext, s: Session, post: ThreadsPost, field: str) -> dict[str, Any]:
    """The media object of the notification, in the fields Meta's examples carry."""
    profile_ids = {post.profile_id}
    root: ThreadsPost | None = None
    if field == "replies":
        root = s.get(ThreadsPost, post.root_id or post.reply_to_id or post.id)
        if root is not None:
            profile_ids.add(root.profile_id)
    mc = F.MediaContext(
        public_base_url=ctx.settings.public_base_url,
        viewer_profile_id=0,
        usernames=repo.usernames(s, profile_ids),
        with_replies=frozenset(),
    )
    if field == "replies":
        value = F.media_node(
            post,
            ["id", "username", "text", "media_type", "permalink", "replied_to", "shortcode", "timestamp"],
            mc,
        )
        if root is not None:
            value["root_post"] = {
                "id": str(root.id),
                "owner_id": str(root.profile_id),
                "username": mc.usernames.get(root.profile_id, ""),
            }
        return value
    return F.media_node(
        post,
        [
            "id",
            "username",
            "text",
            "media_type",
            "permalink",
            "shortcode",
            "timestamp",
            "alt_text",
            "gif_url",
            "is_quote_post",
            "has_replies",
            "is_reply",
            "root_post",
            "replied_to",
            "media_url",
        ],
        mc,
    )


def _fail(ctx: AppContext, delivery_id: int, reason: str) -> None:
    with ctx.db.write() as s:
        row = s.get(ThreadsWebhookDelivery, delivery_id)
        if row is not None and row.status == "pending":
            row.status, row.last_error, row.updated_at = "failed", reason, ctx.clock.now_s()


def _body(ctx: AppContext, delivery_id: int) -> tuple[str, str, str] | None:
    """(body, callback URL, app secret): the stored body, or a new rendering on the first attempt.

    A read: the body is stored with the attempt's outcome, so a delivery costs one write transaction
    (a crash in between re-renders it, which at-least-once delivery allows).
    """
    with ctx.db.read() as s:
        d = s.get(ThreadsWebhookDelivery, delivery_id)
        if d is None or d.status != "pending":
            return None
        sub = s.get(ThreadsWebhookSubscription, d.subscription_id)
        app = s.get(ThreadsApp, d.app_id)
        post = s.get(ThreadsPost, d.media_id)
        secret = app_secret(ctx, app) if app is not None else None
        if sub is None or post is None or secret is None:
            reason = "the subscription was deleted" if sub is None else "nothing to deliver or sign with"
        elif d.body is not None:
            return d.body, sub.callback_url, secret
        else:
            payload = {
                "app_id": str(d.app_id),
                "topic": TOPIC[d.field],
                "target_id": str(d.target_id),
                "time": ctx.clock.now_s(),
                "subscription_id": str(sub.id),
                "has_uid_field": False,
                "values": {"value": render_value(ctx, s, post, d.field), "field": d.field},
            }
            return json.dumps(payload, separators=(",", ":"), ensure_ascii=False), sub.callback_url, secret
    _fail(ctx, delivery_id, reason)
    return None


def deliver(ctx: AppContext, delivery_id: int, attempt: int) -> None:
    found = _body(ctx, delivery_id)
    if found is None:
        return
    body, url, secret = found
    raw = body.encode()
    policy = outbound_http.policy(
        ctx.settings, timeout=ctx.settings.webhook_timeout_seconds, subject="callback_url"
    )
    status: int | None = None
    error: str | None = None
    try:
        result = outbound_http.request("POST", url, policy, raw, [(SIGNATURE_HEADER, sign(secret, raw))])
        status = result.status
        if not 200 <= status < 300:
            error = f"the callback answered HTTP {status}"
    except FetchError as exc:
        error = exc.message
    st = ctx.settings
    give_up = error is not None and attempt >= st.webhook_max_attempts
    now = ctx.clock.now_s()
    with ctx.db.write() as s:
        row = s.get(ThreadsWebhookDelivery, delivery_id)
        if row is None or row.status != "pending":
            return
        if row.body is None:
            row.body = body  # every later retry sends these same bytes
        row.attempts = attempt
        row.last_status_code = status
        row.last_error = error[:500] if error else None
        row.updated_at = now
        if error is None:
            row.status, row.delivered_at = "delivered", now
        elif give_up:
            row.status = "failed"
    if error is not None and not give_up:
        delay = exponential_backoff(
            attempt, base_seconds=st.webhook_retry_base_seconds, max_seconds=st.webhook_retry_max_seconds
        )
        raise RetryJob(delay, error)


def register_jobs(registry: JobRegistry, ctx: AppContext) -> None:
    def handle(job: Job) -> None:
        deliver(ctx, int(job.payload["delivery_id"]), job.attempt)

    registry.register(DELIVER, handle)
