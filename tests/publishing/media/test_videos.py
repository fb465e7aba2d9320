"""prepare_video: every rule of spec 70 on videos generated here with PyAV (tests/publishing/media/videos.py)."""

from __future__ import annotations

import io
import random
import struct
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path

import pytest
from PIL import Image

from tests.publishing.media.videos import make_video, not_a_video, truncated_copy
from threadline.config import Settings
from threadline.publishing.media import MediaRejected, PreparedVideo, VideoLimits, prepare_video
from threadline.publishing.media.boxes import read_layout
from threadline.publishing.media.slots import DecodeSlots
from threadline.publishing.media.video import check_audio_layout


def rejected(path: Path, limits: VideoLimits | None = None) -> MediaRejected:
    with pytest.raises(MediaRejected) as info:
        prepare_video(path, **({"limits": limits} if limits else {}))
    assert info.value.details
    assert not info.value.transient
    return info.value


# ----------------------------------------------------------------------------- accepted


def test_h264_aac_mp4_is_accepted_with_a_first_frame_thumbnail(tmp_path: Path) -> None:
    path = make_video(tmp_path / "ok.mp4", width=128, height=72, fps=30, frames=15)
    video = prepare_video(path)
    assert isinstance(video, PreparedVideo)
    assert (video.width, video.height, video.codec, video.container) == (128, 72, "h264", "mp4")
    assert (video.content_type, video.extension) == ("video/mp4", "mp4")
    assert video.fps == pytest.approx(30)
    assert video.duration_s == pytest.approx(0.5, abs=0.01)
    assert (video.audio_codec, video.audio_channels, video.audio_sample_rate) == ("aac", 2, 44_100)
    assert video.faststart is True
    assert video.rendition == path
    assert video.size == path.stat().st_size
    assert 0 < video.video_bit_rate < 25_000_000
    thumb = Image.open(io.BytesIO(video.thumbnail))
    assert (thumb.format, thumb.size) == ("JPEG", (128, 72))
    assert (video.thumbnail_width, video.thumbnail_height) == (128, 72)


def test_hevc_mov_is_accepted(tmp_path: Path) -> None:
    path = make_video(tmp_path / "ok.mov", container="mov", codec="hevc", width=96, height=64)
    video = prepare_video(path)
    assert (video.codec, video.container, video.content_type, video.extension) == (
        "hevc",
        "mov",
        "video/quicktime",
        "mov",
    )
    assert Image.open(io.BytesIO(video.thumbnail)).size == (96, 64)


def test_silent_video_is_accepted(tmp_path: Path) -> None:
    video = prepare_video(make_video(tmp_path / "silent.mp4", audio=None))
    assert (video.audio_codec, video.audio_channels, video.audio_sample_rate) == (None, None, None)


def test_mono_audio_and_48_khz_are_accepted(tmp_path: Path) -> None:
    video = prepare_video(make_video(tmp_path / "mono.mp4", audio_layout="mono", audio_rate=48_000))
    assert (video.audio_channels, video.audio_sample_rate) == (1, 48_000)


def test_portrait_9_16_at_1080_wide_is_accepted(tmp_path: Path) -> None:
    video = prepare_video(make_video(tmp_path / "p.mp4", width=1080, height=1920, frames=2, fps=24))
    assert (video.width, video.height) == (1080, 1920)
    # The thumbnail keeps the frame size (below the 1440 px cap).
    assert (video.thumbnail_width, video.thumbnail_height) == (1080, 1920)


def test_no_moov_at_start_is_accepted_and_stored_remuxed_with_moov_first(tmp_path: Path) -> None:
    """Decision (docs/compatibility.md): Meta asks for moov first; we accept either and store faststart."""
    path = make_video(tmp_path / "late-moov.mp4", faststart=False, frames=12)
    assert [b.type for b in read_layout(path).boxes if b.type in ("moov", "mdat")] == ["mdat", "moov"]
    video = prepare_video(path)
    assert video.faststart is False
    assert video.rendition == tmp_path / "late-moov.faststart.mp4"
    assert video.size == video.rendition.stat().st_size
    assert read_layout(video.rendition).faststart
    again = prepare_video(video.rendition)  # the stored file passes the same rules, unchanged
    assert (again.faststart, again.rendition, again.width, again.codec) == (True, video.rendition, 64, "h264")
    assert again.duration_s == pytest.approx(video.duration_s, abs=0.01)
    assert again.audio_codec == "aac"


