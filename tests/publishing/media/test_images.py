"""prepare_image: Threads' image rules (spec 70 / digest §6.1) on images generated here with Pillow."""

from __future__ import annotations

import io
import random
import struct
import zlib
from typing import Any

import pytest
from PIL import Image, ImageCms

from tests.media.test_images import _png_with_header
from threadline.publishing.media import IMAGE_MAX_BYTES, MediaRejected, PreparedImage, prepare_image


def encode(img: Image.Image, fmt: str, **kwargs: Any) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kwargs)
    return buf.getvalue()


def picture(size: tuple[int, int], mode: str = "RGB", colour: Any = (200, 40, 30)) -> Image.Image:
    img = Image.new(mode, size, colour)
    for x in range(0, size[0], 7):  # some structure for the encoders
        img.putpixel((x, (x * 3) % size[1]), (0, 0, 0) if mode == "RGB" else 0)
    return img


def rejected(data: bytes) -> MediaRejected:
    with pytest.raises(MediaRejected) as info:
        prepare_image(data)
    assert info.value.error_message == "UNKNOWN"  # the only code Meta has for images
    assert not info.value.transient
    return info.value


def opened(prepared: PreparedImage) -> Image.Image:
    img = Image.open(io.BytesIO(prepared.data))
    img.load()
    return img


# ----------------------------------------------------------------------------- accepted


def test_jpeg_in_range_keeps_its_size_and_format() -> None:
    prepared = prepare_image(encode(picture((800, 600)), "JPEG", quality=90))
    assert (prepared.content_type, prepared.extension, prepared.source_format) == (
        "image/jpeg",
        "jpg",
        "JPEG",
    )
    assert (prepared.width, prepared.height) == (800, 600)
    img = opened(prepared)
    assert (img.format, img.size, img.mode) == ("JPEG", (800, 600), "RGB")


def test_png_with_alpha_stays_png_with_alpha() -> None:
    prepared = prepare_image(encode(picture((400, 400), "RGBA", (10, 20, 30, 100)), "PNG"))
    img = opened(prepared)
    assert (prepared.content_type, img.format, img.mode) == ("image/png", "PNG", "RGBA")
    assert img.getpixel((1, 1)) == (10, 20, 30, 100)


def test_100_px_wide_image_is_stored_upscaled_to_320() -> None:
    prepared = prepare_image(encode(picture((100, 80)), "PNG"))
    assert (prepared.width, prepared.height) == (320, 256)
    assert (prepared.source_width, prepared.source_height) == (100, 80)
    assert opened(prepared).size == (320, 256)


def test_wide_image_is_downscaled_to_1440() -> None:
    prepared = prepare_image(encode(picture((3000, 2000)), "JPEG"))
    assert (prepared.width, prepared.height) == (1440, 960)
    assert opened(prepared).size == (1440, 960)


@pytest.mark.parametrize("width", [320, 1440])
def test_width_bounds_are_inclusive(width: int) -> None:
    assert prepare_image(encode(picture((width, 200)), "PNG")).width == width


@pytest.mark.parametrize("size", [(3200, 320), (320, 3200)])
def test_aspect_ratio_of_exactly_10_is_accepted(size: tuple[int, int]) -> None:
    prepared = prepare_image(encode(picture(size), "JPEG"))
    assert prepared.width / prepared.height == pytest.approx(size[0] / size[1], rel=0.01)


def test_cmyk_jpeg_is_converted_to_srgb() -> None:
    prepared = prepare_image(encode(Image.new("CMYK", (400, 300), (0, 255, 255, 0)), "JPEG", quality=95))
    img = opened(prepared)
    assert img.mode == "RGB"
    # CMYK "no cyan, full magenta and yellow" is red.
    assert img.getpixel((10, 10)) == pytest.approx((255, 0, 0), abs=25)


def test_embedded_icc_profile_is_applied_then_dropped() -> None:
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    prepared = prepare_image(encode(Image.new("RGB", (400, 300), (30, 120, 220)), "PNG", icc_profile=srgb))
    img = opened(prepared)
    assert "icc_profile" not in img.info
    assert img.getpixel((5, 5)) == pytest.approx((30, 120, 220), abs=2)


def test_broken_icc_profile_falls_back_to_a_plain_conversion() -> None:
    prepared = prepare_image(
        encode(Image.new("RGB", (400, 300), (1, 2, 3)), "PNG", icc_profile=b"not a profile")
    )
    assert opened(prepared).getpixel((0, 0)) == (1, 2, 3)


@pytest.mark.parametrize(
    ("mode", "colour", "expected_mode"),
    [("L", 128, "RGB"), ("P", 3, "RGB"), ("LA", (90, 40), "RGBA"), ("1", 1, "RGB"), ("I;16", 40000, "RGB")],
)
def test_other_png_modes_become_rgb_or_rgba(mode: str, colour: Any, expected_mode: str) -> None:
    img = opened(prepare_image(encode(Image.new(mode, (400, 300), colour), "PNG")))
    assert img.mode == expected_mode


def test_sixteen_bit_grey_is_scaled_not_clipped() -> None:
    img = opened(prepare_image(encode(Image.new("I;16", (400, 300), 40000), "PNG")))
    assert img.getpixel((0, 0)) == (155, 155, 155)  # 40000 / 257


