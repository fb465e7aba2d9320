"""IMAGE containers: validate a fetched image by Threads' rules and make the rendition we store.

Rules (spec 70, digest §6.1): JPEG or PNG by their bytes, at most 8 MB, aspect ratio at most 10:1,
stored with its width brought into 320-1440 px (narrow images upscaled, wide ones downscaled, aspect
kept), in sRGB. Every refusal is ``UNKNOWN`` (the only code Meta reports for images) with a precise
``details`` sentence.

Decoding reuses ``threadline.media.images.load_image``: the same structure checks, decompression-bomb
guard (pixel count from the header, before any pixel is allocated) and full decode as uploads.

The rendition keeps the input's format (JPEG stays JPEG, PNG stays PNG so transparency survives), is
turned upright by its EXIF orientation and then carries no metadata at all: no EXIF (camera, GPS), no
XMP, no text chunks, no ICC profile (the pixels are sRGB, which is what an untagged image means).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, ImageCms, ImageOps

from threadline.media.images import ImageError, load_image, sniff_format
from threadline.publishing.media.errors import UNKNOWN, MediaRejected, as_clause
from threadline.publishing.media.slots import DecodeSlots, default_slots
from threadline.publishing.media.sniff import describe, with_article

__all__ = [
    "IMAGE_MAX_BYTES",
    "MAX_ASPECT_RATIO",
    "MAX_WIDTH",
    "MIN_WIDTH",
    "PreparedImage",
    "prepare_image",
]

# "8 MB" read as 8 MiB, the larger reading: a file Meta accepts is never refused here.
IMAGE_MAX_BYTES = 8 * 1024 * 1024
MAX_ASPECT_RATIO = 10.0
MIN_WIDTH = 320
MAX_WIDTH = 1440
JPEG_QUALITY = 90

_ACCEPTED = frozenset({"JPEG", "PNG"})
_HIGH_BIT_DEPTH = frozenset({"I", "I;16", "I;16B", "I;16L", "I;16N", "F"})


@dataclass(frozen=True)
class PreparedImage:
    data: bytes  # the rendition to store
    content_type: str  # "image/jpeg" | "image/png"
    extension: str  # "jpg" | "png"
    width: int
    height: int
    source_format: str  # "JPEG" | "PNG"
    source_width: int  # after EXIF orientation
    source_height: int


def _to_srgb(img: Image.Image) -> Image.Image:
    """RGB or RGBA pixels in sRGB, whatever the input's mode and embedded profile."""
    has_alpha = img.mode in ("RGBA", "LA", "PA", "La", "RGBa") or (
        img.mode == "P" and "transparency" in img.info
    )
    if img.mode in _HIGH_BIT_DEPTH:
        # 16-bit greyscale PNG: scale to 8 bits (convert() would clip everything above 255 to white).
        img = img.convert("I").point(lambda v: v / 257).convert("L")
    target = "RGBA" if has_alpha else "RGB"
    icc = img.info.get("icc_profile")
    if icc:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            srgb = ImageCms.createProfile("sRGB")
            # LittleCMS transforms these modes directly; palette/bilevel/LA go through RGB(A) first.
            base = img if img.mode in ("RGB", "RGBA", "CMYK", "L") else img.convert(target)
            converted = ImageCms.profileToProfile(base, source, srgb, outputMode=target)
            if converted is not None:
                return converted
        except (ImageCms.PyCMSError, OSError, ValueError):
            # A broken or mismatched profile (an RGB profile on a CMYK image, a truncated blob):
            # fall back to the plain conversion below rather than refuse a viewable image.
            pass
    return img.convert(target)


def _target_size(width: int, height: int) -> tuple[int, int]:
    if MIN_WIDTH <= width <= MAX_WIDTH:
        return width, height
    new_width = MIN_WIDTH if width < MIN_WIDTH else MAX_WIDTH
    return new_width, max(1, round(height * new_width / width))


def _render(img: Image.Image, source_format: str) -> PreparedImage:
    upright = ImageOps.exif_transpose(img)
    source_width, source_height = upright.size
    long_side, short_side = max(upright.size), min(upright.size)
    if long_side > MAX_ASPECT_RATIO * short_side:
        raise MediaRejected(
            UNKNOWN,
            f"the image is {source_width}x{source_height} px, an aspect ratio of "
            f"{long_side / short_side:.1f}:1; the limit is 10:1",
        )
    pixels = _to_srgb(upright)
    size = _target_size(source_width, source_height)
    if size != pixels.size:
        # LANCZOS both ways; reducing_gap first shrinks by whole factors, so a 50 MP input costs
        # a fraction of a full-resolution filter pass.
        pixels = pixels.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
    # Pillow's encoders fall back to ``info`` for icc_profile/exif; an empty dict means none.
    pixels.info = {}
    out = io.BytesIO()
    if source_format == "JPEG":
        if pixels.mode != "RGB":
            pixels = pixels.convert("RGB")
        pixels.save(out, "JPEG", quality=JPEG_QUALITY, optimize=False)
        content_type, extension = "image/jpeg", "jpg"
    else:
        pixels.save(out, "PNG", compress_level=6)
        content_type, extension = "image/png", "png"
    return PreparedImage(
        data=out.getvalue(),
        content_type=content_type,
        extension=extension,
        width=size[0],
        height=size[1],
        source_format=source_format,
        source_width=source_width,
        source_height=source_height,
    )


def prepare_image(data: bytes, *, slots: DecodeSlots | None = None) -> PreparedImage:
    """Validate ``data`` by Threads' image rules and return the rendition; else ``MediaRejected``."""
    if len(data) > IMAGE_MAX_BYTES:
        raise MediaRejected(
            UNKNOWN, f"the image is {len(data):,} bytes; the limit is 8 MB ({IMAGE_MAX_BYTES:,} bytes)"
        )
    fmt = sniff_format(data)
    if fmt not in _ACCEPTED:
        what = (
            f"the image is {with_article(fmt)}"
            if fmt is not None
            else (f"the file is {describe(data)}, not an image" if data else "the file is empty")
        )
        raise MediaRejected(UNKNOWN, f"{what}; JPEG or PNG is required")
    assert fmt is not None
    with (slots or default_slots()).hold():
        try:
            _info, img = load_image(data)
        except ImageError as exc:
            raise MediaRejected(UNKNOWN, f"the {fmt} image is unusable: {as_clause(exc.message)}") from None
        try:
            return _render(img, fmt)
        except MediaRejected:
            raise
        except MemoryError:
            raise
        except Exception as exc:
            # EXIF orientation or colour conversion choking on a malformed (but decodable) file.
            raise MediaRejected(UNKNOWN, f"the {fmt} image could not be converted ({exc})") from None
        finally:
            img.close()
