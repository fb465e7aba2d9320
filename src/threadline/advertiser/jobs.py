"""The advertiser slice's durable jobs: the periodic reconciler of deposits whose launch never finished."""

from __future__ import annotations

import dataclasses
import logging

from threadline.advertiser.deposits import reconcile_pending_charges
from threadline.context import AppContext
from threadline.kit.jobs import Job, JobRegistry

log = logging.getLogger("threadline.billing")

RECONCILE = "billing.reconcile"  # the kind is stored in job rows: keep the name


def register_jobs(registry: JobRegistry, ctx: AppContext) -> None:
    def reconcile(_job: Job) -> None:
        report = reconcile_pending_charges(ctx, ctx.settings.reconcile_after_seconds)
        if any(dataclasses.astuple(report)):
            log.info("reconciled pending charges: %s", dataclasses.asdict(report))

    # Runs when a worker first starts, then every interval: a crash between charge and commit is
    # settled even if the server is never restarted.
    registry.every(RECONCILE, ctx.settings.reconcile_every_seconds, reconcile)
