"""fetch_media: the SSRF-safe fetcher per media kind, failures as the container's error_message.

Servers and helpers are the fetcher's own (tests/kit/test_http_fetch.py): loopback servers, a stub
resolver, and the autouse dial spy that refuses anything outside 127.0.0.0/8.
"""

from __future__ import annotations

import asyncio
import io
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from PIL import Image

from tests.kit import test_http_fetch
from tests.kit.test_http_fetch import (
    DialSpy,
    Handler,
    LocalServer,
    StubResolver,
    replying,
    response,
    serve,
    streaming,
)
from tests.publishing.media.videos import make_video
from threadline.config import Settings
from threadline.publishing.media import (
    FetchedMedia,
    MediaFetcher,
    MediaRejected,
    fetch_media,
    fetch_media_async,
    prepare_image,
    prepare_video,
)

pytestmark = pytest.mark.anyio

# The fetcher tests' autouse dial spy, registered in this module too: nothing here reaches a network.
dials = test_http_fetch.dials

HOST = "media.test"
FETCHER = MediaFetcher(
    allow_private_hosts=frozenset({HOST}),
    connect_timeout=1.0,
    image_timeout=2.0,
    video_timeout=2.0,
    resolver=StubResolver({HOST: ["127.0.0.1"]}),
)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def jpeg(size: tuple[int, int] = (640, 480)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (20, 90, 200)).save(buf, "JPEG")
    return buf.getvalue()


async def rejected(url: str, kind: str, dest: Path, fetcher: MediaFetcher = FETCHER) -> MediaRejected:
    with pytest.raises(MediaRejected) as info:
        await fetch_media_async(fetcher, url, kind, dest)  # type: ignore[arg-type]
    assert info.value.details
    assert list(dest.iterdir()) == []  # nothing half-downloaded is left behind
    return info.value


# ----------------------------------------------------------------------------- success


async def test_image_is_fetched_to_a_file_and_prepared(tmp_path: Path) -> None:
    body = jpeg()
    async with serve(replying(response(200, body, [("Content-Type", "image/jpeg")]))) as srv:
        got = await fetch_media_async(FETCHER, f"http://{HOST}:{srv.port}/a.jpg", "image", tmp_path)
    assert isinstance(got, FetchedMedia)
    assert (got.kind, got.size, got.content_type, got.path.parent) == (
        "image",
        len(body),
        "image/jpeg",
        tmp_path,
    )
    assert got.read_bytes() == body
    assert prepare_image(got.read_bytes()).width == 640
    assert srv.head()[1]["accept"].startswith("image/jpeg")


async def test_video_is_fetched_to_a_file_and_prepared(tmp_path: Path) -> None:
    video = make_video(tmp_path / "source.mp4").read_bytes()
    dest = tmp_path / "in"
    dest.mkdir()
    async with serve(replying(response(200, video, [("Content-Type", "video/mp4")]))) as srv:
        got = await fetch_media_async(FETCHER, f"http://{HOST}:{srv.port}/v.mp4", "video", dest)
    assert got.path.read_bytes() == video
    assert prepare_video(got.path).codec == "h264"
    assert srv.head()[1]["accept"].startswith("video/mp4")


@contextmanager
def threaded_server(handler: Handler) -> Iterator[LocalServer]:
    """A loopback server on its own loop, for the synchronous fetch_media (which runs its own)."""
    ready = threading.Event()
    stop: asyncio.Event | None = None
    box: list[LocalServer] = []
    loop = asyncio.new_event_loop()

    async def main() -> None:
        nonlocal stop
        stop = asyncio.Event()
        async with serve(handler) as srv:
            box.append(srv)
            ready.set()
            await stop.wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),))
    thread.start()
    try:
        assert ready.wait(5)
        yield box[0]
    finally:
        assert stop is not None
        loop.call_soon_threadsafe(stop.set)
        thread.join(5)
        loop.close()


