"""Dialect-specific statements shared by the slices."""

from __future__ import annotations

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session


def insert_for(session: Session, table: object) -> object:
    """The dialect's INSERT, which offers ON CONFLICT on both SQLite and PostgreSQL."""
    if session.get_bind().dialect.name == "postgresql":
        return pg_insert(table)  # type: ignore[arg-type]
    return sqlite_insert(table)  # type: ignore[arg-type]
