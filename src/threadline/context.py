"""The service container: everything that lives as long as the server, built in one place.

``build_context`` is the only constructor; the app (create_app), the CLI and the tests all use it, so
they get the same services. Building has no side effects: no file is written and no thread starts.
Long-lived components (the events writer, the serving index refresher, the semantic model, job workers,
the SQLite checkpointer)
are registered on ``ctx.components`` and run between ``ctx.start()`` and ``ctx.stop()`` — the app calls
them from its lifespan; a CLI command that needs them calls them itself.
"""

from __future__ import annotations

import logging
import os
import secrets as _secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import anyio

from threadline.auth.authenticator import Authenticator
from threadline.auth.keys import KeyCache
from threadline.billing.providers import PaymentProvider, make_provider
from threadline.config import Settings
from threadline.kit.clock import Clock
from threadline.kit.idempotency import IdempotencyStore
from threadline.kit.jobs import JobRegistry, JobWorker
from threadline.kit.ratelimit import RateLimiter
from threadline.kit.single_flight import SingleFlight
from threadline.media.storage import MediaStorage, make_storage
from threadline.store.db import Database

if TYPE_CHECKING:
    from threadline.events.service import PendingEvent
    from threadline.kit.batch_writer import BatchWriter
    from threadline.serving.service import ServingEngine

log = logging.getLogger("threadline")


class Component(Protocol):
    """Something long-lived with a thread, a pool or a loaded model: started and stopped with its owner."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


class Components:
    """Started in registration order, stopped in reverse; stop() always reaches every started one."""

    def __init__(self) -> None:
        self._items: list[tuple[str, Component]] = []
        self._started: list[tuple[str, Component]] = []
        self._lock = threading.Lock()

    def add(self, name: str, component: Component) -> None:
        if any(n == name for n, _ in self._items):
            raise ValueError(f"component {name!r} is already registered")
        self._items.append((name, component))

    def names(self) -> list[str]:
        return [n for n, _ in self._items]

    def start(self) -> None:
        with self._lock:
            for name, component in self._items:
                if any(c is component for _, c in self._started):
                    continue
                component.start()
                self._started.append((name, component))

    def stop(self) -> None:
        with self._lock:
            while self._started:
                name, component = self._started.pop()
                try:
                    component.stop()
                except Exception:  # the others must still stop
                    log.exception("stopping component failed", extra={"component": name})


@dataclass(frozen=True)
class SemanticModel:
    """THREADLINE_MATCHER=semantic: the embedding model is loaded at start-up, not by the first request."""

    def start(self) -> None:
        from threadline.serving.relevance import semantic  # the optional extra, imported only when selected

        semantic.model()

    def stop(self) -> None:
        return None  # the model is process-wide and read-only; nothing to release


@dataclass(eq=False)
class AppContext:
    settings: Settings
    db: Database
    clock: Clock
    limiter: RateLimiter
    keys: KeyCache
    idempotency: IdempotencyStore
    authenticator: Authenticator
    payments: PaymentProvider
    media_storage: MediaStorage
    components: Components = field(default_factory=Components)
    # Durable job handlers by kind (threadline.background registers every slice's).
    jobs: JobRegistry = field(default_factory=JobRegistry)
    # The in-server job worker (None when THREADLINE_JOBS_WORKER_ENABLED=false).
    job_worker: JobWorker | None = None
    # Filled by build_context once the context exists (they hold a reference to it).
    event_writer: BatchWriter[PendingEvent] = field(init=False)
    serving: ServingEngine = field(init=False)
    # Image decoding is CPU-bound: at most one per core (created in the event loop, on first use).
    image_decode_slots: anyio.CapacityLimiter | None = None
    # Caches: the stored admin-token hash, rate-limit items per policy.
    admin_token_hash: str | None = None
    ad_account_cache: dict[str, tuple[float, bytes]] = field(default_factory=dict)
    ad_account_loads: SingleFlight[bytes] = field(default_factory=SingleFlight)
    rate_items: dict[Any, Any] = field(default_factory=dict)
    # Recent tool quotas per org (tools/quota.py: status): (read at, quota).
    tool_quotas: dict[str, Any] = field(default_factory=dict)
    _secret_key: str | None = None

    @property
    def secret_key(self) -> str:
        """THREADLINE_SECRET_KEY, or the one kept in the data dir (created on first use, not at build)."""
        if self._secret_key is None:
            self._secret_key = load_or_create_secret(self.settings)
        return self._secret_key

    def start(self) -> None:
        Path(self.settings.data_dir).mkdir(parents=True, exist_ok=True)
        self.components.start()

    def stop(self) -> None:
        self.components.stop()

    @contextmanager
    def running(self) -> Iterator[AppContext]:
        self.start()
        try:
            yield self
        finally:
            self.stop()


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
    """The one place the container is built (app, CLI, tests and benchmarks)."""
    from threadline.auth.authenticator import build_authenticator
    from threadline.background import make_worker, register_job_handlers
    from threadline.events import service as events_service
    from threadline.kit.batch_writer import BatchWriter
    from threadline.operator.admin_token import AdminTokenBootstrap, check_admin_token
    from threadline.publishing import repository as publishing_repository
    from threadline.serving.service import ServingEngine
    from threadline.store.checkpoint import Checkpointer, sqlite_file

    clock = clock or Clock()
    db = Database(settings.resolved_database_url)
    keys = KeyCache(settings.auth_cache_seconds)
    ctx = AppContext(
        settings=settings,
        db=db,
        clock=clock,
        limiter=RateLimiter(settings.redis_url, enabled=settings.rate_limits_enabled),
        keys=keys,
        idempotency=IdempotencyStore(db, clock, settings.idempotency_lease_seconds),
        authenticator=Authenticator(),
        payments=make_provider(settings, db, clock),
        media_storage=make_storage(settings),
    )
    ctx.components.add("admin-token", AdminTokenBootstrap(ctx))
    from threadline.dashboard.sessions import lookup_session

    ctx.authenticator = build_authenticator(
        db,
        keys,
        clock,
        lambda token: check_admin_token(ctx, token),
        publishing_repository.token_principal,
        lambda token: lookup_session(ctx, token),
    )
    ctx.event_writer = BatchWriter(
        db,
        events_service.store_batch,
        max_rows=settings.events_batch_max_rows,
        max_wait_ms=settings.events_batch_max_wait_ms,
        on_failure=events_service.store_failed,
        name="threadline-event-writer",
        threads=1 if db.engine.dialect.name == "sqlite" else 2,  # SQLite has one writer at a time
    )
    ctx.serving = ServingEngine(ctx)
    if settings.matcher == "semantic":
        ctx.components.add("semantic-model", SemanticModel())
    sqlite_path = sqlite_file(db.url)
    if sqlite_path is not None and settings.sqlite_checkpoint_interval_ms > 0:
        # Started before the writers and stopped after them: their last batches are in the WAL it empties.
        ctx.components.add(
            "sqlite-checkpoint",
            Checkpointer(db, sqlite_path, interval_s=settings.sqlite_checkpoint_interval_ms / 1000),
        )
    ctx.components.add("event-writer", ctx.event_writer)
    ctx.components.add("serving-index", ctx.serving)
    register_job_handlers(ctx)
    if settings.jobs_worker_enabled:
        # Added last so it starts last and stops first: handlers use the other components.
        ctx.job_worker = make_worker(ctx)
        ctx.components.add("job-worker", ctx.job_worker)
    return ctx
