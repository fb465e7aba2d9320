"""A media job whose `threadline worker` process is SIGKILLed mid-fetch: after the lease another worker
takes it, and the container ends FINISHED exactly once."""

from __future__ import annotations

import http.server
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.databases import fresh_database
from tests.e2e.test_jobs_processes import WorkerProcess, jobs_env, wait_for
from tests.factories import seed_org
from tests.publishing.origin import image_bytes
from threadline.config import Settings
from threadline.context import build_context
from threadline.publishing import accounts, service
from threadline.publishing.auth import resolve_token
from threadline.publishing.jobs import PROCESS_MEDIA
from threadline.publishing.schemas import ProfileCreate, TokenCreate
from threadline.store.db import Database
from threadline.store.migrate import upgrade
from threadline.store.models import JobRecord, ThreadsContainer

pytestmark = pytest.mark.e2e

STORES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


class _StallingOrigin(http.server.BaseHTTPRequestHandler):
    """The first GET hangs until released (the worker dies during it); later ones get the image."""

    body = b""
    requests = 0
    first_seen = threading.Event()
    release = threading.Event()

    def do_GET(self) -> None:
        cls = type(self)
        cls.requests += 1
        if cls.requests == 1:
            cls.first_seen.set()
            cls.release.wait(60)
            return  # the connection closes without an answer
        self.send_response(200)
        self.send_header("Content-Type", "image/jpeg")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def origin() -> Iterator[tuple[str, type[_StallingOrigin]]]:
    handler = type(
        "Origin",
        (_StallingOrigin,),
        {"body": image_bytes("JPEG"), "first_seen": threading.Event(), "release": threading.Event()},
    )
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/photo.jpg", handler
    finally:
        handler.release.set()
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("kind", STORES)
def test_worker_killed_mid_processing_the_container_still_finishes_once(
    kind: str,
    tmp_path: Path,
    origin: tuple[str, type[_StallingOrigin]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    image_url, handler = origin
    with fresh_database(kind, tmp_path) as url:
        upgrade(url)
        data_dir = tmp_path / "data"
        env = {**jobs_env(url, data_dir), "THREADLINE_ALLOW_PRIVATE_FETCH_HOSTS": "127.0.0.1"}
        for key in ("THREADLINE_SECRET_KEY", "THREADLINE_DATABASE_URL", "THREADLINE_DATA_DIR"):
            monkeypatch.setenv(key, env[key])
        ctx = build_context(Settings())
        db = Database(url)
        workers: list[WorkerProcess] = []
        try:
            org = seed_org(ctx, "Media crash", "", card=None)
            profile = accounts.create_profile(ctx, org.org.id, ProfileCreate(username="crash"))
            token = accounts.create_token(
                ctx,
                profile.id,
                TokenCreate.model_validate({"scopes": ["threads_basic", "threads_content_publish"]}),
            )
            principal = resolve_token(ctx, token.access_token)
            cid = int(
                service.create_container(
                    ctx, principal, "me", {"media_type": "IMAGE", "image_url": image_url}
                )
            )

            def job() -> JobRecord:
                with db.read() as s:
                    row = s.execute(select(JobRecord).where(JobRecord.kind == PROCESS_MEDIA)).scalar_one()
                return row

            def container() -> ThreadsContainer:
                with db.read() as s:
                    row = s.get(ThreadsContainer, cid)
                assert row is not None
                return row

            a = WorkerProcess(env, tmp_path / "a.log")
            workers.append(a)
            a.wait_ready()
            assert handler.first_seen.wait(60), "worker A never fetched the image"
            a.proc.send_signal(signal.SIGKILL)
            assert a.proc.wait(10) == -signal.SIGKILL
            held = job()
            assert (held.state, held.attempts) == ("running", 1)
            assert container().status == "IN_PROGRESS"
            handler.release.set()

            b = WorkerProcess(env, tmp_path / "b.log")
            workers.append(b)
            b.wait_ready()
            wait_for(lambda: container().status != "IN_PROGRESS" or None, 60, "worker B to finish")
            assert b.terminate() == 0

            done = container()
            assert done.status == "FINISHED"
            assert done.error_message is None
            assert done.media_file_id is not None
            assert (data_dir / "media" / done.media_file_id).is_file()
            finished = job()
            assert (finished.state, finished.attempts, finished.last_error) == ("done", 2, None)
            assert handler.requests == 2  # A's fetch (lost with A) and B's, nothing more
            assert f"attempt 2/{finished.max_attempts}: done" in b.output()
        finally:
            for w in workers:
                w.kill()
            db.dispose()
            ctx.db.dispose()
