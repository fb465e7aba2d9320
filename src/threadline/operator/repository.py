"""Queries of the operator slice."""

from __future__ import annotations

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from threadline.store.models import Org, Publisher, ServerSecret


def live_orgs() -> Select[Org]:
    return select(Org).where(Org.deleted_at.is_(None))


def publishers() -> Select[Publisher]:
    return select(Publisher)


def find_publisher(session: Session, publisher_id: str) -> Publisher | None:
    return session.execute(select(Publisher).where(Publisher.id == publisher_id)).scalar_one_or_none()


def server_value(session: Session, name: str) -> str | None:
    row = session.get(ServerSecret, name)
    return None if row is None else row.value


def put_server_value(session: Session, name: str, value: str, now: int) -> None:
    row = session.get(ServerSecret, name)
    if row is None:
        session.add(ServerSecret(name=name, value=value, created_at=now))
    else:
        row.value = value
