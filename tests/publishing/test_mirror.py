"""Mirroring, in process: the upstream link API and CLI, the token encrypted at rest, which posts get a
mirror job, and the paths that fail without reaching an upstream (the e2e tests run a real upstream)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from tests.factories import ctx_of, run_jobs
from tests.publishing.helpers import Profile, cli_json, make_profile, text_post
from threadline import cli
from threadline.kit.clock import MovableClock
from threadline.kit.jobs import queue
from threadline.publishing.mirror import LONG_LIVED_SECONDS, MIRROR, MIRROR_DELETE
from threadline.store.models import JobRecord, ThreadsUpstreamLink

TOKEN = "THupstream_secret_token_value"


@pytest.fixture
def alice(app: FastAPI) -> Profile:
    return make_profile(app, "alice")


def _link(client: TestClient, headers: dict[str, str], profile_id: str, **body: Any) -> Any:
    payload = {"base_url": "https://graph.threads.net/v1.0", "access_token": TOKEN, "user_id": "me", **body}
    return client.put(f"/admin/v1/profiles/{profile_id}/upstream", json=payload, headers=headers)


def test_link_is_shown_without_the_token_which_is_encrypted_at_rest(
    app: FastAPI, client: TestClient, admin_headers: dict[str, str], alice: Profile, clock: MovableClock
) -> None:
    r = _link(client, admin_headers, alice.id)
    assert r.status_code == 200, r.text
    now = clock.now_s()
    assert r.json() == {
        "profile_id": alice.id,
        "base_url": "https://graph.threads.net/v1.0",
        "user_id": "me",
        "token_expires_at": now + LONG_LIVED_SECONDS,
        "token_refreshed_at": None,
        "created_at": now,
        "updated_at": now,
    }
    path = f"/admin/v1/profiles/{alice.id}/upstream"
    assert client.get(path, headers=admin_headers).json() == r.json()
    with ctx_of(app).db.read() as s:
        row = s.get(ThreadsUpstreamLink, int(alice.id))
        assert row is not None
        assert TOKEN not in row.token_encrypted
    relinked = _link(client, admin_headers, alice.id, user_id="12345", token_expires_at=now + 99)
    assert (relinked.json()["user_id"], relinked.json()["token_expires_at"]) == ("12345", now + 99)
    assert client.delete(path, headers=admin_headers).status_code == 204
    for r in (client.get(path, headers=admin_headers), client.delete(path, headers=admin_headers)):
        assert r.status_code == 404
        assert r.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    "body",
    [
        {"base_url": "ftp://graph.threads.net/v1.0"},
        {"base_url": "https://user:pw@graph.threads.net/v1.0"},
        {"base_url": "graph.threads.net"},
        {"user_id": "someone"},
        {"access_token": ""},
        {"token_expires_at": -1},
        {"extra": 1},
    ],
)
def test_bad_links_are_refused(
    client: TestClient, admin_headers: dict[str, str], alice: Profile, body: dict[str, Any]
) -> None:
    r = _link(client, admin_headers, alice.id, **body)
    assert r.status_code == 400, r.text
    assert r.json()["error"]["type"] == "invalid_request_error"


def test_unknown_profile_and_media(client: TestClient, admin_headers: dict[str, str]) -> None:
    assert _link(client, admin_headers, "123456789012345678").status_code == 404
    assert client.get("/admin/v1/profiles/nope/upstream", headers=admin_headers).status_code == 404
    r = client.get("/admin/v1/media/123456789012345678/mirror", headers=admin_headers)
    assert r.status_code == 404
    assert r.json()["error"]["param"] == "media_id"
    assert client.get("/admin/v1/media/1/mirror").status_code == 401


def _mirror_jobs(app: FastAPI) -> list[JobRecord]:
    with ctx_of(app).db.read() as s:
        return list(s.execute(select(JobRecord).where(JobRecord.kind == MIRROR)).scalars())


def test_only_linked_profiles_top_level_posts_and_mirrored_threads_get_a_mirror(
    app: FastAPI, client: TestClient, admin_headers: dict[str, str], alice: Profile
) -> None:
    bob = make_profile(app, "bob")
    before = text_post(client, alice, "before the link")
    assert _mirror_jobs(app) == []
    assert client.get(f"/admin/v1/media/{before}/mirror", headers=admin_headers).status_code == 404
    _link(client, admin_headers, alice.id)
    root = text_post(client, alice, "mirrored")
    text_post(client, bob, "bob is not linked")
    reply = text_post(client, alice, "a reply in a mirrored thread", reply_to_id=root)
    text_post(client, alice, "a reply to an unmirrored post", reply_to_id=before)
    payloads = sorted(int(j.payload["post_id"]) for j in _mirror_jobs(app))
    assert payloads == sorted([int(root), int(reply)])
    m = client.get(f"/admin/v1/media/{root}/mirror", headers=admin_headers).json()
    assert m == {
        "media_id": root,
        "status": "pending",
        "upstream_media_id": None,
        "error": None,
        "attempts": 0,
    }


def test_unlinked_before_the_job_runs_fails_with_the_reason(
    app: FastAPI, client: TestClient, admin_headers: dict[str, str], alice: Profile
) -> None:
    _link(client, admin_headers, alice.id)
    media_id = text_post(client, alice, "orphan")
    client.delete(f"/admin/v1/profiles/{alice.id}/upstream", headers=admin_headers)
    run_jobs(app)
    m = client.get(f"/admin/v1/media/{media_id}/mirror", headers=admin_headers).json()
    assert (m["status"], m["attempts"]) == ("failed", 1)
    assert m["error"] == "the profile is no longer linked to an upstream account"


def test_an_upstream_at_a_refused_address_fails_without_retrying(
    app: FastAPI, client: TestClient, admin_headers: dict[str, str], alice: Profile
) -> None:
    _link(client, admin_headers, alice.id, base_url="http://10.9.8.7/v1.0")
    media_id = text_post(client, alice, "nowhere to go")
    run_jobs(app)
    m = client.get(f"/admin/v1/media/{media_id}/mirror", headers=admin_headers).json()
    assert m["status"] == "failed"
    assert m["error"].startswith("upstream unreachable:")
    assert [j.state for j in _mirror_jobs(app)] == [queue.DONE]


def test_an_unreachable_upstream_is_retried_with_backoff(
    app: FastAPI, client: TestClient, admin_headers: dict[str, str], alice: Profile, clock: MovableClock
) -> None:
    clock.freeze()  # run_at is compared to a later reading of the clock
    _link(client, admin_headers, alice.id, base_url="http://127.0.0.1:9/v1.0")  # discard port: closed
    media_id = text_post(client, alice, "later")
    run_jobs(app)
    m = client.get(f"/admin/v1/media/{media_id}/mirror", headers=admin_headers).json()
    assert (m["status"], m["attempts"]) == ("pending", 1)
    assert "upstream unreachable" in m["error"]
    [job] = _mirror_jobs(app)
    assert job.run_at == clock.now_s() + 5  # mirror_retry_base_seconds
    # deleting the local post meanwhile: the mirror job settles it as deleted (nothing was created)
    r = client.delete(f"/v1.0/{media_id}", params={"access_token": alice.token})
    assert r.status_code == 200
    clock.advance(5)
    run_jobs(app)
    m = client.get(f"/admin/v1/media/{media_id}/mirror", headers=admin_headers).json()
    assert (m["status"], m["attempts"], m["upstream_media_id"]) == ("deleted", 2, None)


def test_cli_links_shows_and_unlinks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run = cli_json(tmp_path, monkeypatch)
    runner = CliRunner()

    org = run("orgs", "create", "Acme")
    run("profiles", "create", org["id"], "acme")
    expires = int(time.time()) + 86400
    linked = run(
        "profiles", "upstream", "link", "acme", "--access-token", TOKEN, "--token-expires-at", str(expires)
    )
    assert (linked["base_url"], linked["user_id"], linked["token_expires_at"]) == (
        "https://graph.threads.net/v1.0",
        "me",
        expires,
    )
    assert "access_token" not in linked
    assert run("profiles", "upstream", "show", "acme") == linked
    done = runner.invoke(cli.app, ["profiles", "upstream", "unlink", "acme"])
    assert done.exit_code == 0
    assert "no longer mirrored" in done.stdout
    missing = runner.invoke(cli.app, ["profiles", "upstream", "show", "acme"])
    assert missing.exit_code == 1
    assert "No such upstream link" in missing.stderr
    bad = runner.invoke(
        cli.app, ["profiles", "upstream", "link", "acme", "--access-token", "t", "--base-url", "x"]
    )
    assert bad.exit_code == 1
    assert "base_url" in bad.stderr


def test_reposts_of_mirrored_posts_get_a_mirror_and_their_deletion_a_delete_job(
    app: FastAPI, client: TestClient, admin_headers: dict[str, str], alice: Profile
) -> None:
    bob = make_profile(app, "bob")
    unmirrored = text_post(client, bob, "bob is not linked")
    _link(client, admin_headers, alice.id)
    mirrored = text_post(client, alice, "mirrored")
    auth = {"access_token": alice.token}
    repost = client.post(f"/v1.0/{mirrored}/repost", params=auth).json()["id"]
    not_mirrored = client.post(f"/v1.0/{unmirrored}/repost", params=auth).json()["id"]
    payloads = sorted(int(j.payload["post_id"]) for j in _mirror_jobs(app))
    assert payloads == sorted([int(mirrored), int(repost)])
    assert client.get(f"/admin/v1/media/{not_mirrored}/mirror", headers=admin_headers).status_code == 404
    # reposting again answers the same repost and enqueues nothing more
    assert client.post(f"/v1.0/{mirrored}/repost", params=auth).json() == {"id": repost}
    assert len(_mirror_jobs(app)) == 2
    r = client.delete(f"/v1.0/{repost}", params=auth)
    assert r.status_code == 200, r.text
    with ctx_of(app).db.read() as s:
        kinds = [
            j.kind for j in s.execute(select(JobRecord).where(JobRecord.kind == MIRROR_DELETE)).scalars()
        ]
        assert kinds == [MIRROR_DELETE]


def test_a_repost_whose_original_mirror_failed_fails_with_the_reason(
    app: FastAPI, client: TestClient, admin_headers: dict[str, str], alice: Profile, clock: MovableClock
) -> None:
    _link(client, admin_headers, alice.id, base_url="http://10.9.8.7/v1.0")
    original = text_post(client, alice, "refused upstream")
    repost = client.post(f"/v1.0/{original}/repost", params={"access_token": alice.token}).json()["id"]
    run_jobs(app)
    clock.advance(60)  # past the backoff, should the repost have waited for its original
    run_jobs(app)
    assert (
        client.get(f"/admin/v1/media/{original}/mirror", headers=admin_headers).json()["status"] == "failed"
    )
    m = client.get(f"/admin/v1/media/{repost}/mirror", headers=admin_headers).json()
    assert (m["status"], m["upstream_media_id"]) == ("failed", None)
    assert m["error"] == "the reposted post was not mirrored"
