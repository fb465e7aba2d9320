"""The published `threads-client` against a real server process: base_url=<base>/v1.0, nothing else changed."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from threads_client import ThreadsClient
from threads_client.exceptions import ThreadsAPIError, ThreadsAuthenticationError
from threads_client.models import CarouselMediaItem
from threads_client.resources.posts import PostsResource

from tests.databases import fresh_database
from tests.e2e.server import ServerProcess
from tests.e2e.support import STORES, admin_headers, server_env
from tests.publishing.media.videos import make_video
from tests.publishing.origin import Origin, image_bytes, origin_server
from threadline.config import Settings
from threadline.context import build_context
from threadline.kit.clock import MovableClock
from threadline.publishing import accounts
from threadline.publishing.schemas import AppCreate, ProfileCreate, TokenCreate
from threadline.store.migrate import upgrade

pytestmark = pytest.mark.e2e
SCOPES: list[Any] = ["threads_basic", "threads_content_publish", "threads_delete"]


@pytest.fixture(params=STORES)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with fresh_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def origin() -> Iterator[Origin]:
    with origin_server() as o:
        yield o


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[ServerProcess]:
    env = server_env(
        database_url,
        THREADLINE_ALLOW_PRIVATE_FETCH_HOSTS="127.0.0.1",
        THREADLINE_JOBS_POLL_SECONDS="0.1",
    )
    proc = ServerProcess(tmp_path / "data", env)
    proc.start()
    yield proc
    proc.stop()


def _seed(database_url: str, tmp_path: Path) -> dict[str, str]:
    """A profile with a long-lived token minted 25 h ago (refreshable), and an app with a short token."""
    upgrade(database_url)
    settings = Settings(data_dir=tmp_path / "seed", database_url=database_url, secret_key="e2e-secret-key")
    ctx = build_context(settings)
    try:
        from tests.factories import seed_org

        org = seed_org(ctx, "Acme", card=None)
        profile = accounts.create_profile(ctx, org.org.id, ProfileCreate(username="acme"))
        app = accounts.create_app(ctx, AppCreate(name="client-test"))
        short = accounts.create_token(
            ctx, profile.id, TokenCreate(scopes=SCOPES, lifetime="short", app_id=app.client_id)
        )
        ctx.clock = MovableClock(start=time.time() - 25 * 3600)
        long = accounts.create_token(ctx, profile.id, TokenCreate(scopes=SCOPES, lifetime="long"))
    finally:
        ctx.db.dispose()
    return {
        "profile_id": profile.id,
        "long": long.access_token,
        "short": short.access_token,
        "secret": app.client_secret,
    }


@pytest.fixture
def fast_polling(monkeypatch: pytest.MonkeyPatch) -> None:
    # The client polls every 5 s by default; our worker finishes in well under a second.
    kwdefaults = dict(PostsResource.poll_container_status.__kwdefaults__ or {})
    kwdefaults["delay"] = 0.2
    monkeypatch.setattr(PostsResource.poll_container_status, "__kwdefaults__", kwdefaults)


def test_threads_client_flows(
    server: ServerProcess, database_url: str, tmp_path: Path, origin: Origin, fast_polling: None
) -> None:
    seeded = _seed(database_url, tmp_path)
    image = origin.add("/photo.jpg", image_bytes("JPEG", (800, 600)), "image/jpeg")
    video = origin.add("/clip.mp4", make_video(tmp_path / "clip.mp4", frames=30).read_bytes(), "video/mp4")
    base = server.base_url + "/v1.0"

    async def flows() -> None:
        async with ThreadsClient(seeded["long"], base_url=base) as client:
            text = await client.posts.create("Hello from threads-client #Threadline", topic_tag="Demo")
            assert text.post_id != text.container_id
            with_image = await client.posts.create("A photo", image_url=image)
            with_video = await client.posts.create("A clip", video_url=video)
            album = await client.posts.create_carousel(
                "An album",
                items=[
                    CarouselMediaItem(media_type="IMAGE", url=image),
                    CarouselMediaItem(media_type="VIDEO", url=video),
                ],
            )
            status = await client.posts.get_container_status(album.container_id)
            assert status.status == "PUBLISHED"

            page = await client.posts.list(limit=2)
            assert [p.id for p in page.data] == [album.post_id, with_video.post_id]
            assert page.data[0].media_type == "CAROUSEL_ALBUM"
            assert page.data[0].permalink
            assert page.data[0].permalink.startswith(server.base_url + "/@acme/post/")
            listed = [p.id async for p in client.posts.iter_posts(limit=2)]
            assert listed == [album.post_id, with_video.post_id, with_image.post_id, text.post_id]

            assert await client.posts.delete(with_image.post_id) is True
            listed = [p.id async for p in client.posts.iter_posts(limit=10)]
            assert with_image.post_id not in listed

            refreshed = await client.tokens.refresh(seeded["long"])
            assert refreshed.expires_in == 60 * 86400
            long = await client.tokens.exchange(seeded["short"], seeded["secret"])
            assert long.expires_in == 60 * 86400
            assert long.token_type == "bearer"

        async with ThreadsClient(long.access_token, base_url=base) as again:
            assert len((await again.posts.list()).data) == 3
        async with ThreadsClient("TH_not_a_token", base_url=base) as bad:
            with pytest.raises(ThreadsAuthenticationError):
                await bad.posts.list()
        async with ThreadsClient(seeded["long"], base_url=base) as client:
            with pytest.raises(ThreadsAPIError) as refused:
                await client.posts.create("x" * 501)
            assert refused.value.code == 100

    asyncio.run(flows())
    # the permalink is a real page of the server
    page = httpx.get(f"{server.base_url}/@acme/post/nothing", timeout=10)
    assert page.status_code == 404
    limits = httpx.get(
        f"{base}/me/threads_publishing_limit",
        params={"access_token": seeded["long"], "fields": "quota_usage"},
    ).json()
    assert limits == {"data": [{"quota_usage": 4}]}
    assert httpx.get(f"{server.base_url}/admin/v1/apps", headers=admin_headers()).status_code == 200
