"""Uploads as other slices see them: ownership checks and public URLs."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from threadline.config import Settings
from threadline.store.models import Upload


def get_owned_upload(session: Session, org_id: str, file_id: str) -> Upload | None:
    """The upload if it exists and belongs to this org (a file_id is usable only by its uploader)."""
    return session.execute(
        select(Upload).where(Upload.id == file_id, Upload.org_id == org_id)
    ).scalar_one_or_none()


def public_media_url(settings: Settings, file_id: str) -> str:
    return f"{settings.public_base_url.rstrip('/')}/media/{file_id}"


def list_uploads(session: Session, org_id: str, limit: int = 100) -> list[Upload]:
    """The org's upload library, newest first (the dashboard's creatives page)."""
    return list(
        session.execute(
            select(Upload).where(Upload.org_id == org_id).order_by(Upload.created_at.desc()).limit(limit)
        ).scalars()
    )
