"""The Alembic migrations are the schema; the models must describe exactly what they create."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from threadline.store.models import Base

DIALECT_SPECIFIC = {"ix_insights_hourly_org_hour_cover"}


def _include(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    return not (type_ == "index" and name in DIALECT_SPECIFIC)


def test_models_match_migrations(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True, "include_object": _include})
            diffs = [
                d
                for d in compare_metadata(ctx, Base.metadata)
                if d[0] != "remove_table" or d[1].name != "alembic_version"
            ]
    finally:
        engine.dispose()
    assert diffs == []
