"""Name what a blob is from its first bytes, for the sentence in ``error_details``."""

from __future__ import annotations

from threadline.media.images import sniff_format

__all__ = ["describe", "looks_like_isobmff", "with_article"]

# Top-level box types an MP4 or QuickTime file may start with (QuickTime files without ftyp begin
# straight with a wide/free/mdat/moov atom).
_FIRST_BOXES = frozenset({b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot", b"uuid"})
_IMAGE_BRANDS = frozenset({b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1", b"avif"})


_AN = frozenset({"SVG", "AVIF", "ICO"})  # read letter by letter: "an ess-vee-gee"


def with_article(format_name: str) -> str:
    return f"{'an' if format_name in _AN else 'a'} {format_name}"


def looks_like_isobmff(head: bytes) -> bool:
    """True when ``head`` starts like an MP4/MOV file (and not like a HEIF/AVIF still image)."""
    if len(head) < 8 or head[4:8] not in _FIRST_BOXES:
        return False
    return not (head[4:8] == b"ftyp" and head[8:12] in _IMAGE_BRANDS)


def describe(head: bytes) -> str:
    """What the bytes look like, to follow "the file is": "a GIF image", "a PDF document", "empty"..."""
    image = sniff_format(head)
    if image is not None:
        return f"{with_article(image)} image"
    if not head:
        return "empty"
    if looks_like_isobmff(head):
        return "an MP4/MOV file"
    lowered = head[:512].lstrip().lower()
    known: tuple[tuple[bool, str], ...] = (
        (head.startswith(b"%PDF-"), "a PDF document"),
        (lowered.startswith((b"<!doctype html", b"<html")) or b"<html" in lowered, "an HTML page"),
        (head.startswith(b"PK\x03\x04"), "a ZIP archive"),
        (head.startswith(b"\x1aE\xdf\xa3"), "a WebM/Matroska video"),
        (head[:4] == b"RIFF" and head[8:12] == b"AVI ", "an AVI video"),
        (head[:4] == b"RIFF" and head[8:12] == b"WAVE", "a WAV audio file"),
        (head.startswith(b"ID3") or head[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2"), "an MP3 audio file"),
        (head.startswith(b"OggS"), "an Ogg file"),
        (head.startswith(b"FLV"), "an FLV video"),
        (head[:1] == b"G" and len(head) > 188 and head[188:189] == b"G", "an MPEG-TS stream"),
        (lowered.startswith((b"{", b"[")), "a JSON document"),
        (lowered.startswith(b"<?xml"), "an XML document"),
    )
    for matched, name in known:
        if matched:
            return name
    return "not a recognised media file"
