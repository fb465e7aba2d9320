"""Image sniffing/validation: the corpus is generated here with Pillow and a few hand-made headers."""

from __future__ import annotations

import io
import resource
import struct
import time
import zipfile
import zlib
from collections.abc import Callable
from typing import Any

import pytest
from PIL import Image, ImageFile

from threadline.media.images import MAX_PIXELS, MAX_UPLOAD_BYTES, ImageError, ImageInfo, validate_image


def _encode(fmt: str, size: tuple[int, int] = (64, 48), mode: str = "RGB", **kwargs: Any) -> bytes:
    img = Image.new(mode, size, (10, 200, 30) if mode == "RGB" else 128)
    # A little structure so lossy encoders produce real entropy-coded data.
    for x in range(0, size[0], 4):
        img.putpixel((x, x % size[1]), (255, 0, 0) if mode == "RGB" else 0)
    buf = io.BytesIO()
    img.save(buf, fmt, **kwargs)
    return buf.getvalue()


def _png_chunk(ctype: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + ctype + payload + struct.pack(">I", zlib.crc32(ctype + payload))


def _png_with_header(width: int, height: int, *, complete_rows: bool) -> bytes:
    """A grayscale 1-bit PNG claiming ``width``x``height``; IDAT is streamed so memory stays small."""
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    comp = zlib.compressobj(9)
    row = b"\x00" * (1 + (width + 7) // 8)
    rows = height if complete_rows else min(height, 16)
    idat = bytearray()
    block = row * 256
    for _ in range(rows // 256):
        idat += comp.compress(block)
    idat += comp.compress(row * (rows % 256))
    idat += comp.flush()
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", bytes(idat))
        + _png_chunk(b"IEND", b"")
    )


def _code(data: bytes) -> str:
    with pytest.raises(ImageError) as info:
        validate_image(data)
    return info.value.code


# ----------------------------------------------------------------------------- accepted


@pytest.mark.parametrize(
    ("fmt", "kwargs", "expected"),
    [
        ("PNG", {}, ImageInfo("png", "png", "image/png", 64, 48)),
        ("JPEG", {"quality": 85}, ImageInfo("jpeg", "jpg", "image/jpeg", 64, 48)),
        ("JPEG", {"progressive": True}, ImageInfo("jpeg", "jpg", "image/jpeg", 64, 48)),
        ("WEBP", {"lossless": True}, ImageInfo("webp", "webp", "image/webp", 64, 48)),
        ("WEBP", {"quality": 70}, ImageInfo("webp", "webp", "image/webp", 64, 48)),
    ],
)
def test_supported_formats_are_identified_from_bytes(
    fmt: str, kwargs: dict[str, Any], expected: ImageInfo
) -> None:
    assert validate_image(_encode(fmt, **kwargs)) == expected


@pytest.mark.parametrize("mode", ["L", "RGBA", "P", "1"])
def test_png_modes(mode: str) -> None:
    img = Image.new(mode, (5, 7))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    info = validate_image(buf.getvalue())
    assert (info.format, info.width, info.height) == ("png", 5, 7)


def test_animated_webp_is_webp() -> None:
    frames = [Image.new("RGB", (16, 16), c) for c in ((255, 0, 0), (0, 255, 0))]
    buf = io.BytesIO()
    frames[0].save(buf, "WEBP", save_all=True, append_images=frames[1:], duration=100)
    assert validate_image(buf.getvalue()).format == "webp"


def test_cmyk_jpeg_is_accepted() -> None:
    assert validate_image(_encode("JPEG", mode="CMYK")).content_type == "image/jpeg"


def test_size_limit_is_inclusive() -> None:
    png = _encode("PNG")
    # Pad through an ancillary chunk so the file stays a structurally valid PNG of exactly 5 MB.
    filler = MAX_UPLOAD_BYTES - len(png) - 12
    iend = png[-12:]
    exact = png[:-12] + _png_chunk(b"zzZz", b"\x00" * filler) + iend
    assert len(exact) == MAX_UPLOAD_BYTES
    assert validate_image(exact).format == "png"


# ----------------------------------------------------------------------------- file_too_large


def test_over_limit_is_file_too_large_before_parsing() -> None:
    assert _code(b"\x00" * (MAX_UPLOAD_BYTES + 1)) == "file_too_large"


def test_over_limit_valid_png_is_still_too_large() -> None:
    png = _encode("PNG")
    padded = png[:-12] + _png_chunk(b"zzZz", b"\x00" * (MAX_UPLOAD_BYTES - len(png) - 11)) + png[-12:]
    assert len(padded) == MAX_UPLOAD_BYTES + 1
    assert _code(padded) == "file_too_large"


# ----------------------------------------------------------------------------- invalid_file


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
@pytest.mark.parametrize("keep", [0.5, 0.9, 20])
def test_truncated_images_are_invalid(fmt: str, keep: float) -> None:
    data = _encode(fmt, size=(200, 150), quality=90) if fmt != "PNG" else _encode(fmt, size=(200, 150))
    cut = int(len(data) * keep) if keep < 1 else int(keep)
    assert _code(data[:cut]) == "invalid_file"


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_missing_last_bytes_are_invalid(fmt: str) -> None:
    data = _encode(fmt, size=(120, 80))
    assert _code(data[:-2]) == "invalid_file"


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"\x00", id="one-zero-byte"),
        pytest.param(b"hello, world\n" * 20, id="text"),
        pytest.param(bytes(range(256)) * 4, id="garbage"),
        pytest.param(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n", id="pdf"),
        pytest.param(b"<!doctype html><html><body><img src=x onerror=alert(1)></body></html>", id="html"),
        pytest.param(b"\x89PNG\r\n\x1a\n", id="png-magic-only"),
        pytest.param(b"\xff\xd8\xff", id="jpeg-magic-only"),
        pytest.param(b"RIFF\x04\x00\x00\x00WEBP", id="webp-magic-only"),
        pytest.param(b"\xff\xd8\xff\xe0" + b"\x00" * 500, id="jpeg-magic-zeros"),
        pytest.param(b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2", id="mp4"),
    ],
)
def test_not_decodable_is_invalid_file(data: bytes) -> None:
    assert _code(data) == "invalid_file"


def test_zip_is_invalid_file() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("a.txt", "hi")
    assert _code(buf.getvalue()) == "invalid_file"


def test_corrupted_png_crc_is_invalid() -> None:
    data = bytearray(_encode("PNG", size=(40, 40)))
    data[40] ^= 0xFF  # inside IDAT: verify() checks every chunk CRC
    assert _code(bytes(data)) == "invalid_file"


@pytest.mark.parametrize("damage", ["zero-width", "no-frame-header", "no-scan"])
def test_corrupted_jpeg_is_invalid(damage: str) -> None:
    data = _encode("JPEG", size=(120, 80), quality=95)
    sof = data.index(b"\xff\xc0")
    if damage == "zero-width":
        broken = data[: sof + 7] + b"\x00\x00" + data[sof + 9 :]
    elif damage == "no-frame-header":
        length = struct.unpack(">H", data[sof + 2 : sof + 4])[0]
        broken = data[:sof] + data[sof + 2 + length :]
    else:
        broken = data[: data.index(b"\xff\xda")] + b"\xff\xd9"
    assert _code(broken) == "invalid_file"


def test_jpeg_scan_cut_short_before_eoi_is_tolerated() -> None:
    # Known limit, pinned so a change is noticed: libjpeg pads a scan that ends early but is
    # followed by a proper EOI marker, and Pillow exposes no hook to make that fatal. Such a file
    # renders (grey lower half) in browsers too, so it is accepted as a JPEG.
    data = _encode("JPEG", size=(120, 80), quality=95)
    sos = data.index(b"\xff\xda")
    broken = data[: sos + (len(data) - sos) // 2] + b"\xff\xd9"
    assert validate_image(broken).format == "jpeg"


# Polyglots: decided policy is "PNG and WebP must end where their container ends"; JPEG may carry
# trailing bytes (MPF/vendor trailers are legitimate) and is served as image/jpeg regardless.


def _zip_bytes() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("payload.html", "<script>alert(1)</script>")
    return buf.getvalue()


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
@pytest.mark.parametrize("tail", [b"<html><script>alert(1)</script>", b"\x00"], ids=["html", "one-byte"])
def test_png_and_webp_with_trailing_payload_are_invalid(fmt: str, tail: bytes) -> None:
    assert _code(_encode(fmt) + tail) == "invalid_file"


def test_png_zip_polyglot_is_invalid() -> None:
    png = _encode("PNG")
    assert _code(png + _zip_bytes()) == "invalid_file"


def test_jpeg_with_trailer_is_accepted() -> None:
    assert validate_image(_encode("JPEG") + _zip_bytes()).format == "jpeg"


def test_png_magic_in_front_of_gif_is_invalid() -> None:
    gif = io.BytesIO()
    Image.new("RGB", (4, 4)).save(gif, "GIF")
    assert _code(b"\x89PNG\r\n\x1a\n" + gif.getvalue()) == "invalid_file"


# ----------------------------------------------------------------------------- decompression bombs


def test_bomb_header_is_refused_without_decoding() -> None:
    # 30000x30000 is ~10x Pillow's own threshold; header-only refusal must be fast and small.
    data = _png_with_header(30_000, 30_000, complete_rows=False)
    assert len(data) < 10_000
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    with pytest.raises(ImageError) as info:
        validate_image(data)
    assert info.value.code == "invalid_file"
    assert "pixels" in info.value.message
    assert time.perf_counter() - start < 1.0
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kib < 50 * 1024


def test_complete_bomb_under_upload_limit_is_refused() -> None:
    # A fully valid 1-bit PNG: 900 MP of zeros compresses to well under 5 MB.
    data = _png_with_header(30_000, 30_000, complete_rows=True)
    assert len(data) < MAX_UPLOAD_BYTES
    with pytest.raises(ImageError) as info:
        validate_image(data)
    assert info.value.code == "invalid_file"
    assert "pixels" in info.value.message


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
@pytest.mark.parametrize(
    "size",
    [
        pytest.param((8_000, 8_000), id="64MP-above-ours-below-pillow"),
        pytest.param((10_000, 10_000), id="100MP-pillow-warns"),
        pytest.param((MAX_PIXELS // 1000 + 1, 1000), id="just-over-limit"),
    ],
)
def test_pixel_limit(size: tuple[int, int]) -> None:
    assert size[0] * size[1] > MAX_PIXELS
    data = _png_with_header(*size, complete_rows=False)
    with pytest.raises(ImageError) as info:
        validate_image(data)
    assert info.value.code == "invalid_file"
    assert "pixels" in info.value.message


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_lower_pillow_limit_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    data = _encode("PNG", size=(100, 100))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 5_000)
    assert _code(data) == "invalid_file"


def test_pillow_bomb_error_maps_to_invalid(monkeypatch: pytest.MonkeyPatch) -> None:
    # With our own bound lifted, Pillow's DecompressionBombError is still translated.
    monkeypatch.setattr("threadline.media.images.MAX_PIXELS", 10**12)
    data = _png_with_header(30_000, 30_000, complete_rows=False)
    with pytest.raises(ImageError) as info:
        validate_image(data)
    assert info.value.code == "invalid_file"
    assert isinstance(info.value.__cause__, Image.DecompressionBombError)


# ----------------------------------------------------------------------------- unsupported_mimetype


def _pillow(fmt: str, **kwargs: object) -> Callable[[], bytes]:
    def make() -> bytes:
        buf = io.BytesIO()
        Image.new("RGB", (16, 16), (1, 2, 3)).save(buf, fmt, **kwargs)
        return buf.getvalue()

    return make


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(_pillow("GIF"), id="gif"),
        pytest.param(_pillow("BMP"), id="bmp"),
        pytest.param(_pillow("TIFF"), id="tiff"),
        pytest.param(_pillow("ICO"), id="ico"),
        pytest.param(_pillow("JPEG2000"), id="jpeg2000"),
        pytest.param(
            lambda: b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"/>',
            id="svg-xml-decl",
        ),
        pytest.param(lambda: b"\xef\xbb\xbf  <svg onload=alert(1)></svg>", id="svg-bom"),
        pytest.param(lambda: b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf", id="avif"),
        pytest.param(lambda: b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", id="heic"),
        pytest.param(lambda: b"\x00\x00\x00\x0cJXL \r\n\x87\n" + b"\x00" * 20, id="jxl"),
        pytest.param(lambda: b"8BPS\x00\x01" + b"\x00" * 30, id="psd"),
    ],
)
def test_other_image_formats_are_unsupported(make: Callable[[], bytes]) -> None:
    assert _code(make()) == "unsupported_mimetype"


# ----------------------------------------------------------------------------- global state


def test_load_truncated_images_stays_false() -> None:
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
    validate_image(_encode("PNG"))
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_refuses_to_run_with_truncated_loading_enabled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    with pytest.raises(RuntimeError):
        validate_image(_encode("PNG"))


def test_pixel_limit_boundary(monkeypatch: pytest.MonkeyPatch) -> None:
    data = _encode("PNG", size=(64, 48))
    monkeypatch.setattr("threadline.media.images.MAX_PIXELS", 64 * 48)
    assert validate_image(data).width == 64
    monkeypatch.setattr("threadline.media.images.MAX_PIXELS", 64 * 48 - 1)
    assert _code(data) == "invalid_file"
