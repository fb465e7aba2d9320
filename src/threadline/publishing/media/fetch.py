"""Download a container's ``image_url`` / ``video_url`` through the SSRF-safe fetcher, to a file.

The guards are the fetcher's (public addresses only, pinned, no redirects, time and size caps); this
module picks them per media kind and turns every ``FetchError`` into the container's error:

* images: ``UNKNOWN`` whatever went wrong (the only code Meta reports for images);
* videos: ``FAILED_DOWNLOADING_VIDEO`` for a refused or failed download, ``FAILED_PROCESSING_VIDEO``
  when the bytes arrived but are not an MP4/MOV at all (refused after the first read by the sniffer,
  so an HTML page at a video URL costs one read, not a gigabyte).

``transient`` is set on timeouts, connection failures and 408/429/5xx answers: a job may retry those
before it gives the container ERROR; a refused URL, a 404 or wrong content never changes.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from threadline.config import Settings
from threadline.kit.http_fetch import (
    FETCH_FAILED,
    UNSUPPORTED_CONTENT,
    FetchError,
    FetchPolicy,
    Resolver,
    fetch_to_file,
    system_resolver,
)
from threadline.media.images import sniff_format
from threadline.publishing.media.errors import (
    FAILED_DOWNLOADING_VIDEO,
    FAILED_PROCESSING_VIDEO,
    UNKNOWN,
    MediaRejected,
    as_clause,
)
from threadline.publishing.media.images import IMAGE_MAX_BYTES
from threadline.publishing.media.sniff import describe, looks_like_isobmff, with_article
from threadline.publishing.media.video import VIDEO_MAX_BYTES

__all__ = ["FetchedMedia", "MediaFetcher", "MediaKind", "fetch_media", "fetch_media_async"]

MediaKind = Literal["image", "video"]

_TRANSIENT_STATUSES = frozenset({408, 425, 429})
_ACCEPT: dict[MediaKind, str] = {
    "image": "image/jpeg, image/png, */*;q=0.1",
    "video": "video/mp4, video/quicktime, */*;q=0.1",
}


@dataclass(frozen=True)
class MediaFetcher:
    """Per-kind fetch policies. Build one from settings; tests pass a stub ``resolver``."""

    allow_private_hosts: frozenset[str] = frozenset()
    connect_timeout: float = 5.0
    image_timeout: float = 10.0
    video_timeout: float = 300.0
    image_max_bytes: int = IMAGE_MAX_BYTES
    video_max_bytes: int = VIDEO_MAX_BYTES
    resolver: Resolver = field(default=system_resolver, compare=False)

    @classmethod
    def from_settings(cls, settings: Settings, *, resolver: Resolver = system_resolver) -> MediaFetcher:
        return cls(
            allow_private_hosts=frozenset(h.lower() for h in settings.allow_private_fetch_hosts),
            connect_timeout=settings.fetch_connect_timeout,
            image_timeout=settings.fetch_total_timeout,
            video_timeout=settings.publishing_video_fetch_timeout,
            video_max_bytes=settings.publishing_video_max_bytes,
            resolver=resolver,
        )

    def policy(self, kind: MediaKind) -> FetchPolicy:
        video = kind == "video"
        return FetchPolicy(
            allow_private_hosts=self.allow_private_hosts,
            connect_timeout=self.connect_timeout,
            total_timeout=self.video_timeout if video else self.image_timeout,
            max_bytes=self.video_max_bytes if video else self.image_max_bytes,
            subject=f"{kind}_url",
            accept=_ACCEPT[kind],
        )


@dataclass(frozen=True)
class FetchedMedia:
    kind: MediaKind
    path: Path  # the whole body, in the caller's dest_dir
    size: int
    content_type: str | None  # as the origin declared it; never trusted (the bytes decide)

    def read_bytes(self) -> bytes:
        return self.path.read_bytes()


def _sniff_image(head: bytes) -> str | None:
    fmt = sniff_format(head)
    if fmt in ("JPEG", "PNG"):
        return None
    if fmt is not None:
        return f"the image is {with_article(fmt)}; JPEG or PNG is required"
    what = f"{describe(head)}, not an image" if head else "empty"
    return f"the file is {what}; JPEG or PNG is required"


def _sniff_video(head: bytes) -> str | None:
    if looks_like_isobmff(head):
        return None
    return f"the file is {describe(head)}; an MP4 or MOV video is required"


def _rejection(kind: MediaKind, exc: FetchError) -> MediaRejected:
    transient = exc.code == FETCH_FAILED and (
        exc.status is None or exc.status >= 500 or exc.status in _TRANSIENT_STATUSES
    )
    if kind == "image":
        return MediaRejected(UNKNOWN, as_clause(exc.message), transient=transient)
    if exc.code == UNSUPPORTED_CONTENT:
        return MediaRejected(FAILED_PROCESSING_VIDEO, exc.message)
    return MediaRejected(FAILED_DOWNLOADING_VIDEO, as_clause(exc.message), transient=transient)


async def fetch_media_async(fetcher: MediaFetcher, url: str, kind: MediaKind, dest_dir: Path) -> FetchedMedia:
    """Download ``url`` into a new file in ``dest_dir``; ``MediaRejected`` on any refusal or failure."""
    policy = fetcher.policy(kind)
    dest = dest_dir / f"{kind}-{secrets.token_hex(8)}.download"
    sniff = _sniff_image if kind == "image" else _sniff_video
    try:
        got = await fetch_to_file(url, policy, dest, fetcher.resolver, sniff=sniff)
    except FetchError as exc:
        raise _rejection(kind, exc) from None
    return FetchedMedia(kind=kind, path=got.path, size=got.size, content_type=got.content_type)


def fetch_media(fetcher: MediaFetcher, url: str, kind: MediaKind, dest_dir: Path) -> FetchedMedia:
    """``fetch_media_async`` for synchronous callers (job handlers run in worker threads).

    It runs its own event loop, so it must not be called from a thread that is running one; async
    code awaits ``fetch_media_async`` instead.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(fetch_media_async(fetcher, url, kind, dest_dir))
    raise RuntimeError("fetch_media was called inside an event loop; await fetch_media_async instead")
