"""The Threads part of the demo: a profile of the demo org and a long-lived token (idempotent), and a
second profile (``ada``) that follows it and is followed back, with a conversation: a poll post of
``acme`` open to the accounts it follows, ada's reply and acme's answer.

The token's plain text is kept in ``<data dir>/demo-threads.json`` (mode 0600) when minted; if that file
is lost or names another profile, a fresh token is minted (tokens are stored hashed).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from threadline.context import AppContext
from threadline.publishing import accounts
from threadline.publishing.auth import SCOPES
from threadline.publishing.schemas import ProfileCreate, TokenCreate
from threadline.store.models import ThreadsProfile

THREADS_FILE = "demo-threads.json"
USERNAME = "acme"
FRIEND = "ada"
DEMO_TEXT = "Launch day! Which colour should the next Acme runner come in? @ada"
DEMO_POLL = {"option_a": "Volt green", "option_b": "Midnight blue", "option_c": "Sunset orange"}


@dataclass(frozen=True)
class ThreadsDemo:
    profile_id: str
    username: str
    access_token: str
    post_id: str = ""


def seed_threads(ctx: AppContext, org_id: str) -> ThreadsDemo:
    with ctx.db.read() as s:
        profile = s.execute(
            select(ThreadsProfile).where(ThreadsProfile.username == USERNAME, ThreadsProfile.org_id == org_id)
        ).scalar()
    if profile is None:
        body = ProfileCreate(
            username=USERNAME, name="Acme Inc.", biography="Demo profile seeded by threadline."
        )
        profile_id = accounts.create_profile(ctx, org_id, body).id
    else:
        profile_id = str(profile.id)
    path = Path(ctx.settings.data_dir) / THREADS_FILE
    token = _read(path, profile_id)
    if token is None or not _valid(ctx, token):
        token = accounts.create_token(
            ctx, profile_id, TokenCreate.model_validate({"scopes": list(SCOPES), "lifetime": "long"})
        ).access_token
        _write(path, profile_id, token)
    post_id = seed_conversation(ctx, org_id, profile_id, token)
    return ThreadsDemo(profile_id=profile_id, username=USERNAME, access_token=token, post_id=post_id)


def seed_conversation(ctx: AppContext, org_id: str, profile_id: str, token: str) -> str:
    """The demo conversation (once): the two profiles follow each other, a poll post, two replies."""
    from threadline.publishing import follows, service
    from threadline.publishing.auth import resolve_token
    from threadline.store.models import ThreadsPost

    with ctx.db.read() as s:
        existing = s.execute(
            select(ThreadsPost.id).where(
                ThreadsPost.profile_id == int(profile_id),
                ThreadsPost.text == DEMO_TEXT,
                ThreadsPost.deleted_at.is_(None),
            )
        ).scalar()
        friend = s.execute(select(ThreadsProfile).where(ThreadsProfile.username == FRIEND)).scalar()
    if existing is not None:
        return str(existing)
    if friend is None:
        body = ProfileCreate(username=FRIEND, name="Ada Runner", biography="Runs on Acme shoes.")
        friend_id = accounts.create_profile(ctx, org_id, body).id
    else:
        friend_id = str(friend.id)
    follows.follow(ctx, profile_id, friend_id)
    follows.follow(ctx, friend_id, profile_id)
    friend_token = accounts.create_token(
        ctx, friend_id, TokenCreate.model_validate({"scopes": list(SCOPES), "lifetime": "short"})
    ).access_token
    acme, ada = resolve_token(ctx, token), resolve_token(ctx, friend_token)
    publish = {"media_type": "TEXT", "auto_publish_text": "true"}
    root = service.create_container(
        ctx,
        acme,
        "me",
        {
            **publish,
            "text": DEMO_TEXT,
            "poll_attachment": json.dumps(DEMO_POLL),
            "reply_control": "accounts_you_follow",
        },
    )
    reply = service.create_container(
        ctx, ada, "me", {**publish, "text": "Volt green, obviously.", "reply_to_id": root}
    )
    service.create_container(
        ctx, acme, "me", {**publish, "text": "@ada green it is. Vote on the page!", "reply_to_id": reply}
    )
    return root


def _valid(ctx: AppContext, token: str) -> bool:
    from threadline.publishing.auth import resolve_token
    from threadline.publishing.errors import GraphError

    try:
        resolve_token(ctx, token)
    except GraphError:
        return False
    return True


def _read(path: Path, profile_id: str) -> str | None:
    try:
        raw = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if (
        not isinstance(raw, dict)
        or raw.get("profile_id") != profile_id
        or not isinstance(raw.get("access_token"), str)
    ):
        return None
    return str(raw["access_token"])


def _write(path: Path, profile_id: str, token: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump({"profile_id": profile_id, "access_token": token}, fh, indent=2)
        fh.write("\n")
    os.replace(tmp, path)
