"""VIDEO containers: probe a fetched file by Threads' rules, make its thumbnail and a faststart rendition.

Rules (spec 70, digest §6.2), each refusal with Meta's ``error_message``:

| rule | error_message |
|---|---|
| MP4/MOV container, readable, not truncated, one moov, simple edit lists | FAILED_PROCESSING_VIDEO |
| video codec H.264 or HEVC, a decodable first frame | FAILED_PROCESSING_VIDEO |
| width <= 1920 px (and the decode pixel bound) | FAILED_PROCESSING_VIDEO |
| aspect ratio (display width / height) 0.01-10 | INVALID_ASPEC_RATIO |
| duration of the video track > 0 and <= 300 s | INVALID_DURATION |
| average frame rate 23-60 fps | INVALID_FRAME_RATE |
| video bitrate <= 25 Mbps | INVALID_BIT_RATE |
| audio (optional) AAC, <= 48 kHz, decodable | FAILED_PROCESSING_AUDIO |
| audio 1-2 channels | INVALID_AUDIO_CHANNELS |
| audio layout mono or stereo | INVALID_AUDIO_CHANNEL_LAYOUT |

Where Meta's list is stricter than what players need we chose (docs/compatibility.md, "Publishing
media"): a file whose moov comes after mdat is accepted and stored remuxed with moov first (stream copy,
no re-encode); an edit list of one segment (what every encoder writes for B-frame or audio priming delay),
optionally after one leading empty edit, is accepted, anything else (cuts, repeats, speed changes) is
refused.

Bounded work, so a hostile file cannot exhaust the worker: the box walk reads headers and a moov of at
most 8 MB before FFmpeg parses anything; the decoder runs single-threaded with FFmpeg's ``max_pixels``
cap; only the packets up to the first video frame and the first audio frame are decoded; the decode and
the remux run under a wall-clock deadline; and each call holds one of the process's decode slots.
"""

from __future__ import annotations

import io
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import av.error
from PIL import Image

from threadline.config import Settings
from threadline.publishing.media.boxes import DEFAULT_MAX_MOOV_BYTES, BoxError, MovieLayout, read_layout
from threadline.publishing.media.errors import (
    FAILED_PROCESSING_AUDIO,
    FAILED_PROCESSING_VIDEO,
    INVALID_ASPEC_RATIO,
    INVALID_AUDIO_CHANNEL_LAYOUT,
    INVALID_AUDIO_CHANNELS,
    INVALID_BIT_RATE,
    INVALID_DURATION,
    INVALID_FRAME_RATE,
    MediaRejected,
)
from threadline.publishing.media.slots import DecodeSlots, default_slots
from threadline.publishing.media.sniff import describe, looks_like_isobmff

__all__ = ["VIDEO_MAX_BYTES", "PreparedVideo", "VideoLimits", "check_audio_layout", "prepare_video"]

VIDEO_MAX_BYTES = 1024 * 1024 * 1024

_CODEC_NAMES = {
    "h264": "H.264",
    "hevc": "HEVC",
    "vp8": "VP8",
    "vp9": "VP9",
    "av1": "AV1",
    "mpeg4": "MPEG-4 Part 2",
    "mpeg2video": "MPEG-2",
    "prores": "ProRes",
    "mjpeg": "Motion JPEG",
    "aac": "AAC",
    "mp3": "MP3",
    "mp2": "MP2",
    "ac3": "AC-3",
    "eac3": "E-AC-3",
    "opus": "Opus",
    "alac": "ALAC",
    "flac": "FLAC",
    "vorbis": "Vorbis",
}
_VIDEO_CODECS = frozenset({"h264", "hevc"})