def test_late_moov_mov_keeps_its_quicktime_container(tmp_path: Path) -> None:
    path = make_video(tmp_path / "late.mov", container="mov", faststart=False)
    video = prepare_video(path)
    assert video.rendition.name == "late.faststart.mov"
    layout = read_layout(video.rendition)
    assert layout.faststart
    assert layout.is_quicktime


# ----------------------------------------------------------------------------- refused, one rule each


@pytest.mark.parametrize("fps", [10, 22])
def test_too_slow_frame_rates(tmp_path: Path, fps: int) -> None:
    err = rejected(make_video(tmp_path / "slow.mp4", fps=fps, frames=fps))
    assert err.error_message == "INVALID_FRAME_RATE"
    assert f"{fps} fps" in err.details


@pytest.mark.parametrize("fps", [90, 61])
def test_too_fast_frame_rates(tmp_path: Path, fps: int) -> None:
    err = rejected(make_video(tmp_path / "fast.mp4", fps=fps, frames=20))
    assert err.error_message == "INVALID_FRAME_RATE"


@pytest.mark.parametrize("fps", [23, 24, 60])
def test_frame_rate_bounds_are_inclusive(tmp_path: Path, fps: int) -> None:
    assert prepare_video(make_video(tmp_path / "edge.mp4", fps=fps, frames=12)).fps == pytest.approx(fps)


def test_ntsc_film_rate_is_accepted(tmp_path: Path) -> None:
    video = prepare_video(make_video(tmp_path / "ntsc.mp4", fps=Fraction(24000, 1001), frames=12))
    assert video.fps == pytest.approx(23.976, abs=0.001)


def test_301_seconds_is_too_long(tmp_path: Path) -> None:
    # A dozen frames, the last one just before 301 s: cheap to encode, a 301 s video track.
    err = rejected(make_video(tmp_path / "long.mp4", frames=12, duration_s=301.0, audio=None))
    assert err.error_message == "INVALID_DURATION"
    assert "301.00 s" in err.details


def test_duration_bound_is_inclusive(tmp_path: Path) -> None:
    # The same comparison as 300 s, on a 1 s video (a real 300 s one at 23+ fps is slow to encode).
    path = make_video(tmp_path / "one-second.mp4", fps=30, frames=30)
    assert prepare_video(path, limits=VideoLimits(max_duration_s=1.0)).duration_s == pytest.approx(1.0)
    assert rejected(path, VideoLimits(max_duration_s=0.99)).error_message == "INVALID_DURATION"


def test_2000_px_wide_is_refused(tmp_path: Path) -> None:
    err = rejected(make_video(tmp_path / "wide.mp4", width=2000, height=400, frames=2))
    assert err.error_message == "FAILED_PROCESSING_VIDEO"
    assert "2000 px wide" in err.details


def test_1920_wide_is_accepted(tmp_path: Path) -> None:
    assert (
        prepare_video(make_video(tmp_path / "fhd.mp4", width=1920, height=1080, frames=2, fps=24)).width
        == 1920
    )


@pytest.mark.parametrize(("width", "height"), [(400, 32), (32, 3400)])
def test_aspect_ratio_outside_0_01_to_10(tmp_path: Path, width: int, height: int) -> None:
    err = rejected(make_video(tmp_path / "aspect.mp4", width=width, height=height, frames=2))
    assert err.error_message == "INVALID_ASPEC_RATIO"  # Meta's spelling


def test_aspect_ratio_of_exactly_10_is_accepted(tmp_path: Path) -> None:
    assert prepare_video(make_video(tmp_path / "ten.mp4", width=640, height=64, frames=2)).width == 640


def test_bit_rate_over_25_mbps(tmp_path: Path) -> None:
    path = make_video(
        tmp_path / "hot.mp4", width=320, height=240, fps=24, frames=12, noise=True, lossless=True
    )
    err = rejected(path)
    assert err.error_message == "INVALID_BIT_RATE"
    assert "Mbps" in err.details


def test_six_audio_channels(tmp_path: Path) -> None:
    err = rejected(make_video(tmp_path / "51.mp4", audio_layout="5.1"))
    assert err.error_message == "INVALID_AUDIO_CHANNELS"
    assert "6 channels" in err.details


def test_mp3_audio(tmp_path: Path) -> None:
    err = rejected(make_video(tmp_path / "mp3.mp4", audio="mp3"))
    assert err.error_message == "FAILED_PROCESSING_AUDIO"
    assert err.details == "the audio is MP3; AAC is required"


