"""A small reader of MP4/QuickTime box structure, for what PyAV does not expose.

FFmpeg's demuxer hides the file's layout: whether ``moov`` (the index) comes before ``mdat`` (the
samples) — "faststart", needed to play while downloading — and the edit lists (``moov/trak/edts/elst``)
that cut, delay or repeat parts of a track. This reads only box headers at the top level and the
``moov`` box itself (bounded by ``max_moov_bytes``), never the samples, so it costs a few reads
whatever the file's size. It also finds truncation cheaply: a top-level box that claims more bytes
than the file has.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

__all__ = ["BoxError", "Edit", "MovieLayout", "TopBox", "TrackEdits", "read_layout"]

MAX_TOP_LEVEL_BOXES = 4096
# A 300 s, 60 fps video with stereo AAC needs well under 1 MB of moov; 8 MB bounds what FFmpeg will
# allocate for sample tables (about 24 bytes of index per sample) before we let it parse the file.
DEFAULT_MAX_MOOV_BYTES = 8 * 1024 * 1024


class BoxError(Exception):
    """The file is not a well-formed MP4/MOV; ``message`` says where it breaks."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class TopBox:
    type: str
    offset: int
    size: int


@dataclass(frozen=True)
class Edit:
    segment_duration: int  # in movie timescale units
    media_time: int  # -1 marks an empty edit (a gap)
    rate: float


@dataclass(frozen=True)
class TrackEdits:
    handler: str  # "vide", "soun", ... ("" when the track has no hdlr)
    edits: tuple[Edit, ...]
    # Display rotation from the tkhd matrix, counter-clockwise degrees rounded to 0/90/180/270 (as
    # FFmpeg reads it): phones store portrait video as landscape frames with 90 here.
    rotation: int = 0


@dataclass(frozen=True)
class MovieLayout:
    boxes: tuple[TopBox, ...]
    major_brand: str | None  # from ftyp; None for QuickTime files without one
    compatible_brands: tuple[str, ...]
    tracks: tuple[TrackEdits, ...]  # one per trak, in file order

    @property
    def is_quicktime(self) -> bool:
        return self.major_brand == "qt  " or (self.major_brand is None and self.has("moov"))

    def has(self, box_type: str) -> bool:
        return any(b.type == box_type for b in self.boxes)

    @property
    def video_rotation(self) -> int:
        return next((t.rotation for t in self.tracks if t.handler == "vide"), 0)

    @property
    def faststart(self) -> bool:
        """moov comes before the first mdat (so a player can start before the download ends)."""
        order = [b.type for b in self.boxes if b.type in ("moov", "mdat")]
        return bool(order) and order[0] == "moov"


def _type_name(raw: bytes) -> str:
    if not all(0x20 <= c < 0x7F for c in raw):
        raise BoxError(f"a box type is not printable ({raw!r}): this is not an MP4/MOV file")
    return raw.decode("ascii")


def _top_level(fh: BinaryIO, file_size: int) -> list[TopBox]:
    boxes: list[TopBox] = []
    offset = 0
    while offset < file_size:
        if len(boxes) >= MAX_TOP_LEVEL_BOXES:
            raise BoxError(f"the file has more than {MAX_TOP_LEVEL_BOXES} top-level boxes")
        fh.seek(offset)
        header = fh.read(16)
        if len(header) < 8:
            raise BoxError(f"the file is truncated: {len(header)} stray bytes at offset {offset}")
        size, raw_type = struct.unpack(">I4s", header[:8])
        box_type = _type_name(raw_type)
        header_size = 8
        if size == 1:
            if len(header) < 16:
                raise BoxError(f"the file is truncated inside the {box_type!r} box header")
            size = struct.unpack(">Q", header[8:16])[0]
            header_size = 16
        elif size == 0:  # "extends to the end of the file"
            size = file_size - offset
        if size < header_size:
            raise BoxError(f"the {box_type!r} box at offset {offset} has an impossible size ({size})")
        if offset + size > file_size:
            raise BoxError(
                f"the file is truncated: the {box_type!r} box at offset {offset} needs {size:,} bytes, "
                f"only {file_size - offset:,} are left"
            )
        boxes.append(TopBox(box_type, offset, size))
        offset += size
    return boxes


