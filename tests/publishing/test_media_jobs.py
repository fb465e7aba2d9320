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
from tests.publishing.helpers import Profile, error, get, make_profile, post, publish
from tests.publishing.media.videos import make_video
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
