"""The durable job table as operators see it (GET /admin/v1/jobs, `threadline jobs list`)."""

from __future__ import annotations

from typing import cast

from threadline.context import AppContext
from threadline.kit.jobs import queue
from threadline.kit.pagination import PageParams
from threadline.operator.schemas import JobOut, JobPage, JobState
from threadline.store.models import JobRecord


def job_out(job: JobRecord) -> JobOut:
    return JobOut(
        id=job.id,
        kind=job.kind,
        state=cast(JobState, job.state),
        payload=dict(job.payload or {}),
        attempts=job.attempts,
        max_attempts=job.max_attempts,
        run_at=job.run_at,
        lease_until=job.lease_until,
        owner=job.owner,
        last_error=job.last_error,
        created_at=job.created_at,
        updated_at=job.updated_at,
        finished_at=job.finished_at,
    )


def list_jobs(ctx: AppContext, state: JobState | None, params: PageParams) -> JobPage:
    """Jobs in ``state`` (all when None), newest first unless ``params.order`` says otherwise."""
    with ctx.db.read() as s:
        page = queue.page_by_state(s, state, params)
    data = [job_out(j) for j in page.items]
    return JobPage(
        data=data,
        count=len(data),
        first_id=data[0].id if data else None,
        last_id=data[-1].id if data else None,
        has_more=page.has_more,
    )
