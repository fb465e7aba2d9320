"""What publishing tells the outside world, inside the publish/delete transaction (service.py calls it):
webhook deliveries (``replies``, ``mentions``) and upstream mirror jobs. Everything here only inserts
rows and durable jobs; the network is touched later, by the jobs."""

from __future__ import annotations

from sqlalchemy.orm import Session

from threadline.publishing import mirror, webhooks
from threadline.store.models import ThreadsPost


def after_publish(session: Session, post_row: ThreadsPost, *, now: int) -> None:
    webhooks.enqueue_for_post(session, post_row, now=now)
    mirror.enqueue_for_post(session, post_row, now=now)


def after_repost(session: Session, post_row: ThreadsPost, *, now: int) -> None:
    mirror.enqueue_for_post(session, post_row, now=now)


def after_delete(session: Session, post_row: ThreadsPost, *, now: int) -> None:
    mirror.enqueue_delete(session, post_row, now=now)