@dataclass(frozen=True)
class VideoLimits:
    max_bytes: int = VIDEO_MAX_BYTES
    max_width: int = 1920
    min_aspect: float = 0.01
    max_aspect: float = 10.0
    max_duration_s: float = 300.0
    min_fps: float = 23.0
    max_fps: float = 60.0
    max_video_bit_rate: int = 25_000_000
    max_audio_sample_rate: int = 48_000
    max_audio_channels: int = 2
    # Decode bounds. 1920 x 4096 covers every allowed width at the tallest sensible portrait
    # (1920 wide at 1:2.1, 1080 x 1920 with room); taller frames are refused before decoding.
    max_pixels: int = 1920 * 4096
    max_moov_bytes: int = DEFAULT_MAX_MOOV_BYTES
    # Packets read looking for the first picture (a long open-GOP lead-in is still a few dozen).
    max_packets_to_first_frame: int = 600
    decode_seconds: float = 20.0  # first frames
    remux_seconds: float = 120.0  # a gigabyte of stream copy on a slow disk
    thumbnail_max_width: int = 1440
    thumbnail_quality: int = 85

    @classmethod
    def from_settings(cls, settings: Settings) -> VideoLimits:
        """The defaults with the operator's size cap (the same one the download is held to)."""
        return cls(max_bytes=settings.publishing_video_max_bytes)


DEFAULT_LIMITS = VideoLimits()


@dataclass(frozen=True)
class PreparedVideo:
    width: int  # as shown: a phone's portrait video stored as 1920x1080 turned 90 degrees is 1080 wide
    height: int
    duration_s: float
    fps: float
    codec: str  # "h264" | "hevc"
    video_bit_rate: int  # bits per second
    thumbnail: bytes  # JPEG of the first frame
    thumbnail_width: int
    thumbnail_height: int
    container: str  # "mp4" | "mov"
    content_type: str  # "video/mp4" | "video/quicktime"
    extension: str  # "mp4" | "mov"
    audio_codec: str | None  # "aac" or None without audio
    audio_channels: int | None
    audio_sample_rate: int | None
    rotation: int  # display rotation of the stored frames, counter-clockwise degrees (0/90/180/270)
    faststart: bool  # whether the *input* had moov first
    rendition: Path  # the file to store: the input itself, or its faststart remux next to it
    size: int  # bytes of ``rendition``


def _codec_label(name: str) -> str:
    return _CODEC_NAMES.get(name, name.upper() if name else "unknown")


def _processing(details: str) -> MediaRejected:
    return MediaRejected(FAILED_PROCESSING_VIDEO, details)


class _Deadline:
    def __init__(self, seconds: float, what: str) -> None:
        self._end = time.monotonic() + seconds
        self._seconds = seconds
        self._what = what

    def check(self) -> None:
        if time.monotonic() > self._end:
            raise _processing(f"{self._what} took longer than {self._seconds:g} s; the file was given up")


# --------------------------------------------------------------------------- layout


def _check_layout(path: Path, limits: VideoLimits) -> MovieLayout:
    with path.open("rb") as fh:
        head = fh.read(512)
    if not looks_like_isobmff(head):
        raise _processing(f"the file is {describe(head)}; an MP4 or MOV video is required")
    try:
        layout = read_layout(path, max_moov_bytes=limits.max_moov_bytes)
    except BoxError as exc:
        raise _processing(exc.message) from None
    if not layout.has("moov"):
        raise _processing("the file has no moov box (the index of an MP4/MOV): it is incomplete")
    if not layout.has("mdat") and not layout.has("moof"):
        raise _processing("the file has no media data (mdat box)")
    for track in layout.tracks:
        edits = list(track.edits)
        if edits and edits[0].media_time == -1:
            edits = edits[1:]  # one leading gap: a track that starts a little later
        if len(edits) > 1 or any(e.media_time == -1 or e.rate != 1.0 for e in edits):
            kind = {"vide": "video", "soun": "audio"}.get(track.handler, track.handler or "a")
            raise _processing(
                f"the {kind} track has an edit list of {len(track.edits)} entries (cuts, gaps or speed "
                "changes); Threads requires a video without edit lists"
            )
    return layout


# --------------------------------------------------------------------------- probing


def _fps(stream: Any) -> float | None:
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate is not None and rate > 0:
            return float(rate)
    return None