def test_audio_sampled_above_48_khz(tmp_path: Path) -> None:
    err = rejected(make_video(tmp_path / "96k.mp4", audio_rate=96_000))
    assert err.error_message == "FAILED_PROCESSING_AUDIO"
    assert "96,000 Hz" in err.details


def test_audio_channel_layout_rule() -> None:
    assert check_audio_layout(1, "mono") is None
    assert check_audio_layout(2, "stereo") is None
    assert check_audio_layout(2, "2 channels") is None  # unlabelled pair: nothing to object to
    odd = check_audio_layout(2, "downmix")
    assert odd is not None
    assert odd.error_message == "INVALID_AUDIO_CHANNEL_LAYOUT"
    none = check_audio_layout(0, "")
    assert none is not None
    assert none.error_message == "INVALID_AUDIO_CHANNELS"


def test_video_codec_other_than_h264_or_hevc(tmp_path: Path) -> None:
    err = rejected(make_video(tmp_path / "mpeg4.mp4", codec="mpeg4"))
    assert err.error_message == "FAILED_PROCESSING_VIDEO"
    assert err.details == "the video codec is MPEG-4 Part 2; H.264 or HEVC is required"


def test_audio_only_file(tmp_path: Path) -> None:
    path = make_video(tmp_path / "a.mp4", frames=0)
    err = rejected(path)
    assert err.error_message == "FAILED_PROCESSING_VIDEO"


# ----------------------------------------------------------------------------- broken files


@pytest.mark.parametrize("keep", [0.3, 0.6, 0.95])
def test_truncated_faststart_file(tmp_path: Path, keep: float) -> None:
    src = make_video(tmp_path / "full.mp4", frames=20)
    err = rejected(truncated_copy(src, tmp_path / "cut.mp4", keep))
    assert err.error_message == "FAILED_PROCESSING_VIDEO"
    assert "truncated" in err.details


def test_truncated_file_with_moov_at_the_end(tmp_path: Path) -> None:
    src = make_video(tmp_path / "full.mp4", frames=20, faststart=False)
    err = rejected(truncated_copy(src, tmp_path / "cut.mp4", 0.5))
    assert err.error_message == "FAILED_PROCESSING_VIDEO"
    assert "truncated" in err.details


