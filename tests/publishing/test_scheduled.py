"""The one scheduler of Threads posts (publishing/scheduled.py), as the dashboard and the tools call it:
the row and its job in the caller's transaction, the job's create / wait / publish once, cancel, listings."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from tests.factories import ctx_of, make_org, run_jobs
from tests.publishing.helpers import make_profile
from tests.publishing.origin import Origin, image_bytes, origin_server
from threadline.kit.clock import MovableClock
from threadline.kit.ids import new_id
from threadline.publishing import accounts, scheduled
from threadline.publishing import service as publishing
from threadline.publishing.auth import ThreadsPrincipal
from threadline.store.models import JobRecord, ThreadsScheduledPost


@pytest.fixture
def origin() -> Iterator[Origin]:
    with origin_server() as o:
        yield o


@pytest.fixture
def who(app: FastAPI) -> ThreadsPrincipal:
    org = make_org(app)
    p = make_profile(app, "sched_alice", org_id=org.id)
    return accounts.org_principal(ctx_of(app), org.id, p.id)


def _schedule(app: FastAPI, who: ThreadsPrincipal, main: dict[str, object], at: int, **kw: object) -> str:
    ctx = ctx_of(app)
    sid = new_id()
    with ctx.db.write() as s:
        scheduled.schedule(
            s,
            who,
            schedule_id=sid,
            post=dict(main),
            draft=scheduled.Draft([], dict(main)),  # type: ignore[arg-type]
            publish_at=at,
            now=ctx.clock.now_s(),
            **kw,  # type: ignore[arg-type]
        )
    return sid


def _row(app: FastAPI, sid: str) -> ThreadsScheduledPost:
    with ctx_of(app).db.read() as s:
        return s.execute(select(ThreadsScheduledPost).where(ThreadsScheduledPost.id == sid)).scalar_one()


def test_the_job_publishes_once_at_its_time(app: FastAPI, clock: MovableClock, who: ThreadsPrincipal) -> None:
    ctx = ctx_of(app)
    clock.freeze()  # publish_at is read twice below: a second boundary between them must not move it
    sid = _schedule(app, who, {"media_type": "TEXT", "text": "later"}, clock.now_s() + 3600)
    [pending] = scheduled.pending(ctx, who.org_id, str(who.profile_id))
    assert pending == {
        "schedule_id": sid,
        "profile_id": str(who.profile_id),
        "publish_at": clock.now_s() + 3600,
        "status": "scheduled",
        "post_id": None,
        "container_id": None,
        "error": None,
        "post": {"media_type": "TEXT", "text": "later"},
    }
    assert run_jobs(app) == 0
    clock.advance(3600)
    assert run_jobs(app) == 1
    row = _row(app, sid)
    assert row.status == "published"
    assert row.post_id is not None
    node = publishing.read_node(ctx, who, row.post_id, {"fields": "id,text"})
    assert node["text"] == "later"
    assert scheduled.pending(ctx, who.org_id, str(who.profile_id)) == []
    assert [r["status"] for r in scheduled.recent(ctx, who.org_id)] == ["published"]
    assert run_jobs(app) == 0  # done once


def test_the_schedule_is_the_callers_transaction(
    app: FastAPI, clock: MovableClock, who: ThreadsPrincipal
) -> None:
    ctx = ctx_of(app)

    def schedule_then_fail() -> None:
        with ctx.db.write() as s:
            scheduled.schedule(
                s,
                who,
                schedule_id=new_id(),
                post={"text": "x"},
                draft=scheduled.Draft([], {"media_type": "TEXT", "text": "x"}),
                publish_at=clock.now_s() + 60,
                now=clock.now_s(),
            )
            raise RuntimeError("the caller's own write failed")

    with pytest.raises(RuntimeError):
        schedule_then_fail()
    with ctx.db.read() as s:
        assert list(s.execute(select(ThreadsScheduledPost)).scalars()) == []
        kinds = [j.kind for j in s.execute(select(JobRecord)).scalars()]
        assert scheduled.PUBLISH_SCHEDULED not in kinds


def test_cancel_outcomes(app: FastAPI, clock: MovableClock, who: ThreadsPrincipal) -> None:
    ctx = ctx_of(app)
    pid = str(who.profile_id)
    sid = _schedule(app, who, {"media_type": "TEXT", "text": "never"}, clock.now_s() + 60)
    assert scheduled.cancel(ctx, "another-org", pid, sid) == ("not_found", None)
    outcome, row = scheduled.cancel(ctx, who.org_id, pid, sid)
    assert outcome == "cancelled"
    assert row is not None
    assert row["status"] == "cancelled"
    clock.advance(60)
    run_jobs(app)
    assert _row(app, sid).post_id is None
    outcome, row = scheduled.cancel(ctx, who.org_id, pid, sid)
    assert outcome == "not_cancellable"
    assert row is not None
    assert row["status"] == "cancelled"
    assert scheduled.cancel(ctx, who.org_id, pid, "nope") == ("not_found", None)


def test_a_refusal_of_publishing_is_recorded(
    app: FastAPI, clock: MovableClock, who: ThreadsPrincipal
) -> None:
    ctx = ctx_of(app)
    sid = _schedule(app, who, {"media_type": "TEXT", "text": "x", "reply_to_id": "999"}, clock.now_s() + 60)
    clock.advance(60)
    run_jobs(app)
    row = _row(app, sid)
    assert row.status == "failed"
    assert row.error == "(#100) The parameter reply_to_id does not name an existing post"
    [listed] = scheduled.pending(ctx, who.org_id, str(who.profile_id))
    assert listed["status"] == "failed"


def test_an_image_waits_for_processing(
    app: FastAPI, clock: MovableClock, who: ThreadsPrincipal, origin: Origin
) -> None:
    url = origin.add("/dog.png", image_bytes("PNG", (50, 50)), "image/png")
    sid = _schedule(app, who, {"media_type": "IMAGE", "image_url": url}, clock.now_s() + 60)
    clock.advance(60)
    run_jobs(app)  # creates the container (the media job may run in the same pass)
    for _ in range(3):
        clock.advance(scheduled.PROCESSING_RETRY_SECONDS)
        run_jobs(app)
    row = _row(app, sid)
    assert row.status == "published", row.error
    assert row.container_id is not None


def test_a_container_created_already_is_published(
    app: FastAPI, clock: MovableClock, who: ThreadsPrincipal
) -> None:
    ctx = ctx_of(app)
    container_id = publishing.create_container(ctx, who, "me", {"media_type": "TEXT", "text": "made"})
    sid = _schedule(app, who, {"text": "made"}, clock.now_s(), container_id=container_id)
    assert run_jobs(app) == 1
    row = _row(app, sid)
    assert row.status == "published", row.error
    assert row.container_id == container_id
