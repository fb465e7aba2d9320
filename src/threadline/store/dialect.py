"""Dialect-specific statements shared by the slices."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session


def insert_of(dialect: str, table: object) -> Any:
    """The dialect's INSERT, which offers ON CONFLICT on both SQLite and PostgreSQL (by dialect name:
    for statements built once per dialect and cached)."""
    if dialect == "postgresql":
        return pg_insert(table)  # type: ignore[arg-type]
    return sqlite_insert(table)  # type: ignore[arg-type]


def insert_for(session: Session, table: object) -> Any:
    """The INSERT of the session's dialect."""
    return insert_of(session.get_bind().dialect.name, table)
