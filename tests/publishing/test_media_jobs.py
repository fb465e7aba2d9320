"""IMAGE / VIDEO / CAROUSEL containers processed by the durable media job, end to end through the API."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import select

from tests.factories import ctx_of, run_jobs
from tests.media.test_images import _png_with_header
from tests.publishing.helpers import Profile, error, get, make_profile, post, publish
from tests.publishing.media.videos import make_video, not_a_video, truncated_copy
from tests.publishing.origin import Origin, image_bytes, origin_server
from threadline.kit.jobs import JobWorker
from threadline.publishing import jobs as publishing_jobs
from threadline.store.models import JobRecord, ThreadsContainer


@pytest.fixture
def origin() -> Iterator[Origin]:
    with origin_server() as o:
        yield o


@pytest.fixture
def alice(app: FastAPI) -> Profile:
    return make_profile(app, "alice")


def create(client: TestClient, p: Profile, **data: Any) -> str:
    r = post(client, "me/threads", p.token, **data)
    assert r.status_code == 200, r.text
    return str(r.json()["id"])


def status(client: TestClient, p: Profile, cid: str) -> dict[str, Any]:
    out: dict[str, Any] = get(client, cid, p.token, fields="status,error_message,error_details").json()
    return out


def local(url: str) -> str:
    return url.replace("http://127.0.0.1:8000", "")


def test_image_post_from_a_url(app: FastAPI, client: TestClient, alice: Profile, origin: Origin) -> None:
    url = origin.add("/cat.jpg", image_bytes("JPEG", (100, 80)), "image/jpeg")
    cid = create(client, alice, media_type="IMAGE", image_url=url, text="A cat", alt_text="a blue cat")
    assert status(client, alice, cid) == {"id": cid, "status": "IN_PROGRESS"}
    assert error(publish(client, alice, cid))["error_subcode"] == 4279009
    assert run_jobs(app) == 1
    assert status(client, alice, cid) == {"id": cid, "status": "FINISHED"}
    mid = publish(client, alice, cid).json()["id"]
    got = get(client, mid, alice.token, fields="media_type,media_url,alt_text,permalink,text").json()
    assert got["media_type"] == "IMAGE"
    assert got["alt_text"] == "a blue cat"
    rendition = client.get(local(got["media_url"]))
    assert rendition.status_code == 200
    assert rendition.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(rendition.content)).width == 320  # 100 px wide: stored upscaled
    page = client.get(local(got["permalink"])).text
    assert f'<meta property="og:image" content="{got["media_url"]}">' in page


@pytest.mark.parametrize(
    ("body", "message", "details"),
    [
        (image_bytes("GIF"), "UNKNOWN", "GIF"),
        (image_bytes("JPEG", (1100, 100)), "UNKNOWN", "aspect"),
        (b"%PDF-1.4 not an image", "UNKNOWN", ""),
    ],
    ids=["gif", "11-to-1", "pdf"],
)
def test_refused_images_end_in_error(
    app: FastAPI, client: TestClient, alice: Profile, origin: Origin, body: bytes, message: str, details: str
) -> None:
    cid = create(client, alice, media_type="IMAGE", image_url=origin.add("/x", body))
    run_jobs(app)
    got = status(client, alice, cid)
    assert got["status"] == "ERROR"
    assert got["error_message"] == message
    assert details.lower() in got["error_details"].lower()
    e = error(publish(client, alice, cid))
    assert e["code"] == 100
    assert "ERROR" in e["message"]


def test_unreachable_and_private_urls(
    app: FastAPI, client: TestClient, alice: Profile, origin: Origin
) -> None:
    missing = create(client, alice, media_type="IMAGE", image_url=f"{origin.base}/nothing.jpg")
    private = create(client, alice, media_type="VIDEO", video_url="http://10.0.0.1/v.mp4")
    run_jobs(app)
    assert status(client, alice, missing)["error_message"] == "UNKNOWN"
    assert status(client, alice, private)["error_message"] == "FAILED_DOWNLOADING_VIDEO"


def test_video_and_mixed_carousel(
    app: FastAPI, client: TestClient, alice: Profile, origin: Origin, tmp_path: Path
) -> None:
    video = make_video(tmp_path / "clip.mp4", width=64, height=64, fps=30, frames=30).read_bytes()
    vurl = origin.add("/clip.mp4", video, "video/mp4")
    iurl = origin.add("/a.jpg", image_bytes(), "image/jpeg")
    v = create(client, alice, media_type="VIDEO", video_url=vurl, is_carousel_item="true")
    i = create(client, alice, image_url=iurl, is_carousel_item="true")  # seed 004: media_type inferred
    carousel = create(
        client, alice, media_type="CAROUSEL", children=f"{v},{i}", text="Album #Trip", is_spoiler_media="true"
    )
    e = error(publish(client, alice, carousel))
    assert (e["code"], e["error_subcode"]) == (24, 4279004)
    run_jobs(app)
    assert status(client, alice, v)["status"] == "FINISHED"
    assert status(client, alice, carousel) == {"id": carousel, "status": "FINISHED"}
    mid = publish(client, alice, carousel).json()["id"]
    got = get(client, mid, alice.token, fields="media_type,children,topic_tag,is_spoiler_media").json()
    assert got["media_type"] == "CAROUSEL_ALBUM"
    assert got["topic_tag"] == "Trip"
    assert got["is_spoiler_media"] is True
    kids = [c["id"] for c in got["children"]["data"]]
    first = get(client, kids[0], alice.token, fields="media_type,media_url,thumbnail_url").json()
    assert first["media_type"] == "VIDEO"
    assert client.get(local(first["media_url"])).headers["content-type"] == "video/mp4"
    assert client.get(local(first["thumbnail_url"])).headers["content-type"] == "image/jpeg"
    assert get(client, "me/threads_publishing_limit", alice.token).json() == {"data": [{"quota_usage": 1}]}
    # the album is listed once; its items are not posts of their own
    assert [p["id"] for p in get(client, "me/threads", alice.token).json()["data"]] == [mid]
    html = client.get(
        f"/@alice/post/{get(client, mid, alice.token, fields='shortcode').json()['shortcode']}"
    ).text
    assert "<video" in html
    assert 'class="media spoiler"' in html


def test_job_is_in_the_containers_transaction_and_a_lost_worker_is_recovered(
    app: FastAPI, client: TestClient, alice: Profile, origin: Origin, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = ctx_of(app)
    cid = create(
        client, alice, media_type="IMAGE", image_url=origin.add("/b.png", image_bytes("PNG"), "image/png")
    )
    with ctx.db.read() as s:
        jobs = (
            s.execute(select(JobRecord).where(JobRecord.kind == "publishing.process_media")).scalars().all()
        )
        assert [j.payload for j in jobs] == [{"container_id": int(cid)}]

    # A worker that dies mid-job (after storing the rendition, before recording it): the job stays
    # `running` until its lease expires.
    def die_before_recording(*args: Any, **kwargs: Any) -> bool:
        raise SystemExit("worker killed")

    with monkeypatch.context() as m:
        m.setattr(publishing_jobs, "record_outcome", die_before_recording)
        with pytest.raises(SystemExit):
            JobWorker(ctx.db, ctx.jobs, ctx.clock, lease_seconds=60).run_pending()
    assert status(client, alice, cid)["status"] == "IN_PROGRESS"
    assert run_jobs(app) == 0  # still leased to the dead worker
    ctx.clock.advance(61)  # type: ignore[attr-defined]
    assert run_jobs(app) == 1
    assert status(client, alice, cid) == {"id": cid, "status": "FINISHED"}
    with ctx.db.read() as s:
        container = s.get(ThreadsContainer, int(cid))
        assert container is not None
        assert container.media_file_id is not None
    assert run_jobs(app) == 0


# Every media case of the issue, through the API and the durable job (so on each store): the
# container's status and Meta's error_message. The rules themselves are unit-tested in media/.
def _image_case(name: str) -> bytes:
    if name == "webp":
        return image_bytes("WEBP")
    if name == "svg":
        return b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="400" height="300"/>'
    if name == "truncated-jpeg":
        data = image_bytes("JPEG", (800, 600))
        return data[: len(data) // 2]
    if name == "bomb":
        return _png_with_header(100_000, 100_000, complete_rows=False)
    if name == "8mb-plus-one":
        return b"\xff\xd8\xff" + b"\x00" * (8 * 1024 * 1024 - 2)
    if name == "100px":
        return image_bytes("JPEG", (100, 75))
    raise AssertionError(name)


@pytest.mark.parametrize(
    ("case", "status_and_message"),
    [
        ("webp", ("ERROR", "UNKNOWN")),
        ("svg", ("ERROR", "UNKNOWN")),
        ("truncated-jpeg", ("ERROR", "UNKNOWN")),
        ("bomb", ("ERROR", "UNKNOWN")),
        ("8mb-plus-one", ("ERROR", "UNKNOWN")),
        ("100px", ("FINISHED", None)),
    ],
)
def test_each_image_case_through_the_job(
    app: FastAPI,
    client: TestClient,
    alice: Profile,
    origin: Origin,
    case: str,
    status_and_message: tuple[str, str | None],
) -> None:
    cid = create(client, alice, media_type="IMAGE", image_url=origin.add(f"/{case}", _image_case(case)))
    assert run_jobs(app) == 1
    got = status(client, alice, cid)
    assert (got["status"], got.get("error_message")) == status_and_message, got
    if status_and_message[0] == "ERROR":
        assert got["error_details"]
    assert run_jobs(app) == 0  # decided once: nothing left to retry


def _video_case(name: str, tmp_path: Path) -> bytes:
    path = tmp_path / f"{name}.mp4"
    if name == "h264-aac-mp4":
        make_video(path)
    elif name == "hevc-mov":
        make_video(path, container="mov", codec="hevc", width=96, height=64)
    elif name == "10fps":
        make_video(path, fps=10, frames=10)
    elif name == "90fps":
        make_video(path, fps=90, frames=20)
    elif name == "301s":
        make_video(path, frames=12, duration_s=301.0, audio=None)
    elif name == "2000px":
        make_video(path, width=2000, height=400, frames=2)
    elif name == "6-channels":
        make_video(path, audio_layout="5.1")
    elif name == "mp3":
        make_video(path, audio="mp3")
    elif name == "moov-at-end":
        make_video(path, faststart=False)
    elif name == "truncated":
        truncated_copy(make_video(tmp_path / "full.mp4", frames=20), path, 0.6)
    elif name == "not-a-video":
        not_a_video(path)
    else:
        raise AssertionError(name)
    return path.read_bytes()


@pytest.mark.parametrize(
    ("case", "status_and_message"),
    [
        ("h264-aac-mp4", ("FINISHED", None)),
        ("hevc-mov", ("FINISHED", None)),
        ("moov-at-end", ("FINISHED", None)),
        ("10fps", ("ERROR", "INVALID_FRAME_RATE")),
        ("90fps", ("ERROR", "INVALID_FRAME_RATE")),
        ("301s", ("ERROR", "INVALID_DURATION")),
        ("2000px", ("ERROR", "FAILED_PROCESSING_VIDEO")),
        ("6-channels", ("ERROR", "INVALID_AUDIO_CHANNELS")),
        ("mp3", ("ERROR", "FAILED_PROCESSING_AUDIO")),
        ("truncated", ("ERROR", "FAILED_PROCESSING_VIDEO")),
        ("not-a-video", ("ERROR", "FAILED_PROCESSING_VIDEO")),
    ],
)
def test_each_video_case_through_the_job(
    app: FastAPI,
    client: TestClient,
    alice: Profile,
    origin: Origin,
    tmp_path: Path,
    case: str,
    status_and_message: tuple[str, str | None],
) -> None:
    url = origin.add(f"/{case}.mp4", _video_case(case, tmp_path), "video/mp4")
    cid = create(client, alice, media_type="VIDEO", video_url=url)
    assert run_jobs(app) == 1
    got = status(client, alice, cid)
    assert (got["status"], got.get("error_message")) == status_and_message, got
    if status_and_message[0] == "FINISHED":
        mid = publish(client, alice, cid).json()["id"]
        read = get(client, mid, alice.token, fields="media_url,thumbnail_url").json()
        rendition = client.get(local(read["media_url"]))
        assert rendition.status_code == 200
        assert rendition.content[4:8] == b"ftyp"
        # stored with its index first, whatever the upload's layout
        assert rendition.content.find(b"moov") < rendition.content.find(b"mdat")
        assert client.get(local(read["thumbnail_url"])).headers["content-type"] == "image/jpeg"
    else:
        assert got["error_details"]
