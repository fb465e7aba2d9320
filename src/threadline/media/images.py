"""Decide what an uploaded or fetched blob is, from its bytes alone, and prove it decodes.

Outcomes (spec 20-media, ``POST /v1/upload``):

* more than ``MAX_UPLOAD_BYTES`` -> ``file_too_large`` (checked first, before any parsing);
* a PNG, JPEG or WebP that fully decodes -> ``ImageInfo``;
* bytes whose magic identifies another *image* format (GIF, BMP, TIFF, ICO/CUR, SVG, AVIF,
  HEIC/HEIF, JPEG XL, JPEG 2000, PSD) -> ``unsupported_mimetype``: the client sent a real image,
  just not one we serve, and the message tells them which format we saw;
* everything else -> ``invalid_file``: empty, truncated, corrupt, decompression bombs, and
  non-image documents such as PDF, HTML or ZIP (those are not "an image of another type").

Structural strictness: PNG must end exactly at its IEND chunk and WebP exactly at the end of its
RIFF container, so a valid picture with a ZIP/HTML payload appended (a polyglot) is
``invalid_file``. JPEG is the exception: bytes after the end-of-image marker are accepted, because
cameras legitimately store data there (MPF multi-picture images, vendor trailers) and finding the
true end of a JPEG means walking its entropy-coded data; the served Content-Type is fixed to
image/jpeg, so trailing bytes cannot change how a browser treats the file.

Decompression bombs: the pixel count from the header is checked before any pixel is decoded.
``MAX_PIXELS`` (50 megapixels, about 200 MB once decoded as RGBA) is below Pillow's own
``Image.MAX_IMAGE_PIXELS`` default (~89 MP), which is left in force as a second line: Pillow warns
above it and raises ``DecompressionBombError`` above twice it, and both become ``invalid_file``.
If an operator lowers ``Image.MAX_IMAGE_PIXELS`` the stricter of the two limits applies.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from io import BytesIO

from PIL import Image, ImageFile

__all__ = [
    "MAX_PIXELS",
    "MAX_UPLOAD_BYTES",
    "ImageError",
    "ImageInfo",
    "load_image",
    "sniff_format",
    "validate_image",
]

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
MAX_PIXELS = 50_000_000


class ImageError(Exception):
    """A rejected image; ``code`` is the API error code the caller should surface."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __repr__(self) -> str:
        return f"ImageError({self.code!r}, {self.message!r})"


@dataclass(frozen=True)
class ImageInfo:
    format: str  # "png" | "jpeg" | "webp"
    extension: str  # "png" | "jpg" | "webp"
    content_type: str  # "image/png" | "image/jpeg" | "image/webp"
    width: int
    height: int


@dataclass(frozen=True)
class _Kind:
    format: str
    extension: str
    content_type: str
    pillow_formats: frozenset[str]


_PNG = _Kind("png", "png", "image/png", frozenset({"PNG"}))
# Pillow hands multi-picture JPEGs (most phone photos) to its MPO plugin; they are still JPEG.
_JPEG = _Kind("jpeg", "jpg", "image/jpeg", frozenset({"JPEG", "MPO"}))
_WEBP = _Kind("webp", "webp", "image/webp", frozenset({"WEBP"}))

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"}
_AVIF_BRANDS = {b"avif", b"avis"}
_BMP_DIB_SIZES = {12, 16, 40, 52, 56, 64, 108, 124}


def _invalid(message: str) -> ImageError:
    return ImageError("invalid_file", message)


def _supported_kind(data: bytes) -> _Kind | None:
    if data.startswith(_PNG_MAGIC):
        return _PNG
    if data.startswith(b"\xff\xd8\xff"):
        return _JPEG
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return _WEBP
    return None


def _isobmff_brands(data: bytes) -> set[bytes]:
    if len(data) < 16 or data[4:8] != b"ftyp":
        return set()
    box_size = min(struct.unpack(">I", data[:4])[0], len(data), 4096)
    brands = {data[8:12]}
    brands.update(data[i : i + 4] for i in range(16, box_size - 3, 4))
    return brands


def _looks_like_svg(data: bytes) -> bool:
    head = data[:4096].removeprefix(b"\xef\xbb\xbf").lstrip().lower()
    return head.startswith(b"<") and b"<svg" in head