def test_sync_fetch_media_for_job_handlers(tmp_path: Path) -> None:
    body = jpeg()
    with threaded_server(replying(response(200, body))) as srv:
        got = fetch_media(FETCHER, f"http://{HOST}:{srv.port}/a.jpg", "image", tmp_path)
    assert got.read_bytes() == body


async def test_sync_fetch_media_refuses_to_run_inside_an_event_loop(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="fetch_media_async"):
        fetch_media(FETCHER, f"http://{HOST}/a.jpg", "image", tmp_path)


def test_fetcher_from_settings() -> None:
    settings = Settings(
        allow_private_fetch_hosts=["Images.Test"],
        fetch_connect_timeout=3,
        fetch_total_timeout=7,
        publishing_video_max_bytes=1000,
        publishing_video_fetch_timeout=60,
    )
    fetcher = MediaFetcher.from_settings(settings)
    image, video = fetcher.policy("image"), fetcher.policy("video")
    assert image.allow_private_hosts == video.allow_private_hosts == frozenset({"images.test"})
    assert (image.connect_timeout, image.total_timeout, image.max_bytes, image.subject) == (
        3,
        7,
        8 * 1024 * 1024,
        "image_url",
    )
    assert (video.connect_timeout, video.total_timeout, video.max_bytes, video.subject) == (
        3,
        60,
        1000,
        "video_url",
    )
    assert MediaFetcher().policy("video").max_bytes == 1024 * 1024 * 1024


# ----------------------------------------------------------------------------- refused before connecting


@pytest.mark.parametrize(("kind", "code"), [("image", "UNKNOWN"), ("video", "FAILED_DOWNLOADING_VIDEO")])
async def test_private_address_is_refused(kind: str, code: str, tmp_path: Path, dials: DialSpy) -> None:
    fetcher = MediaFetcher(resolver=StubResolver({"intranet.test": ["10.0.0.7"]}))
    for url in ("http://127.0.0.1/x", "http://169.254.169.254/latest/meta-data/", "http://intranet.test/x"):
        err = await rejected(url, kind, tmp_path, fetcher)
        assert (err.error_message, err.transient) == (code, False)
        assert "not publicly routable" in err.details
        assert err.details.startswith(f"{kind}_url ")
    assert dials.calls == []


async def test_rebinding_name_is_resolved_once_and_the_checked_address_dialled(
    tmp_path: Path, dials: DialSpy
) -> None:
    async with serve(replying(response(200, jpeg()))) as trap:
        resolver = StubResolver({"rebind.test": [["93.184.216.34"], ["127.0.0.1"]]})
        fetcher = MediaFetcher(video_timeout=2, resolver=resolver)
        err = await rejected(f"http://rebind.test:{trap.port}/v.mp4", "video", tmp_path, fetcher)
    # The public answer was pinned; the test network cannot reach it, so the download fails.
    assert (err.error_message, err.transient) == ("FAILED_DOWNLOADING_VIDEO", True)
    assert resolver.calls == [("rebind.test", trap.port)]
    assert dials.calls == [("93.184.216.34", trap.port)]
    assert trap.accepts == 0


# ----------------------------------------------------------------------------- the origin's answers


@pytest.mark.parametrize(("kind", "code"), [("image", "UNKNOWN"), ("video", "FAILED_DOWNLOADING_VIDEO")])
async def test_redirect_is_not_followed(kind: str, code: str, tmp_path: Path) -> None:
    async with serve(replying(response(200, jpeg()))) as target:
        location = f"http://{HOST}:{target.port}/real.jpg"
        async with serve(replying(response(302, headers=[("Location", location)]))) as srv:
            err = await rejected(f"http://{HOST}:{srv.port}/a", kind, tmp_path)
        assert target.accepts == 0
    assert (err.error_message, err.transient) == (code, False)
    assert "redirect (302)" in err.details


