"""Durable jobs: background work that must not be lost.

- :func:`enqueue` inserts a job in the caller's transaction (the job exists only if the row it concerns
  does);
- a :class:`JobWorker` claims due jobs with a lease, runs the handler registered for the kind in a
  :class:`JobRegistry`, retries failures with exponential backoff (or after :class:`RetryJob`'s delay)
  and parks a job as ``dead``, with its error, after ``max_attempts``;
- a killed worker's jobs are claimed again once their lease expires, so handlers must be idempotent.
"""

from threadline.kit.jobs.queue import DEAD, DONE, QUEUED, RUNNING, STATES, enqueue
from threadline.kit.jobs.registry import Handler, Job, JobRegistry, Periodic, RetryJob, exponential_backoff
from threadline.kit.jobs.worker import JobWorker, Outcome

__all__ = [
    "DEAD",
    "DONE",
    "QUEUED",
    "RUNNING",
    "STATES",
    "Handler",
    "Job",
    "JobRegistry",
    "JobWorker",
    "Outcome",
    "Periodic",
    "RetryJob",
    "enqueue",
    "exponential_backoff",
]
