"""Generate small MP4/MOV files with PyAV for publishing tests (shared: import, don't copy).

Everything is encoded here, offline, in milliseconds: tiny frames, few of them, ``ultrafast`` presets.
A long duration costs nothing: ``duration_s`` puts the final frame just before that time, so a 301 s
video is a dozen frames (its *average* frame rate is then tiny; duration is checked first). Example::

    from tests.publishing.media.videos import make_video
    path = make_video(tmp_path / "ok.mp4")                       # valid H.264/AAC MP4, faststart
    path = make_video(tmp_path / "ok.mov", container="mov", codec="hevc")
    path = make_video(tmp_path / "slow.mp4", fps=10)             # INVALID_FRAME_RATE
"""

from __future__ import annotations

import os
import random
from fractions import Fraction
from pathlib import Path

import av

__all__ = ["make_video", "not_a_video", "truncated_copy"]

_ENCODERS = {"h264": "libx264", "hevc": "libx265", "mpeg4": "mpeg4"}
_AUDIO_ENCODERS = {"aac": "aac", "mp3": "libmp3lame", "mp2": "mp2"}


def _fill(frame: av.VideoFrame, index: int, *, noise: bool, rng: random.Random) -> None:
    for n, plane in enumerate(frame.planes):
        size = plane.buffer_size
        if noise:
            plane.update(rng.randbytes(size))
        elif n == 0:
            # A moving diagonal ramp: real picture content, cheap to build.
            row = bytes((x * 4 + index * 8) % 256 for x in range(plane.line_size))
            plane.update((row * (size // len(row) + 1))[:size])
        else:
            plane.update(bytes([128]) * size)


def _video_stream(
    out: av.container.OutputContainer,
    codec: str,
    rate: Fraction,
    width: int,
    height: int,
    lossless: bool,
    bit_rate: int | None,
    rotation: int,
    sar: Fraction | None,
) -> av.VideoStream:
    stream = out.add_stream(_ENCODERS[codec], rate=rate)
    stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
    # Timestamps count frame periods, so the average rate is exactly ``fps``; duration_s moves the
    # last frame to a later period.
    stream.codec_context.time_base = 1 / rate
    if bit_rate is not None:
        stream.bit_rate = bit_rate
    if rotation:
        stream.set_display_rotation(rotation)
    if sar is not None:
        stream.codec_context.sample_aspect_ratio = sar
    if codec == "h264":
        stream.options = {"preset": "ultrafast", **({"qp": "0"} if lossless else {})}
    elif codec == "hevc":
        stream.options = {"preset": "ultrafast", "x265-params": "log-level=error"}
    return stream


def make_video(
    path: Path,
    *,
    container: str = "mp4",
    codec: str = "h264",
    width: int = 64,
    height: int = 64,
    fps: int | Fraction = 30,
    frames: int = 10,
    duration_s: float | None = None,
    audio: str | None = "aac",
    audio_layout: str = "stereo",
    audio_rate: int = 44_100,
    faststart: bool = True,
    noise: bool = False,
    lossless: bool = False,
    bit_rate: int | None = None,
    rotation: int = 0,
    sar: Fraction | None = None,
) -> Path:
    """Write a video to ``path`` and return it. ``audio=None`` for a silent video, ``frames=0`` for
    an audio-only file; ``noise=True`` (random pixels) with ``bit_rate`` makes a file of realistic size,
    with ``lossless=True`` one of a very high bitrate; ``rotation`` (counter-clockwise degrees) sets the
    display matrix, as phones do for portrait video; ``sar`` makes anamorphic (non-square) pixels."""
    rng = random.Random(1234)
    options = {"movflags": "+faststart"} if faststart else {}
    rate = Fraction(fps)
    with av.open(str(path), "w", format=container, options=options) as out:
        vstream = (
            _video_stream(out, codec, rate, width, height, lossless, bit_rate, rotation, sar)
            if frames
            else None
        )
        astream = None
        if audio is not None:
            astream = out.add_stream(_AUDIO_ENCODERS[audio], rate=audio_rate, layout=audio_layout)
        if vstream is not None:
            for i in range(frames):
                frame = av.VideoFrame(width, height, "yuv420p")
                _fill(frame, i, noise=noise, rng=rng)
                frame.pts = i
                if duration_s is not None and i == frames - 1:
                    frame.pts = round(duration_s * rate) - 1  # the last frame lasts one period
                frame.time_base = 1 / rate
                for packet in vstream.encode(frame):
                    out.mux(packet)
            for packet in vstream.encode():
                out.mux(packet)
        if astream is not None:
            seconds = duration_s if duration_s is not None else max(frames, 10) / rate
            total = int(float(seconds) * audio_rate)
            size = astream.codec_context.frame_size or 1152
            pts = 0
            while pts < total:
                aframe = av.AudioFrame(
                    format=astream.codec_context.format.name, layout=audio_layout, samples=size
                )
                for plane in aframe.planes:
                    plane.update(bytes(plane.buffer_size))
                aframe.sample_rate, aframe.pts = audio_rate, pts
                pts += size
                for packet in astream.encode(aframe):
                    out.mux(packet)
            for packet in astream.encode():
                out.mux(packet)
    return path


def truncated_copy(src: Path, dest: Path, keep: float = 0.6) -> Path:
    """The first ``keep`` fraction of ``src``: what an interrupted upload leaves."""
    data = src.read_bytes()
    dest.write_bytes(data[: int(len(data) * keep)])
    return dest


def not_a_video(dest: Path, content: bytes | None = None) -> Path:
    dest.write_bytes(
        content if content is not None else b"<!doctype html><title>Not here</title>" + os.urandom(64)
    )
    return dest
