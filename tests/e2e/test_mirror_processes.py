"""Mirroring end to end: a Threadline server mirrors a linked profile to a SECOND Threadline server
process acting as the upstream Threads account (it speaks the same Graph protocol), through a proxy
that can take the upstream down, answer Graph errors, or hold a publish while we SIGKILL the mirror."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.databases import fresh_database
from tests.e2e.server import ServerProcess
from tests.e2e.support import STORES, admin_headers, server_env
from tests.e2e.upstream_proxy import Proxy, upstream_proxy
from tests.publishing.origin import Origin, image_bytes, origin_server
from tests.waiting import eventually
from threadline.config import Settings
from threadline.context import build_context
from threadline.kit.clock import MovableClock
from threadline.publishing import accounts
from threadline.publishing.schemas import ProfileCreate, TokenCreate
from threadline.store.migrate import upgrade

pytestmark = pytest.mark.e2e
UPSTREAM_SCOPES: list[Any] = [
    "threads_basic",
    "threads_content_publish",
    "threads_delete",
    "threads_manage_replies",
]
FAST = {
    "THREADLINE_ALLOW_PRIVATE_FETCH_HOSTS": "127.0.0.1",
    "THREADLINE_JOBS_POLL_SECONDS": "0.1",
    "THREADLINE_JOBS_LEASE_SECONDS": "3",
    "THREADLINE_MIRROR_RETRY_BASE_SECONDS": "1",
    "THREADLINE_MIRROR_RETRY_MAX_SECONDS": "1",
}


@dataclass
class Upstream:
    server: ServerProcess
    profile_id: str
    token: str  # minted 25 h ago: old enough to refresh

    def posts(self) -> list[dict[str, Any]]:
        r = httpx.get(
            f"{self.server.base_url}/v1.0/me/threads",
            params={"access_token": self.token, "fields": "id,text,media_type,children", "limit": 100},
            timeout=10,
        )
        assert r.status_code == 200, r.text
        data: list[dict[str, Any]] = r.json()["data"]
        return data


@dataclass
class Local:
    server: ServerProcess
    profile_id: str
    token: str

    def post(self, path: str, **data: Any) -> Any:
        r = httpx.post(
            f"{self.server.base_url}/v1.0/{path}", data={**data, "access_token": self.token}, timeout=10
        )
        assert r.status_code == 200, r.text
        return r.json()

    def text_post(self, text: str) -> str:
        return str(self.post("me/threads", media_type="TEXT", text=text, auto_publish_text="true")["id"])

    def mirror(self, media_id: str) -> dict[str, Any]:
        r = httpx.get(
            f"{self.server.base_url}/admin/v1/media/{media_id}/mirror", headers=admin_headers(), timeout=10
        )
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body

    def mirrored(self, media_id: str, status: str = "published", timeout: float = 30) -> dict[str, Any]:
        return eventually(
            lambda: m if (m := self.mirror(media_id))["status"] == status else None,
            timeout=timeout,
            what=f"mirror {status}",
        )


def _seed_upstream(url: str, data_dir: Path) -> tuple[str, str]:
    """A new upstream account (its own profile, so its posts are this test's alone) and its token."""
    settings = Settings(data_dir=data_dir, database_url=url, secret_key="e2e-secret-key")
    ctx = build_context(settings)
    try:
        from tests.factories import seed_org

        org = seed_org(ctx, "Upstream", card=None)
        username = f"real_acme_{uuid.uuid4().hex[:8]}"
        profile = accounts.create_profile(ctx, org.org.id, ProfileCreate(username=username))
        ctx.clock = MovableClock(start=time.time() - 25 * 3600)
        token = accounts.create_token(ctx, profile.id, TokenCreate(scopes=UPSTREAM_SCOPES, lifetime="long"))
    finally:
        ctx.db.dispose()
    return profile.id, token.access_token


# One upstream server for the module (starting one costs seconds): it only plays Threads, and each
# test gets an account of its own on it.
@pytest.fixture(scope="module")
def upstream_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, str]]:
    up = tmp_path_factory.mktemp("up")
    with fresh_database("sqlite", up) as url:
        upgrade(url)
        proc = ServerProcess(up / "data", server_env(url, **FAST))
        proc.start()
        try:
            yield proc, url
        finally:
            proc.stop()


@pytest.fixture
def upstream(upstream_server: tuple[ServerProcess, str], tmp_path: Path) -> Upstream:
    proc, url = upstream_server
    profile_id, token = _seed_upstream(url, tmp_path / "seed")
    return Upstream(proc, profile_id, token)


@pytest.fixture
def proxy(upstream: Upstream) -> Iterator[Proxy]:
    with upstream_proxy(upstream.server.base_url) as px:
        yield px


@pytest.fixture(params=STORES)
def local_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ServerProcess]:
    (tmp_path / "local").mkdir()
    with fresh_database(request.param, tmp_path / "local") as url:
        upgrade(url)
        proc = ServerProcess(tmp_path / "local" / "data", server_env(url, **FAST))
        proc.start()
        try:
            yield proc
        finally:
            proc.stop()


