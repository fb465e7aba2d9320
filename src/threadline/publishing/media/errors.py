"""Why a container's media was refused, in Meta's words (``error_message``) and ours (``details``)."""

from __future__ import annotations

from typing import Final

__all__ = [
    "ERROR_MESSAGES",
    "FAILED_DOWNLOADING_VIDEO",
    "FAILED_PROCESSING_AUDIO",
    "FAILED_PROCESSING_VIDEO",
    "INVALID_ASPEC_RATIO",
    "INVALID_AUDIO_CHANNELS",
    "INVALID_AUDIO_CHANNEL_LAYOUT",
    "INVALID_BIT_RATE",
    "INVALID_DURATION",
    "INVALID_FRAME_RATE",
    "UNKNOWN",
    "MediaRejected",
    "as_clause",
]

# Spelled exactly as Meta's container status reports them (``ASPEC`` included): clients match on them.
FAILED_DOWNLOADING_VIDEO: Final = "FAILED_DOWNLOADING_VIDEO"
FAILED_PROCESSING_VIDEO: Final = "FAILED_PROCESSING_VIDEO"
FAILED_PROCESSING_AUDIO: Final = "FAILED_PROCESSING_AUDIO"
INVALID_ASPEC_RATIO: Final = "INVALID_ASPEC_RATIO"
INVALID_BIT_RATE: Final = "INVALID_BIT_RATE"
INVALID_DURATION: Final = "INVALID_DURATION"
INVALID_FRAME_RATE: Final = "INVALID_FRAME_RATE"
INVALID_AUDIO_CHANNELS: Final = "INVALID_AUDIO_CHANNELS"
INVALID_AUDIO_CHANNEL_LAYOUT: Final = "INVALID_AUDIO_CHANNEL_LAYOUT"
UNKNOWN: Final = "UNKNOWN"

ERROR_MESSAGES: Final = frozenset(
    {
        FAILED_DOWNLOADING_VIDEO,
        FAILED_PROCESSING_VIDEO,
        FAILED_PROCESSING_AUDIO,
        INVALID_ASPEC_RATIO,
        INVALID_BIT_RATE,
        INVALID_DURATION,
        INVALID_FRAME_RATE,
        INVALID_AUDIO_CHANNELS,
        INVALID_AUDIO_CHANNEL_LAYOUT,
        UNKNOWN,
    }
)


class MediaRejected(Exception):
    """Media that will never become a post: the container goes to ERROR with these two texts.

    ``error_message`` is one of ``ERROR_MESSAGES`` (the container's ``error_message`` field);
    ``details`` is a human sentence for ``error_details`` saying exactly what was wrong.
    A fetch that failed for a reason that may pass (timeout, 5xx) sets ``transient`` so the job may
    retry before giving up; every other rejection is final.
    """

    def __init__(self, error_message: str, details: str, *, transient: bool = False) -> None:
        if error_message not in ERROR_MESSAGES:
            raise ValueError(f"not a Threads error_message: {error_message!r}")
        super().__init__(f"{error_message}: {details}")
        self.error_message = error_message
        self.details = details
        self.transient = transient

    def __repr__(self) -> str:
        return f"MediaRejected({self.error_message!r}, {self.details!r})"


def as_clause(message: str) -> str:
    """A capitalised sentence from a lower layer as the lower-case clause ``details`` are written in."""
    message = message.rstrip(".")
    if message[:1].isupper() and not message[1:2].isupper():  # keep "PNG ...", "HTTP ..."
        message = message[:1].lower() + message[1:]
    return message
