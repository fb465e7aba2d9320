"""The media job of IMAGE/VIDEO containers: fetch, validate, store renditions, set FINISHED or ERROR.

Enqueued in the transaction that creates the container (``service.create_container``); any worker runs
it (the in-server one or ``threadline worker``). Idempotent: a container that is no longer IN_PROGRESS is
left alone, rendition names are derived from the container id (a re-run overwrites the same objects),
and ``record_outcome`` changes a container once.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from threadline.context import AppContext
from threadline.kit.jobs import Job, JobRegistry, RetryJob, enqueue
from threadline.kit.secrets import hmac_hex
from threadline.publishing.media import (
    MediaFetcher,
    MediaRejected,
    VideoLimits,
    fetch_media,
    prepare_image,
    prepare_video,
)
from threadline.publishing.processing import Outcome, record_outcome
from threadline.store.models import ThreadsContainer, ThreadsPost

log = logging.getLogger("threadline.publishing")

PROCESS_MEDIA = "publishing.process_media"
EXPIRE_GHOST = "publishing.expire_ghost"
MAX_ATTEMPTS = 5
TRANSIENT_RETRY_SECONDS = 15


def enqueue_processing(s: Session, container: ThreadsContainer, now: int) -> None:
    enqueue(
        s,
        PROCESS_MEDIA,
        {"container_id": container.id},
        now=now,
        max_attempts=MAX_ATTEMPTS,
        unique_key=f"{PROCESS_MEDIA}:{container.id}",
    )


def _fetcher(ctx: AppContext) -> MediaFetcher:
    # A frozen settings snapshot: cheap to build per job, and it follows the settings of this process.
    return MediaFetcher.from_settings(ctx.settings)


def rendition_id(ctx: AppContext, container: ThreadsContainer, extension: str, suffix: str = "") -> str:
    """``threads/YYYY/MM/<32 hex>.<ext>``: stable per container, unguessable without the server secret."""
    digest = hmac_hex(ctx.secret_key, f"threads-media:{container.id}{suffix}")[:32]
    month = time.strftime("%Y/%m", time.gmtime(container.created_at))
    return f"threads/{month}/{digest}.{extension}"


def process_container(ctx: AppContext, container_id: int, *, attempt: int, max_attempts: int) -> None:
    with ctx.db.read() as s:
        container = s.get(ThreadsContainer, container_id)
    if container is None or container.status != "IN_PROGRESS" or container.source_url is None:
        return
    kind = "video" if container.media_type == "VIDEO" else "image"
    work = Path(tempfile.mkdtemp(prefix="threads-media-", dir=_tmp_root(ctx)))
    try:
        outcome = _prepare(ctx, container, kind, work)
    except MediaRejected as rejected:
        if rejected.transient and attempt < max_attempts:
            raise RetryJob(TRANSIENT_RETRY_SECONDS, rejected.details) from None
        outcome = Outcome(error_message=rejected.error_message, error_details=rejected.details)
    except Exception:
        if attempt < max_attempts:
            raise  # the worker retries with backoff
        log.exception("media processing failed for container %s", container_id)
        outcome = Outcome(
            error_message="FAILED_PROCESSING_VIDEO" if kind == "video" else "UNKNOWN",
            error_details="the server could not process this media (an internal error); try again",
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    record_outcome(ctx, container_id, outcome)


def _tmp_root(ctx: AppContext) -> Path:
    root = Path(ctx.settings.data_dir) / "tmp"
    root.mkdir(parents=True, exist_ok=True)
    return root


def _prepare(ctx: AppContext, container: ThreadsContainer, kind: str, work: Path) -> Outcome:
    assert container.source_url is not None
    fetched = fetch_media(_fetcher(ctx), container.source_url, "video" if kind == "video" else "image", work)
    storage = ctx.media_storage
    info: dict[str, Any]
    if kind == "image":
        image = prepare_image(fetched.read_bytes())
        file_id = rendition_id(ctx, container, image.extension)
        storage.put(file_id, image.data, image.content_type)
        info = {"width": image.width, "height": image.height, "content_type": image.content_type}
        return Outcome(media_file_id=file_id, info=info)
    video = prepare_video(fetched.path, limits=VideoLimits.from_settings(ctx.settings))
    file_id = rendition_id(ctx, container, video.extension)
    thumb_id = rendition_id(ctx, container, "jpg", ":thumbnail")
    storage.put_file(file_id, video.rendition, video.content_type)  # streamed: up to 1 GB
    storage.put(thumb_id, video.thumbnail, "image/jpeg")
    info = {
        "width": video.width,
        "height": video.height,
        "duration_s": video.duration_s,
        "fps": video.fps,
        "codec": video.codec,
        "content_type": video.content_type,
    }
    return Outcome(media_file_id=file_id, thumbnail_file_id=thumb_id, info=info)


def enqueue_ghost_expiry(s: Session, post: ThreadsPost, now: int) -> None:
    """Scheduled with the post itself, due when the ghost post's 24 hours are over."""
    enqueue(
        s,
        EXPIRE_GHOST,
        {"post_id": post.id},
        now=now,
        run_at=post.ghost_expires_at,
        max_attempts=MAX_ATTEMPTS,
        unique_key=f"{EXPIRE_GHOST}:{post.id}",
    )


def expire_ghost(ctx: AppContext, post_id: int) -> None:
    """Archive one ghost post: it leaves listings and conversations. Idempotent (set once)."""
    now = ctx.clock.now_s()
    with ctx.db.write() as s:
        post = s.get(ThreadsPost, post_id)
        if post is None or post.ghost_expires_at is None or post.ghost_archived_at is not None:
            return
        if now < post.ghost_expires_at:
            raise RetryJob(post.ghost_expires_at - now, "the ghost post has not expired yet")
        post.ghost_archived_at = now


def register_jobs(registry: JobRegistry, ctx: AppContext) -> None:
    def handle(job: Job) -> None:
        process_container(
            ctx, int(job.payload["container_id"]), attempt=job.attempt, max_attempts=job.max_attempts
        )

    registry.register(PROCESS_MEDIA, handle)
    registry.register(EXPIRE_GHOST, lambda job: expire_ghost(ctx, int(job.payload["post_id"])))