def _link(local_server: ServerProcess, upstream: Upstream, proxy: Proxy, **extra: Any) -> Local:
    http = httpx.Client(base_url=local_server.base_url, headers=admin_headers(), timeout=10)
    org = http.post("/admin/v1/orgs", json={"name": "Acme", "url": "https://acme.example.com"}).json()
    profile = http.post(f"/admin/v1/orgs/{org['id']}/profiles", json={"username": "acme"}).json()
    token = http.post(
        f"/admin/v1/profiles/{profile['id']}/tokens", json={"scopes": UPSTREAM_SCOPES, "lifetime": "long"}
    ).json()["access_token"]
    body = {"base_url": proxy.url + "/v1.0", "access_token": upstream.token, "user_id": "me", **extra}
    r = http.put(f"/admin/v1/profiles/{profile['id']}/upstream", json=body)
    assert r.status_code == 200, r.text
    assert "access_token" not in r.json()
    return Local(local_server, profile["id"], token)


@pytest.fixture
def origin() -> Iterator[Origin]:
    with origin_server() as o:
        yield o


def test_text_and_carousel_are_mirrored_then_deleted_and_the_token_refreshed(
    local_server: ServerProcess, upstream: Upstream, proxy: Proxy, origin: Origin
) -> None:
    soon = int(time.time()) + 3600  # inside the refresh margin: the first job refreshes it
    local = _link(local_server, upstream, proxy, token_expires_at=soon)
    text_id = local.text_post("Hello upstream #mirror")
    done = local.mirrored(text_id)
    assert done["attempts"] >= 1
    assert done["error"] is None
    [copy] = upstream.posts()
    assert (copy["id"], copy["text"], copy["media_type"]) == (
        done["upstream_media_id"],
        "Hello upstream #mirror",
        "TEXT_POST",
    )
    link = httpx.get(
        f"{local_server.base_url}/admin/v1/profiles/{local.profile_id}/upstream", headers=admin_headers()
    ).json()
    assert link["token_refreshed_at"] is not None
    assert link["token_expires_at"] > soon + 50 * 86400
    assert proxy.calls("/refresh_access_token") == 1

    image = origin.add("/a.jpg", image_bytes("JPEG", (640, 480)), "image/jpeg")
    kids = [
        local.post("me/threads", media_type="IMAGE", image_url=image, is_carousel_item="true")["id"]
        for _ in range(2)
    ]
    album = local.post("me/threads", media_type="CAROUSEL", children=",".join(kids), text="An album")["id"]
    published = eventually(
        lambda: (
            r.json()
            if (
                r := httpx.post(
                    f"{local_server.base_url}/v1.0/me/threads_publish",
                    data={"creation_id": album, "access_token": local.token},
                )
            ).status_code
            == 200
            else None
        ),
        timeout=30,
        what="carousel ready",
    )
    album_id = str(published["id"])
    mirrored = local.mirrored(album_id)
    copies = {p["id"]: p for p in upstream.posts()}
    assert copies[mirrored["upstream_media_id"]]["media_type"] == "CAROUSEL_ALBUM"
    assert len(copies[mirrored["upstream_media_id"]]["children"]["data"]) == 2
    assert proxy.calls("/threads_publish") == 2

    r = httpx.delete(f"{local_server.base_url}/v1.0/{text_id}", params={"access_token": local.token})
    assert r.status_code == 200, r.text
    gone = local.mirrored(text_id, "deleted")
    assert gone["upstream_media_id"] == done["upstream_media_id"]
    assert [p["id"] for p in upstream.posts()] == [mirrored["upstream_media_id"]]


def test_upstream_down_then_erroring_then_back_publishes_once(
    local_server: ServerProcess, upstream: Upstream, proxy: Proxy
) -> None:
    local = _link(local_server, upstream, proxy)
    proxy.mode = "down"
    media_id = local.text_post("Written while upstream was down")
    eventually(
        lambda: m if (m := local.mirror(media_id))["attempts"] >= 2 else None, timeout=20, what="retries"
    )
    m = local.mirror(media_id)
    assert m["status"] == "pending"
    assert "HTTP 503" in m["error"]
    proxy.mode = "graph_error"
    eventually(
        lambda: m if "2/None" in ((m := local.mirror(media_id))["error"] or "") else None,
        timeout=20,
        what="transient Graph error recorded",
    )
    proxy.mode = "pass"
    done = local.mirrored(media_id)
    assert done["error"] is None
    assert [p["text"] for p in upstream.posts()] == ["Written while upstream was down"]