def _duration_s(container: Any, stream: Any) -> float | None:
    # The video track's own duration: audio priming can make the container a few ms longer, and a
    # 300.0 s video must not read as 300.02 s.
    if stream.duration is not None and stream.time_base is not None and stream.duration > 0:
        return float(stream.duration * stream.time_base)
    if container.duration is not None and container.duration > 0:
        return float(Fraction(container.duration, av.time_base))
    return None


def check_audio_layout(channels: int, layout_name: str) -> MediaRejected | None:
    """The audio-channel rule: 1-2 channels, laid out as mono or stereo (or an unlabelled pair)."""
    if not 1 <= channels <= 2:
        return MediaRejected(
            INVALID_AUDIO_CHANNELS, f"the audio has {channels} channels ({layout_name}); 1 or 2 are allowed"
        )
    allowed = {1: ("mono", "1 channels"), 2: ("stereo", "2 channels")}[channels]
    if layout_name not in allowed:
        return MediaRejected(
            INVALID_AUDIO_CHANNEL_LAYOUT,
            f"the audio's {channels} channel(s) are laid out as {layout_name!r}; mono or stereo is required",
        )
    return None


def _check_audio(stream: Any, limits: VideoLimits) -> tuple[str, int, int]:
    ctx = stream.codec_context
    name = ctx.codec.canonical_name if ctx is not None and ctx.codec is not None else ""
    if name != "aac":
        raise MediaRejected(FAILED_PROCESSING_AUDIO, f"the audio is {_codec_label(name)}; AAC is required")
    rate = int(ctx.sample_rate or 0)
    if rate <= 0:
        raise MediaRejected(FAILED_PROCESSING_AUDIO, "the audio track has no sample rate")
    if rate > limits.max_audio_sample_rate:
        raise MediaRejected(
            FAILED_PROCESSING_AUDIO,
            f"the audio is sampled at {rate:,} Hz; at most {limits.max_audio_sample_rate:,} Hz is allowed",
        )
    channels = int(ctx.channels or 0)
    refusal = check_audio_layout(channels, ctx.layout.name if ctx.layout is not None else "")
    if refusal is not None:
        raise refusal
    return name, channels, rate


@dataclass(frozen=True)
class _Probe:
    width: int
    height: int
    fps: float
    duration_s: float
    codec: str
    bit_rate: int
    audio: tuple[str, int, int] | None


