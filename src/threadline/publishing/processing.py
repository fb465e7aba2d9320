"""Recording the outcome of media processing on a container (the job handler's last step)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import update

from threadline.context import AppContext
from threadline.store.models import ThreadsContainer


@dataclass(frozen=True)
class Outcome:
    """FINISHED with renditions, or ERROR with Meta's error_message and our human error_details."""

    media_file_id: str | None = None
    thumbnail_file_id: str | None = None
    info: dict[str, Any] = field(default_factory=dict)
    error_message: str | None = None
    error_details: str | None = None


def record_outcome(ctx: AppContext, container_id: int, outcome: Outcome) -> bool:
    """Set FINISHED or ERROR once: only an IN_PROGRESS container changes, so a re-run job is a no-op."""
    values: dict[str, Any]
    if outcome.error_message is not None:
        values = {
            "status": "ERROR",
            "error_message": outcome.error_message,
            "error_details": outcome.error_details,
        }
    else:
        values = {
            "status": "FINISHED",
            "media_file_id": outcome.media_file_id,
            "thumbnail_file_id": outcome.thumbnail_file_id,
            "media_info": outcome.info,
        }
    with ctx.db.write() as s:
        done = s.execute(
            update(ThreadsContainer)
            .where(ThreadsContainer.id == container_id, ThreadsContainer.status == "IN_PROGRESS")
            .values(**values)
        ).rowcount  # type: ignore[attr-defined]
    return bool(done)