@pytest.mark.parametrize(("status", "transient"), [(404, False), (403, False), (429, True), (503, True)])
async def test_error_status(status: int, transient: bool, tmp_path: Path) -> None:
    async with serve(replying(response(status, b"no"))) as srv:
        err = await rejected(f"http://{HOST}:{srv.port}/v.mp4", "video", tmp_path)
    assert (err.error_message, err.transient) == ("FAILED_DOWNLOADING_VIDEO", transient)
    assert err.details == f"video_url returned HTTP {status}"


async def test_server_that_never_finishes(tmp_path: Path) -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 100000000\r\n\r\n\x00\x00\x00\x18ftypisom"
    handler = streaming(head, b"\x00" * 512, 0.02)
    fetcher = MediaFetcher(
        allow_private_hosts=frozenset({HOST}), video_timeout=0.5, resolver=FETCHER.resolver
    )
    async with serve(handler) as srv:
        start = time.monotonic()
        err = await rejected(f"http://{HOST}:{srv.port}/v.mp4", "video", tmp_path, fetcher)
    assert time.monotonic() - start < 1.5
    assert (err.error_message, err.transient) == ("FAILED_DOWNLOADING_VIDEO", True)
    assert err.details == "fetching video_url timed out"


async def test_video_over_its_cap(tmp_path: Path) -> None:
    video = make_video(tmp_path / "v.mp4").read_bytes()
    dest = tmp_path / "in"
    dest.mkdir()
    fetcher = MediaFetcher(
        allow_private_hosts=frozenset({HOST}), video_max_bytes=len(video) - 1, resolver=FETCHER.resolver
    )
    # Both with a declared length and without one (read until the cap is passed).
    raws = [response(200, video), b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + video]
    for raw in raws:
        async with serve(replying(raw)) as srv:
            err = await rejected(f"http://{HOST}:{srv.port}/v.mp4", "video", dest, fetcher)
        assert (err.error_message, err.transient) == ("FAILED_DOWNLOADING_VIDEO", False)
        assert f"larger than {len(video) - 1} bytes" in err.details


async def test_image_of_8_mb_plus_one(tmp_path: Path) -> None:
    body = b"\xff\xd8\xff" + b"\x00" * (8 * 1024 * 1024 - 2)
    async with serve(replying(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + body)) as srv:
        err = await rejected(f"http://{HOST}:{srv.port}/big.jpg", "image", tmp_path)
    assert err.error_message == "UNKNOWN"
    assert "larger than 8388608 bytes" in err.details


async def test_html_at_a_video_url_is_refused_after_the_first_read(tmp_path: Path, dials: DialSpy) -> None:
    # A gigabyte of "video" that is really a web page.
    head = b"HTTP/1.1 200 OK\r\nContent-Type: video/mp4\r\n\r\n<!DOCTYPE html><html>"
    async with serve(streaming(head, b"<div></div>" * 5000)) as srv:
        err = await rejected(f"http://{HOST}:{srv.port}/v.mp4", "video", tmp_path)
    assert (err.error_message, err.transient) == ("FAILED_PROCESSING_VIDEO", False)
    assert err.details == "the file is an HTML page; an MP4 or MOV video is required"
    assert dials.bytes_read < 1024 * 1024


@pytest.mark.parametrize(
    ("body", "details"),
    [
        (b"GIF89a" + b"\x00" * 600, "the image is a GIF; JPEG or PNG is required"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 " + b"\x00" * 600, "the image is a WebP; JPEG or PNG is required"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "the image is an SVG; JPEG or PNG is required"),
        (b"%PDF-1.5\n" + b"\x00" * 600, "the file is a PDF document, not an image; JPEG or PNG is required"),
    ],
    ids=["gif", "webp", "svg", "pdf"],
)
async def test_wrong_image_format_is_refused_by_its_bytes(body: bytes, details: str, tmp_path: Path) -> None:
    # The origin claims image/jpeg; the bytes decide.
    async with serve(replying(response(200, body, [("Content-Type", "image/jpeg")]))) as srv:
        err = await rejected(f"http://{HOST}:{srv.port}/a.jpg", "image", tmp_path)
    assert (err.error_message, err.details) == ("UNKNOWN", details)