def test_revoked_upstream_token_fails_the_mirror_with_the_reason(
    local_server: ServerProcess, upstream: Upstream, proxy: Proxy
) -> None:
    local = _link(local_server, upstream, proxy)
    up = httpx.Client(base_url=upstream.server.base_url, headers=admin_headers(), timeout=10)
    fresh = up.post(
        f"/admin/v1/profiles/{upstream.profile_id}/tokens",
        json={"scopes": UPSTREAM_SCOPES, "lifetime": "long"},
    ).json()
    r = httpx.put(
        f"{local_server.base_url}/admin/v1/profiles/{local.profile_id}/upstream",
        json={"base_url": proxy.url + "/v1.0", "access_token": fresh["access_token"], "user_id": "me"},
        headers=admin_headers(),
    )
    assert r.status_code == 200
    ok = local.text_post("before the revocation")
    local.mirrored(ok)
    assert up.post(f"/admin/v1/profiles/{upstream.profile_id}/tokens/{fresh['id']}/revoke").status_code == 204
    media_id = local.text_post("after the revocation")
    failed = local.mirrored(media_id, "failed")
    assert "190" in failed["error"]
    assert [p["text"] for p in upstream.posts()] == ["before the revocation"]


def test_sigkill_during_the_mirror_publish_leaves_exactly_one_upstream_post(
    local_server: ServerProcess, upstream: Upstream, proxy: Proxy
) -> None:
    local = _link(local_server, upstream, proxy)
    proxy.hold_publish()
    media_id = local.text_post("Survives a SIGKILL")
    eventually(lambda: proxy.held or None, timeout=20, what="the publish to reach the proxy")
    local_server.kill()  # the mirror job dies after recording the container, before the publish answer
    proxy.release()  # upstream now publishes, answering a dead client
    eventually(lambda: upstream.posts() or None, timeout=20, what="the upstream post")
    local_server.start()
    done = local.mirrored(media_id)
    posts = upstream.posts()
    assert [p["text"] for p in posts] == ["Survives a SIGKILL"]
    assert done["upstream_media_id"] == posts[0]["id"]
    assert done["attempts"] >= 2
    assert proxy.calls("/threads_publish") >= 2  # the re-run published the same container again


def test_replies_quotes_and_reposts_point_at_the_upstream_copies(
    local_server: ServerProcess, upstream: Upstream, proxy: Proxy
) -> None:
    local = _link(local_server, upstream, proxy)
    links = f"{local_server.base_url}/admin/v1/profiles/{local.profile_id}/upstream"
    link_body = {"base_url": proxy.url + "/v1.0", "access_token": upstream.token, "user_id": "me"}
    assert httpx.delete(links, headers=admin_headers()).status_code == 204
    unmirrored = local.text_post("written while unlinked")
    assert httpx.put(links, json=link_body, headers=admin_headers()).status_code == 200
    original = local.text_post("the original")
    up_original = local.mirrored(original)["upstream_media_id"]

    reply = str(
        local.post(
            "me/threads", media_type="TEXT", text="a reply", reply_to_id=original, auto_publish_text="true"
        )["id"]
    )
    quote = str(
        local.post(
            "me/threads", media_type="TEXT", text="a quote", quote_post_id=original, auto_publish_text="true"
        )["id"]
    )
    lone = str(
        local.post(
            "me/threads",
            media_type="TEXT",
            text="quoting the unmirrored",
            quote_post_id=unmirrored,
            auto_publish_text="true",
        )["id"]
    )
    repost = str(local.post(f"{original}/repost")["id"])
    up = {
        name: local.mirrored(media_id)
        for name, media_id in {"reply": reply, "quote": quote, "lone": lone, "repost": repost}.items()
    }
    assert [up[n]["error"] for n in ("reply", "quote", "repost")] == [None, None, None]
    assert up["lone"]["error"] == "published without its quote: the quoted post has no upstream copy"

    def node(media_id: str, fields: str) -> httpx.Response:
        return httpx.get(
            f"{upstream.server.base_url}/v1.0/{media_id}",
            params={"access_token": upstream.token, "fields": fields},
            timeout=10,
        )

    assert node(up["reply"]["upstream_media_id"], "text,replied_to").json()["replied_to"] == {
        "id": up_original
    }
    q = node(up["quote"]["upstream_media_id"], "text,is_quote_post,quoted_post").json()
    assert (q["text"], q["is_quote_post"], q["quoted_post"]) == ("a quote", True, {"id": up_original})
    lone_copy = node(up["lone"]["upstream_media_id"], "text,is_quote_post").json()
    assert (lone_copy["text"], lone_copy["is_quote_post"]) == ("quoting the unmirrored", False)
    r = node(up["repost"]["upstream_media_id"], "media_type,reposted_post").json()
    assert (r["media_type"], r["reposted_post"]) == ("REPOST_FACADE", {"id": up_original})
    assert proxy.calls("/repost") == 1

    gone = httpx.delete(f"{local_server.base_url}/v1.0/{repost}", params={"access_token": local.token})
    assert gone.status_code == 200, gone.text
    assert local.mirrored(repost, "deleted")["upstream_media_id"] == up["repost"]["upstream_media_id"]
    missing = node(up["repost"]["upstream_media_id"], "id")
    assert (missing.status_code, missing.json()["error"]["code"]) == (400, 100)
    assert node(up_original, "id").status_code == 200  # the original's copy stays
