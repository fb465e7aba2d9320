"""Background work: every slice's durable-job handlers, and the worker that runs them.

Slices with jobs expose ``register_jobs(registry, ctx)`` (e.g. ``advertiser/jobs.py``) and get one line in
:func:`register_job_handlers`. ``build_context`` calls it, so every process (the app's in-server worker,
``threadline worker``) can run every kind. ``THREADLINE_JOB_PLUGINS`` names extra modules with the same function.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from threadline.context import AppContext
from threadline.kit.jobs import Job, JobWorker, Outcome, queue

PRUNE = "jobs.prune"


def register_job_handlers(ctx: AppContext) -> None:
    from threadline.advertiser import jobs as advertiser_jobs
    from threadline.publishing import jobs as publishing_jobs
    from threadline.publishing import mirror, scheduled, webhooks

    _register_prune(ctx)
    advertiser_jobs.register_jobs(ctx.jobs, ctx)
    publishing_jobs.register_jobs(ctx.jobs, ctx)
    webhooks.register_jobs(ctx.jobs, ctx)
    mirror.register_jobs(ctx.jobs, ctx)
    scheduled.register_jobs(ctx.jobs, ctx)
    for name in ctx.settings.job_plugins:
        importlib.import_module(name).register_jobs(ctx.jobs, ctx)


def _register_prune(ctx: AppContext) -> None:
    """Finished jobs are kept ``jobs_keep_done_seconds`` (for operators), then deleted; dead ones stay."""

    def prune(_job: Job) -> None:
        cutoff = ctx.clock.now_s() - ctx.settings.jobs_keep_done_seconds
        while True:  # in slices, so no transaction holds SQLite's writer lock for long
            with ctx.db.write() as s:
                if queue.prune(s, finished_before=cutoff, limit=5_000) < 5_000:
                    return

    ctx.jobs.every(PRUNE, 3600, prune)


def make_worker(
    ctx: AppContext,
    *,
    threads: int | None = None,
    name: str = "server",
    on_outcome: Callable[[Outcome], None] | None = None,
) -> JobWorker:
    s = ctx.settings
    return JobWorker(
        ctx.db,
        ctx.jobs,
        ctx.clock,
        threads=s.jobs_worker_threads if threads is None else threads,
        lease_seconds=s.jobs_lease_seconds,
        poll_seconds=s.jobs_poll_seconds,
        batch=s.jobs_claim_batch,
        name=name,
        on_outcome=on_outcome,
    )
