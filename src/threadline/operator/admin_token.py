"""The operator's bearer token: THREADLINE_ADMIN_TOKEN, or generated once and stored hashed."""

from __future__ import annotations

import os
from pathlib import Path

import structlog
from sqlalchemy.exc import IntegrityError

from threadline.context import AppContext
from threadline.kit.secrets import constant_time_equal, generate_key, hash_key
from threadline.operator import server_values
from threadline.store.models import ServerSecret

SECRET_NAME = "admin_token_hash"


def ensure_admin_token(ctx: AppContext) -> str | None:
    """Make sure an admin token exists; returns the plain token if it was generated just now."""
    if ctx.settings.admin_token:
        return None
    if server_values.read(ctx, SECRET_NAME) is not None:
        return None
    plain = generate_key("adm")
    try:
        with ctx.db.write() as s:
            s.add(ServerSecret(name=SECRET_NAME, value=hash_key(plain), created_at=ctx.clock.now_s()))
    except IntegrityError:
        return None  # another worker generated it first
    path = Path(ctx.settings.data_dir) / "admin-token"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(plain + "\n")
    # A fresh logger, not a module-level one: the server caches its loggers on first use, and the CLI
    # (whose log lines belong on stderr, away from --json output) must not inherit a cached one.
    structlog.get_logger("threadline").warning(
        "generated admin token (shown once)", admin_token=plain, path=str(path)
    )
    return plain


class AdminTokenBootstrap:
    """Start-up hook: generate (and write out) the admin token on the first start, never at build time."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    def start(self) -> None:
        ensure_admin_token(self.ctx)

    def stop(self) -> None:
        return None


def check_admin_token(ctx: AppContext, presented: str) -> bool:
    if ctx.settings.admin_token:
        return constant_time_equal(hash_key(presented), hash_key(ctx.settings.admin_token))
    cached = ctx.admin_token_hash
    if cached is None:
        cached = server_values.read(ctx, SECRET_NAME)
        if cached is None:
            return False
        ctx.admin_token_hash = cached
    return constant_time_equal(hash_key(presented), cached)
