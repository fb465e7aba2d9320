"""Everything a request needs that lives as long as the server: built once by create_app."""

from __future__ import annotations

import os
import secrets as _secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from threadline.auth.keys import KeyCache
from threadline.config import Settings
from threadline.kit.clock import Clock
from threadline.kit.idempotency import IdempotencyStore
from threadline.kit.jobs import JobRegistry
from threadline.kit.ratelimit import RateLimiter
from threadline.store.db import Database


@dataclass
class AppContext:
    settings: Settings
    db: Database
    clock: Clock
    limiter: RateLimiter
    keys: KeyCache
    idempotency: IdempotencyStore
    secret_key: str
    # Slices hang their long-lived services here (payment provider, media storage, event writer, ...).
    services: dict[str, Any] = field(default_factory=dict)
    # Durable job handlers by kind (threadline.background registers every slice's).
    jobs: JobRegistry = field(default_factory=JobRegistry)


def load_or_create_secret(settings: Settings) -> str:
    """THREADLINE_SECRET_KEY, or one generated once and kept in the data dir (mode 0600)."""
    if settings.secret_key:
        return settings.secret_key
    path = Path(settings.data_dir) / "secret-key"
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = _secrets.token_urlsafe(32)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(value)
    try:
        os.link(tmp, path)  # first writer wins when several workers start at once
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    return path.read_text().strip()


def build_context(settings: Settings, clock: Clock | None = None) -> AppContext:
    Path(settings.data_dir).mkdir(parents=True, exist_ok=True)
    clock = clock or Clock()
    db = Database(settings.resolved_database_url)
    return AppContext(
        settings=settings,
        db=db,
        clock=clock,
        limiter=RateLimiter(settings.redis_url, enabled=settings.rate_limits_enabled),
        keys=KeyCache(settings.auth_cache_seconds),
        idempotency=IdempotencyStore(db, clock, settings.idempotency_lease_seconds),
        secret_key=load_or_create_secret(settings),
    )
