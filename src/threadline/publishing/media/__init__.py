"""Media processing for IMAGE/VIDEO containers: fetch, validate by Threads' rules, renditions.

The publishing job calls, in a worker thread::

    fetched = fetch_media(fetcher, url, "image" | "video", dest_dir)   # MediaRejected on failure
    prepare_image(fetched.read_bytes())  /  prepare_video(fetched.path)  # MediaRejected if refused

and stores ``PreparedImage.data`` or ``PreparedVideo.rendition`` + ``.thumbnail``. A ``MediaRejected``
carries the container's ``error_message`` (Meta's exact code) and ``details`` (for ``error_details``).
"""

from threadline.publishing.media.errors import ERROR_MESSAGES, MediaRejected
from threadline.publishing.media.fetch import (
    FetchedMedia,
    MediaFetcher,
    MediaKind,
    fetch_media,
    fetch_media_async,
)
from threadline.publishing.media.images import IMAGE_MAX_BYTES, PreparedImage, prepare_image
from threadline.publishing.media.slots import DecodeSlots
from threadline.publishing.media.video import VIDEO_MAX_BYTES, PreparedVideo, VideoLimits, prepare_video

__all__ = [
    "ERROR_MESSAGES",
    "IMAGE_MAX_BYTES",
    "VIDEO_MAX_BYTES",
    "DecodeSlots",
    "FetchedMedia",
    "MediaFetcher",
    "MediaKind",
    "MediaRejected",
    "PreparedImage",
    "PreparedVideo",
    "VideoLimits",
    "fetch_media",
    "fetch_media_async",
    "prepare_image",
    "prepare_video",
]