def _other_image_format(data: bytes) -> str | None:
    """Name of a recognised but unsupported image format, by magic bytes only."""
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if data[:2] == b"BM" and len(data) >= 18 and struct.unpack("<I", data[14:18])[0] in _BMP_DIB_SIZES:
        return "BMP"
    if data[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "TIFF"
    if data[:4] in (b"\x00\x00\x01\x00", b"\x00\x00\x02\x00") and len(data) >= 6 and data[4:6] != b"\x00\x00":
        return "ICO"
    brands = _isobmff_brands(data)
    if brands & _AVIF_BRANDS:
        return "AVIF"
    if brands & _HEIF_BRANDS:
        return "HEIF"
    if data[:2] == b"\xff\x0a" or data[:12] == b"\x00\x00\x00\x0cJXL \r\n\x87\n":
        return "JPEG XL"
    if data[:12] == b"\x00\x00\x00\x0cjP  \r\n\x87\n" or data[:4] == b"\xff\x4f\xff\x51":
        return "JPEG 2000"
    if data[:4] == b"8BPS":
        return "PSD"
    if _looks_like_svg(data):
        return "SVG"
    return None


def _check_png_structure(data: bytes) -> None:
    """Walk the chunk list: it must reach a complete IEND that is the last byte of the file."""
    offset = len(_PNG_MAGIC)
    while True:
        if offset + 12 > len(data):
            raise _invalid("The PNG is truncated.")
        length, ctype = struct.unpack(">I4s", data[offset : offset + 8])
        end = offset + 12 + length
        if end > len(data):
            raise _invalid("The PNG is truncated.")
        if ctype == b"IEND":
            if end != len(data):
                raise _invalid("The PNG has data after its end (IEND); polyglot files are refused.")
            return
        offset = end


def _check_webp_structure(data: bytes) -> None:
    riff_size = struct.unpack("<I", data[4:8])[0]
    if riff_size + 8 > len(data):
        raise _invalid("The WebP is truncated.")
    if riff_size + 8 != len(data):
        raise _invalid("The WebP has data after its RIFF container; polyglot files are refused.")


def _pixel_limit() -> int:
    pillow_limit = Image.MAX_IMAGE_PIXELS
    return MAX_PIXELS if pillow_limit is None else min(MAX_PIXELS, int(pillow_limit))


def _decode(data: bytes, kind: _Kind) -> Image.Image:
    formats = sorted(kind.pillow_formats & {"PNG", "JPEG", "WEBP"})
    with Image.open(BytesIO(data), formats=formats) as img:
        if img.format not in kind.pillow_formats:
            raise _invalid("The image could not be decoded.")
        width, height = img.size
        # Before verify()/load(): a bomb is refused from its header, never allocated.
        if width <= 0 or height <= 0:
            raise _invalid("The image has no pixels.")
        if width * height > _pixel_limit():
            raise _invalid(f"The image has too many pixels ({width}x{height}); the limit is {MAX_PIXELS}.")
        img.verify()
    # verify() leaves the file object unusable, so a real decode needs a fresh open. load()
    # decodes every pixel of the first frame, which is what catches truncated/corrupt data.
    img = Image.open(BytesIO(data), formats=formats)
    try:
        img.load()
    except BaseException:
        img.close()
        raise
    return img


def sniff_format(data: bytes) -> str | None:
    """The image format ``data`` starts with ("PNG", "JPEG", "WebP", "GIF", "SVG", ...), or None."""
    kind = _supported_kind(data)
    if kind is not None:
        return {"png": "PNG", "jpeg": "JPEG", "webp": "WebP"}[kind.format]
    return _other_image_format(data)


def load_image(data: bytes) -> tuple[ImageInfo, Image.Image]:
    """Identify and fully decode a PNG/JPEG/WebP without a size cap (the caller applies its own).

    Same checks as ``validate_image`` (structure, decompression bomb, complete decode); the caller
    owns the returned, loaded image and closes it.
    """
    if not data:
        raise _invalid("The file is empty.")
    if ImageFile.LOAD_TRUNCATED_IMAGES:
        # Someone flipped Pillow's global; truncated uploads would be silently padded. Fail loudly.
        raise RuntimeError("PIL.ImageFile.LOAD_TRUNCATED_IMAGES must be False for image validation")

    kind = _supported_kind(data)
    if kind is None:
        other = _other_image_format(data)
        if other is not None:
            raise ImageError(
                "unsupported_mimetype", f"{other} images are not supported; use PNG, JPEG or WebP."
            )
        raise _invalid("The file is not a decodable image.")

    if kind is _PNG:
        _check_png_structure(data)
    elif kind is _WEBP:
        _check_webp_structure(data)

    try:
        img = _decode(data, kind)
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _invalid("The image has too many pixels.") from exc
    except MemoryError:
        raise
    except Exception as exc:
        # Pillow's plugins raise a wide, undocumented mix (OSError, SyntaxError, ValueError,
        # struct.error, EOFError...) for malformed input; all of them mean "not decodable".
        raise _invalid("The image could not be decoded.") from exc
    width, height = img.size
    info = ImageInfo(
        format=kind.format,
        extension=kind.extension,
        content_type=kind.content_type,
        width=width,
        height=height,
    )
    return info, img


def validate_image(data: bytes) -> ImageInfo:
    """Identify and fully decode ``data``; raise ``ImageError`` unless it is a usable PNG/JPEG/WebP."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise ImageError("file_too_large", f"The image exceeds the {MAX_UPLOAD_BYTES} byte limit.")
    info, img = load_image(data)
    img.close()
    return info
