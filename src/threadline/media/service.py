"""Uploads: validate bytes, store them, record who owns them. One path for files and fetched URLs."""

from __future__ import annotations

import hashlib
import secrets
import time

from threadline.context import AppContext
from threadline.kit.errors import ApiError
from threadline.kit.http_fetch import FetchError, FetchPolicy, fetch
from threadline.media.images import MAX_UPLOAD_BYTES, ImageError, validate_image
from threadline.media.storage import MediaStorage
from threadline.store.models import Upload


def storage_of(ctx: AppContext) -> MediaStorage:
    return ctx.media_storage


def fetch_policy(ctx: AppContext) -> FetchPolicy:
    s = ctx.settings
    return FetchPolicy(
        allow_private_hosts=frozenset(h.lower() for h in s.allow_private_fetch_hosts),
        connect_timeout=s.fetch_connect_timeout,
        total_timeout=s.fetch_total_timeout,
        max_bytes=MAX_UPLOAD_BYTES,
    )


async def fetch_image_bytes(ctx: AppContext, url: str) -> bytes:
    """The bytes at ``url`` through the SSRF-safe fetcher, as an upload error on failure."""
    try:
        result = await fetch(url, fetch_policy(ctx))
    except FetchError as exc:
        raise ApiError(400, exc.code, exc.message, "image_url") from None
    return result.body


def store_image(ctx: AppContext, org_id: str, data: bytes) -> str:
    """Validate and store an image for ``org_id``; returns its file_id."""
    try:
        info = validate_image(data)
    except ImageError as exc:
        raise ApiError(400, exc.code, exc.message, "file") from None
    now = ctx.clock.now()
    month = time.strftime("%Y/%m", time.gmtime(now))
    file_id = f"uploads/{month}/{secrets.token_hex(16)}.{info.extension}"
    storage = storage_of(ctx)
    storage.put(file_id, data, info.content_type)
    try:
        with ctx.db.write() as s:
            s.add(
                Upload(
                    id=file_id,
                    org_id=org_id,
                    content_type=info.content_type,
                    size=len(data),
                    sha256=hashlib.sha256(data).hexdigest(),
                    width=info.width,
                    height=info.height,
                    created_at=int(now),
                )
            )
    except BaseException:
        storage.delete(file_id)  # no stored file without its record
        raise
    return file_id