def _probe(container: Any, limits: VideoLimits, rotation: int) -> _Probe:
    if not container.streams.video:
        raise _processing("the file has no video track")
    video = container.streams.video[0]
    ctx = video.codec_context
    codec = ctx.codec.canonical_name if ctx is not None and ctx.codec is not None else ""
    if codec not in _VIDEO_CODECS:
        raise _processing(f"the video codec is {_codec_label(codec)}; H.264 or HEVC is required")
    width, height = int(ctx.width or 0), int(ctx.height or 0)
    if width <= 0 or height <= 0:
        raise _processing("the video track has no frame size")
    if width * height > limits.max_pixels:
        raise _processing(
            f"the video frames are {width}x{height} px, more than the {limits.max_pixels:,} pixels we decode"
        )
    sar = ctx.sample_aspect_ratio
    shown_width = round(width * sar) if sar is not None and sar > 0 else width
    shown_height = height
    if rotation in (90, 270):
        # Shown turned a quarter: the rules are about the picture the viewer sees.
        shown_width, shown_height = shown_height, shown_width
    aspect = shown_width / shown_height
    if not limits.min_aspect <= aspect <= limits.max_aspect:
        raise MediaRejected(
            INVALID_ASPEC_RATIO,
            f"the video is shown at {shown_width}x{shown_height} px, an aspect ratio of {aspect:.3g}:1; "
            f"{limits.min_aspect:g}:1 to {limits.max_aspect:g}:1 is allowed",
        )
    if shown_width > limits.max_width:
        raise _processing(f"the video is {shown_width} px wide; at most {limits.max_width} px is allowed")
    duration = _duration_s(container, video)
    if duration is None:
        raise _processing("the video's duration cannot be determined")
    if not 0 < duration <= limits.max_duration_s:
        raise MediaRejected(
            INVALID_DURATION,
            f"the video lasts {duration:.2f} s; more than 0 and at most {limits.max_duration_s:g} s is allowed",
        )
    fps = _fps(video)
    if fps is None:
        raise _processing("the video's frame rate cannot be determined")
    # Two decimals: 23.976 (NTSC film) passes 23, and a variable-rate phone video averaging
    # 60.004 fps is the 60 fps it was recorded as.
    if not limits.min_fps <= round(fps, 2) <= limits.max_fps:
        raise MediaRejected(
            INVALID_FRAME_RATE,
            f"the video runs at {fps:.3g} fps; {limits.min_fps:g} to {limits.max_fps:g} fps is allowed",
        )
    bit_rate = int(video.bit_rate or ctx.bit_rate or 0)
    if bit_rate <= 0 and container.bit_rate:
        bit_rate = int(container.bit_rate)
    if bit_rate > limits.max_video_bit_rate:
        raise MediaRejected(
            INVALID_BIT_RATE,
            f"the video bitrate is {bit_rate / 1e6:.1f} Mbps; at most {limits.max_video_bit_rate / 1e6:g} "
            "Mbps is allowed",
        )
    audio = None
    for stream in container.streams.audio:
        audio = _check_audio(stream, limits)
    return _Probe(shown_width, shown_height, fps, duration, codec, bit_rate, audio)


# --------------------------------------------------------------------------- decoding


def _first_frame(container: Any, stream: Any, limits: VideoLimits, deadline: _Deadline) -> Any:
    ctx = stream.codec_context
    # One thread per decode (the slots bound how many run); FFmpeg refuses frames above max_pixels
    # even if the bitstream's SPS disagrees with the container's header.
    ctx.thread_count = 1
    ctx.options = {"max_pixels": str(limits.max_pixels)}
    for packets, packet in enumerate(container.demux(stream), start=1):
        deadline.check()
        if packets > limits.max_packets_to_first_frame:
            break
        for frame in packet.decode():
            if frame.width * frame.height > limits.max_pixels:
                raise _processing("a decoded frame is larger than its header says")
            return frame
    raise _processing(f"no frame of the {_codec_label(ctx.codec.canonical_name)} track could be decoded")


def _first_audio_frame(container: Any, stream: Any, limits: VideoLimits, deadline: _Deadline) -> None:
    stream.codec_context.thread_count = 1
    for packets, packet in enumerate(container.demux(stream), start=1):
        deadline.check()
        if packets > limits.max_packets_to_first_frame:
            break
        if packet.size and packet.decode():
            return
    raise MediaRejected(FAILED_PROCESSING_AUDIO, "no frame of the AAC audio track could be decoded")


_TURNS = {90: Image.Transpose.ROTATE_90, 180: Image.Transpose.ROTATE_180, 270: Image.Transpose.ROTATE_270}


def _thumbnail(frame: Any, limits: VideoLimits, rotation: int) -> tuple[bytes, int, int]:
    image: Image.Image = frame.to_image()  # RGB via swscale
    if rotation in _TURNS:
        # The display matrix turns the picture counter-clockwise; so does Pillow's ROTATE_*.
        image = image.transpose(_TURNS[rotation])
    if image.width > limits.thumbnail_max_width:
        height = max(1, round(image.height * limits.thumbnail_max_width / image.width))
        image = image.resize((limits.thumbnail_max_width, height), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=limits.thumbnail_quality)
    return out.getvalue(), image.width, image.height