@pytest.mark.parametrize(
    ("content", "named"),
    [
        (b"<!doctype html><html><body>404</body></html>", "an HTML page"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "a PDF document"),
        (b"\x1aE\xdf\xa3\x9fB\x86\x81\x01", "a WebM/Matroska video"),
        (b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", "a GIF image"),
        (b"\x00" * 64, "not a recognised media file"),
        (b"", "empty"),
    ],
)
def test_not_a_video_at_all(tmp_path: Path, content: bytes, named: str) -> None:
    err = rejected(not_a_video(tmp_path / "x.mp4", content))
    assert err.error_message == "FAILED_PROCESSING_VIDEO"
    assert named in err.details


def test_box_structure_that_ffmpeg_would_reject(tmp_path: Path) -> None:
    # ftyp then a moov full of garbage: our walk passes, FFmpeg's parse fails, still a clean refusal.
    ftyp = struct.pack(">I4s4sI4s", 20, b"ftyp", b"isom", 512, b"isom")
    moov = struct.pack(">I4s", 8 + 64, b"moov") + b"\x00\x00\x00\x10trak" + b"\xff" * 56
    mdat = struct.pack(">I4s", 16, b"mdat") + b"\x00" * 8
    path = tmp_path / "garbage.mp4"
    path.write_bytes(ftyp + moov + mdat)
    assert rejected(path).error_message == "FAILED_PROCESSING_VIDEO"


def test_oversized_moov_is_refused_before_ffmpeg_parses_it(tmp_path: Path) -> None:
    path = make_video(tmp_path / "ok.mp4")
    err = rejected(path, VideoLimits(max_moov_bytes=256))
    assert err.error_message == "FAILED_PROCESSING_VIDEO"
    assert "moov box" in err.details


def test_file_over_the_size_cap(tmp_path: Path) -> None:
    path = make_video(tmp_path / "ok.mp4")
    err = rejected(path, VideoLimits(max_bytes=path.stat().st_size - 1))
    assert err.error_message == "FAILED_PROCESSING_VIDEO"


# ----------------------------------------------------------------------------- edit lists


def _rewrite_elst(path: Path, entries: list[tuple[int, int]]) -> Path:
    """Replace the video track's one-entry elst with ``entries`` (duration, media_time), same box size
    budget: the original box is overwritten in place and a free box pads what is left."""
    data = bytearray(path.read_bytes())
    at = data.find(b"elst")
    assert at > 0
    start = at - 4
    old_size = struct.unpack(">I", data[start:at])[0]
    body = struct.pack(">I4sBBBBI", 16 + 12 * len(entries), b"elst", 0, 0, 0, 0, len(entries))
    body += b"".join(struct.pack(">IihH", d, t, 1, 0) for d, t in entries)
    edts_start = start - 8
    assert data[edts_start + 4 : edts_start + 8] == b"edts"
    new = struct.pack(">I4s", 8 + len(body), b"edts") + body
    old = struct.unpack(">I", data[edts_start : edts_start + 4])[0]
    assert old_size + 8 == old
    # Grow the enclosing trak/moov by the difference.
    delta = len(new) - old
    for name in (b"trak", b"moov"):
        box = data.rfind(name, 0, edts_start) - 4
        size = struct.unpack(">I", data[box : box + 4])[0]
        data[box : box + 4] = struct.pack(">I", size + delta)
    data[edts_start : edts_start + old] = new
    out = path.with_name("edited-" + path.name)
    out.write_bytes(bytes(data))
    return out


def test_multi_segment_edit_list_is_refused(tmp_path: Path) -> None:
    # Written at the end (moov after mdat) so growing moov moves no sample offsets.
    path = _rewrite_elst(make_video(tmp_path / "v.mp4", faststart=False, audio=None), [(100, 0), (100, 512)])
    tracks = read_layout(path).tracks
    assert [len(t.edits) for t in tracks] == [2]
    err = rejected(path)
    assert err.error_message == "FAILED_PROCESSING_VIDEO"
    assert "edit list of 2 entries" in err.details


def test_leading_empty_edit_then_one_segment_is_accepted(tmp_path: Path) -> None:
    path = _rewrite_elst(make_video(tmp_path / "v.mp4", faststart=False, audio=None), [(10, -1), (334, 0)])
    assert [e.media_time for e in read_layout(path).tracks[0].edits] == [-1, 0]
    assert prepare_video(path).codec == "h264"


# ----------------------------------------------------------------------------- bounded work


class CountingSlots(DecodeSlots):
    """Records how many decodes were inside at once."""

    def __init__(self, slots: int) -> None:
        super().__init__(slots)
        self.active = 0
        self.peak = 0
        self.entered = 0
        self._lock = threading.Lock()

    @contextmanager
    def hold(self) -> Iterator[None]:
        with super().hold():
            with self._lock:
                self.active += 1
                self.entered += 1
                self.peak = max(self.peak, self.active)
            try:
                yield
            finally:
                with self._lock:
                    self.active -= 1


def test_decode_slots_bound_concurrency(tmp_path: Path) -> None:
    path = make_video(tmp_path / "ok.mp4", width=320, height=240, frames=24)
    slots = CountingSlots(1)
    threads = [
        threading.Thread(target=prepare_video, args=(path,), kwargs={"slots": slots}) for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert (slots.entered, slots.peak) == (4, 1)


def test_frames_above_the_pixel_bound_are_never_decoded(tmp_path: Path) -> None:
    path = make_video(tmp_path / "p.mp4", width=320, height=320, frames=2)
    err = rejected(path, VideoLimits(max_pixels=320 * 319))
    assert err.error_message == "FAILED_PROCESSING_VIDEO"
    assert "pixels" in err.details


def test_decode_deadline(tmp_path: Path) -> None:
    path = make_video(tmp_path / "ok.mp4")
    err = rejected(path, VideoLimits(decode_seconds=-1.0))
    assert err.error_message == "FAILED_PROCESSING_VIDEO"
    assert "took longer" in err.details


def test_thumbnail_of_a_wide_frame_is_scaled_to_1440(tmp_path: Path) -> None:
    path = make_video(tmp_path / "w.mp4", width=1920, height=1080, frames=1, fps=24)
    video = prepare_video(path)
    assert (video.thumbnail_width, video.thumbnail_height) == (1440, 810)


def test_fast_on_small_files(tmp_path: Path) -> None:
    path = make_video(tmp_path / "ok.mp4")
    start = time.monotonic()
    prepare_video(path)
    assert time.monotonic() - start < 2.0


# ----------------------------------------------------------------------------- corrupted bytes


@pytest.mark.parametrize("seed", range(4))
def test_corrupted_files_are_prepared_or_rejected_never_crash(tmp_path: Path, seed: int) -> None:
    """Random byte flips anywhere (headers, moov tables, samples): a PreparedVideo or a MediaRejected,
    nothing else, quickly. (A longer run of this found PyAV raising UnicodeDecodeError on metadata.)"""
    rng = random.Random(seed)
    sources = [
        make_video(tmp_path / "a.mp4", frames=12),
        make_video(tmp_path / "b.mp4", frames=12, faststart=False),
        make_video(tmp_path / "c.mov", container="mov", codec="hevc", frames=6),
    ]
    outcomes: set[str] = set()
    for n in range(40):
        source = rng.choice(sources)
        data = bytearray(source.read_bytes())
        for _ in range(rng.choice([1, 2, 5, 20])):
            data[rng.randrange(len(data))] = rng.randrange(256)
        path = tmp_path / f"mutant-{n}{source.suffix}"
        path.write_bytes(bytes(data))
        start = time.monotonic()
        try:
            prepare_video(path)
            outcomes.add("ok")
        except MediaRejected as exc:
            outcomes.add(exc.error_message)
        assert time.monotonic() - start < 5
    assert "FAILED_PROCESSING_VIDEO" in outcomes


# ----------------------------------------------------------------------------- display rotation


def test_phone_portrait_video_is_judged_and_thumbnailed_as_shown(tmp_path: Path) -> None:
    # Stored 2000x1000 (too wide if shown as stored), displayed turned 90 degrees: 1000 wide, 1:2.
    path = make_video(tmp_path / "portrait.mp4", width=2000, height=1000, frames=2, fps=30, rotation=90)
    video = prepare_video(path)
    assert (video.width, video.height, video.rotation) == (1000, 2000, 90)
    thumb = Image.open(io.BytesIO(video.thumbnail))
    assert thumb.size == (1000, 2000) == (video.thumbnail_width, video.thumbnail_height)


def test_rotated_thumbnail_turns_counter_clockwise(tmp_path: Path) -> None:
    # The generator's ramp brightens to the right in the stored frame; turned 90 degrees
    # counter-clockwise, the stored right edge is shown at the top.
    video = prepare_video(make_video(tmp_path / "r.mp4", width=128, height=64, frames=1, rotation=90))
    thumb = Image.open(io.BytesIO(video.thumbnail)).convert("L")
    assert thumb.size == (64, 128)
    stored = Image.open(
        io.BytesIO(prepare_video(make_video(tmp_path / "s.mp4", width=128, height=64, frames=1)).thumbnail)
    ).convert("L")
    assert thumb.getpixel((32, 2)) == pytest.approx(stored.getpixel((125, 32)), abs=12)
    assert thumb.getpixel((32, 125)) == pytest.approx(stored.getpixel((2, 32)), abs=12)


@pytest.mark.parametrize("rotation", [0, 90, 180, 270])
def test_box_reader_reads_rotation_like_ffmpeg(tmp_path: Path, rotation: int) -> None:
    path = make_video(tmp_path / "r.mp4", frames=1, rotation=rotation, audio=None)
    assert read_layout(path).video_rotation == rotation


def test_rotated_video_still_refused_when_too_wide_as_shown(tmp_path: Path) -> None:
    path = make_video(tmp_path / "w.mp4", width=1000, height=2000, frames=1, rotation=270)
    err = rejected(path)
    assert (err.error_message, err.details) == (
        "FAILED_PROCESSING_VIDEO",
        "the video is 2000 px wide; at most 1920 px is allowed",
    )


def test_faststart_remux_keeps_the_display_rotation(tmp_path: Path) -> None:
    path = make_video(tmp_path / "late.mp4", width=200, height=100, frames=3, rotation=90, faststart=False)
    video = prepare_video(path)
    assert read_layout(video.rendition).video_rotation == 90
    assert prepare_video(video.rendition).rotation == 90


def test_anamorphic_pixels_are_judged_at_their_shown_width(tmp_path: Path) -> None:
    # 960 stored pixels, each shown 4 wide: a 3840 px wide picture.
    path = make_video(tmp_path / "sar.mp4", width=960, height=540, frames=2, sar=Fraction(4, 1))
    assert rejected(path).details == "the video is 3840 px wide; at most 1920 px is allowed"
    video = prepare_video(
        make_video(tmp_path / "ok.mp4", width=960, height=1080, frames=2, sar=Fraction(2, 1))
    )
    assert (video.width, video.height) == (1920, 1080)


def test_limits_follow_the_operator_size_setting() -> None:
    assert VideoLimits.from_settings(Settings(publishing_video_max_bytes=2**31)).max_bytes == 2**31
    assert VideoLimits.from_settings(Settings()).max_bytes == 1024**3