def test_metadata_is_stripped_and_orientation_applied() -> None:
    source = picture((1000, 500))
    exif = source.getexif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    exif[0x010F] = "CameraMaker"
    exif[0x8825] = {1: "N", 2: (48.0, 51.0, 24.0)}  # GPS
    data = encode(source, "JPEG", exif=exif.tobytes(), comment=b"secret")
    prepared = prepare_image(data)
    assert (prepared.source_width, prepared.source_height) == (500, 1000)  # upright
    assert (prepared.width, prepared.height) == (500, 1000)
    img = opened(prepared)
    assert not img.getexif()
    assert "comment" not in img.info
    assert "exif" not in img.info
    assert b"CameraMaker" not in prepared.data
    assert b"secret" not in prepared.data


def test_png_text_chunks_are_stripped() -> None:
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("Author", "someone private")
    prepared = prepare_image(encode(picture((400, 300)), "PNG", pnginfo=info))
    assert b"someone private" not in prepared.data
    assert opened(prepared).info.get("Author") is None


# ----------------------------------------------------------------------------- refused


@pytest.mark.parametrize(
    ("data", "details"),
    [
        (encode(picture((400, 300)), "GIF"), "the image is a GIF; JPEG or PNG is required"),
        (encode(picture((400, 300)), "WEBP"), "the image is a WebP; JPEG or PNG is required"),
        (encode(picture((400, 300)), "BMP"), "the image is a BMP; JPEG or PNG is required"),
        (encode(picture((400, 300)), "TIFF"), "the image is a TIFF; JPEG or PNG is required"),
        (
            b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="400" height="300"/>',
            "the image is an SVG; JPEG or PNG is required",
        ),
        (
            b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\n%%EOF",
            "the file is a PDF document, not an image; JPEG or PNG is required",
        ),
        (b"<!doctype html><p>hi</p>", "the file is an HTML page, not an image; JPEG or PNG is required"),
        (b"", "the file is empty; JPEG or PNG is required"),
    ],
    ids=["gif", "webp", "bmp", "tiff", "svg", "pdf", "html", "empty"],
)
def test_formats_other_than_jpeg_and_png(data: bytes, details: str) -> None:
    assert rejected(data).details == details


def test_truncated_jpeg() -> None:
    data = encode(picture((800, 600)), "JPEG", quality=95)
    err = rejected(data[: len(data) // 2])
    assert err.details.startswith("the JPEG image is unusable")


def test_truncated_png() -> None:
    data = encode(picture((800, 600)), "PNG")
    assert "truncated" in rejected(data[:-40]).details


def test_decompression_bomb_is_refused_from_its_header() -> None:
    bomb = _png_with_header(100_000, 100_000, complete_rows=False)
    assert len(bomb) < 10_000
    err = rejected(bomb)
    assert "too many pixels" in err.details


def _png_of_exact_size(total: int) -> bytes:
    """A valid PNG padded with a private ancillary chunk to exactly ``total`` bytes."""
    base = encode(picture((400, 300)), "PNG")
    iend = base.rindex(b"IEND") - 4
    pad = total - len(base) - 12
    chunk = struct.pack(">I", pad) + b"prVt" + b"\x00" * pad
    chunk += struct.pack(">I", zlib.crc32(b"prVt" + b"\x00" * pad))
    data = base[:iend] + chunk + base[iend:]
    assert len(data) == total
    return data


def test_exactly_8_mb_is_accepted() -> None:
    assert prepare_image(_png_of_exact_size(IMAGE_MAX_BYTES)).width == 400


def test_8_mb_plus_one_byte_is_refused() -> None:
    err = rejected(_png_of_exact_size(IMAGE_MAX_BYTES + 1))
    assert err.details == "the image is 8,388,609 bytes; the limit is 8 MB (8,388,608 bytes)"


@pytest.mark.parametrize("size", [(3520, 320), (320, 3520)], ids=["11:1", "1:11"])
def test_aspect_ratio_over_10_to_1(size: tuple[int, int]) -> None:
    err = rejected(encode(picture(size), "PNG"))
    assert "aspect ratio of 11.0:1; the limit is 10:1" in err.details


def test_jpeg_with_appended_zip_is_fine_but_png_polyglot_is_not() -> None:
    # The shared upload rules: JPEG trailers are tolerated, a PNG must end at IEND.
    jpeg = encode(picture((400, 300)), "JPEG") + b"PK\x03\x04trailing"
    assert prepare_image(jpeg).width == 400
    png = encode(picture((400, 300)), "PNG") + b"PK\x03\x04trailing"
    assert "polyglot" in rejected(png).details


@pytest.mark.parametrize("seed", range(3))
def test_corrupted_images_are_prepared_or_rejected_never_crash(seed: int) -> None:
    rng = random.Random(seed)
    sources = [
        encode(picture((400, 300)), "JPEG"),
        encode(picture((400, 300)), "JPEG", progressive=True),
        encode(picture((400, 300)), "PNG"),
        encode(Image.new("P", (400, 300), 5), "PNG"),
        encode(Image.new("CMYK", (400, 300), (0, 50, 100, 0)), "JPEG"),
    ]
    outcomes: set[str] = set()
    for _ in range(100):
        data = bytearray(rng.choice(sources))
        for _ in range(rng.choice([1, 3, 10])):
            data[rng.randrange(len(data))] = rng.randrange(256)
        try:
            prepare_image(bytes(data))
            outcomes.add("ok")
        except MediaRejected as exc:
            outcomes.add(exc.error_message)
    assert outcomes <= {"ok", "UNKNOWN"}
    assert "UNKNOWN" in outcomes