def _remux_faststart(src: Path, dst: Path, fmt: str, limits: VideoLimits) -> None:
    """Copy every audio/video packet into ``dst`` with moov written first; no re-encoding."""
    deadline = _Deadline(limits.remux_seconds, "rewriting the video with its index first")
    tmp = dst.with_name(dst.name + ".tmp")
    try:
        with (
            av.open(str(src), metadata_errors="replace") as inp,
            av.open(str(tmp), "w", format=fmt, options={"movflags": "+faststart"}) as out,
        ):
            streams = [s for s in inp.streams if s.type in ("video", "audio")]
            mapping = {s.index: out.add_stream_from_template(s) for s in streams}
            for n, packet in enumerate(inp.demux(streams)):
                if n % 256 == 0:
                    deadline.check()
                if packet.dts is None:  # the demuxer's end-of-stream marker
                    continue
                packet.stream = mapping[packet.stream.index]
                out.mux(packet)
        os.replace(tmp, dst)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextmanager
def _opened(path: Path) -> Iterator[Any]:
    try:
        container = av.open(str(path), metadata_errors="replace")
    except av.error.FFmpegError as exc:
        raise _processing(f"the file could not be read as MP4/MOV ({exc.strerror or exc})") from None
    try:
        yield container
    finally:
        container.close()


def prepare_video(
    path: Path, *, limits: VideoLimits = DEFAULT_LIMITS, slots: DecodeSlots | None = None
) -> PreparedVideo:
    """Validate the video at ``path`` by Threads' rules; thumbnail and rendition, or ``MediaRejected``.

    When the input is not faststart its remux is written next to it as ``<name>.faststart.<ext>``
    (``PreparedVideo.rendition``); the caller removes both files when done.
    """
    size = path.stat().st_size
    if size == 0:
        raise _processing("the file is empty")
    if size > limits.max_bytes:
        raise _processing(f"the video is {size:,} bytes; at most {limits.max_bytes:,} bytes is allowed")
    layout = _check_layout(path, limits)
    container_kind = "mov" if layout.is_quicktime else "mp4"
    with (slots or default_slots()).hold():
        try:
            with _opened(path) as container:
                if "mp4" not in container.format.name.split(","):
                    raise _processing(f"the file is a {container.format.long_name}; MP4 or MOV is required")
                rotation = layout.video_rotation
                probe = _probe(container, limits, rotation)
                deadline = _Deadline(limits.decode_seconds, "decoding the first frames")
                frame = _first_frame(container, container.streams.video[0], limits, deadline)
                thumbnail, thumb_w, thumb_h = _thumbnail(frame, limits, rotation)
                if container.streams.audio:
                    container.seek(0)
                    _first_audio_frame(container, container.streams.audio[0], limits, deadline)
            rendition = path
            if not layout.faststart:
                rendition = path.with_name(f"{path.stem}.faststart.{container_kind}")
                _remux_faststart(path, rendition, container_kind, limits)
        except MediaRejected:
            raise
        except MemoryError:
            raise
        except av.error.FFmpegError as exc:
            raise _processing(f"the video could not be decoded ({exc.strerror or exc})") from None
        except (UnicodeDecodeError, ValueError, OverflowError, ZeroDivisionError) as exc:
            # PyAV turning a corrupt field into a Python value (a name, a rate, a timestamp).
            raise _processing(f"the file has a corrupt header field ({type(exc).__name__})") from None
    audio_codec, audio_channels, audio_rate = probe.audio if probe.audio else (None, None, None)
    return PreparedVideo(
        width=probe.width,
        height=probe.height,
        duration_s=probe.duration_s,
        fps=probe.fps,
        codec=probe.codec,
        video_bit_rate=probe.bit_rate,
        thumbnail=thumbnail,
        thumbnail_width=thumb_w,
        thumbnail_height=thumb_h,
        container=container_kind,
        content_type="video/quicktime" if container_kind == "mov" else "video/mp4",
        extension=container_kind,
        audio_codec=audio_codec,
        audio_channels=audio_channels,
        audio_sample_rate=audio_rate,
        rotation=rotation,
        faststart=layout.faststart,
        rendition=rendition,
        size=rendition.stat().st_size,
    )