def _children(data: bytes, start: int, end: int) -> list[tuple[str, int, int]]:
    """(type, payload start, payload end) of the boxes packed in data[start:end]."""
    out: list[tuple[str, int, int]] = []
    offset = start
    while offset + 8 <= end:
        size, raw_type = struct.unpack(">I4s", data[offset : offset + 8])
        header = 8
        if size == 1:
            if offset + 16 > end:
                raise BoxError("a box inside moov is cut short")
            size = struct.unpack(">Q", data[offset + 8 : offset + 16])[0]
            header = 16
        elif size == 0:
            size = end - offset
        if size < header or offset + size > end:
            raise BoxError("a box inside moov has an impossible size")
        out.append((raw_type.decode("latin-1"), offset + header, offset + size))
        offset += size
    return out


def _parse_elst(data: bytes, start: int, end: int) -> tuple[Edit, ...]:
    if end - start < 8:
        raise BoxError("an edit list (elst) is cut short")
    version = data[start]
    count = struct.unpack(">I", data[start + 4 : start + 8])[0]
    entry_size = 20 if version == 1 else 12
    if count * entry_size > end - start - 8:
        raise BoxError("an edit list (elst) claims more entries than it holds")
    edits: list[Edit] = []
    pos = start + 8
    for _ in range(count):
        if version == 1:
            duration, media_time, rate_int, rate_frac = struct.unpack(">QqhH", data[pos : pos + 20])
        else:
            duration, media_time, rate_int, rate_frac = struct.unpack(">IihH", data[pos : pos + 12])
        edits.append(Edit(duration, media_time, rate_int + rate_frac / 65536))
        pos += entry_size
    return tuple(edits)


def _tkhd_rotation(data: bytes, start: int, end: int) -> int:
    version = data[start] if start < end else 0
    matrix_at = start + (4 + 8 + 8 + 4 + 4 + 8 if version == 1 else 4 + 4 + 4 + 4 + 4 + 4) + 8 + 8
    if matrix_at + 36 > end:
        return 0
    a, b = struct.unpack(">ii", data[matrix_at : matrix_at + 8])
    if a == 0 and b == 0:
        return 0
    # FFmpeg's av_display_rotation_get: the negated angle of the (a, b) column.
    degrees = -math.degrees(math.atan2(b, a))
    return round(degrees / 90) * 90 % 360


def _track(data: bytes, start: int, end: int) -> TrackEdits:
    handler = ""
    edits: tuple[Edit, ...] = ()
    rotation = 0
    for box_type, s, e in _children(data, start, end):
        if box_type == "tkhd":
            rotation = _tkhd_rotation(data, s, e)
        elif box_type == "edts":
            for inner, s2, e2 in _children(data, s, e):
                if inner == "elst":
                    edits = _parse_elst(data, s2, e2)
        elif box_type == "mdia":
            for inner, s2, e2 in _children(data, s, e):
                if inner == "hdlr" and e2 - s2 >= 12:
                    handler = data[s2 + 8 : s2 + 12].decode("latin-1")
    return TrackEdits(handler, edits, rotation)


def read_layout(path: Path, *, max_moov_bytes: int = DEFAULT_MAX_MOOV_BYTES) -> MovieLayout:
    """The file's top-level boxes, ftyp brands and per-track edit lists; ``BoxError`` if malformed."""
    file_size = path.stat().st_size
    with path.open("rb") as fh:
        boxes = _top_level(fh, file_size)
        major: str | None = None
        compatible: tuple[str, ...] = ()
        ftyp = next((b for b in boxes if b.type == "ftyp"), None)
        if ftyp is not None:
            if ftyp.size < 16 or ftyp.size > 4096:
                raise BoxError(f"the ftyp box has an implausible size ({ftyp.size})")
            fh.seek(ftyp.offset + 8)
            payload = fh.read(ftyp.size - 8)
            major = payload[:4].decode("latin-1")
            compatible = tuple(payload[i : i + 4].decode("latin-1") for i in range(8, len(payload) - 3, 4))
        moovs = [b for b in boxes if b.type == "moov"]
        if len(moovs) > 1:
            raise BoxError("the file has more than one moov box")
        tracks: list[TrackEdits] = []
        if moovs:
            moov = moovs[0]
            if moov.size > max_moov_bytes:
                raise BoxError(
                    f"the moov box is {moov.size:,} bytes; more than {max_moov_bytes:,} is refused "
                    "(a real five-minute video needs well under one megabyte)"
                )
            fh.seek(moov.offset)
            data = fh.read(moov.size)
            header = 16 if struct.unpack(">I", data[:4])[0] == 1 else 8
            for box_type, s, e in _children(data, header, len(data)):
                if box_type == "trak":
                    tracks.append(_track(data, s, e))
    return MovieLayout(tuple(boxes), major, compatible, tuple(tracks))
