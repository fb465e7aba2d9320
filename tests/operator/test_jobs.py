"""GET /admin/v1/jobs: the durable job table by state, keyset-paged, admin only."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.factories import ctx_of
from threadline.kit.clock import MovableClock
from threadline.kit.jobs import Job, JobWorker, enqueue, queue


@pytest.fixture
def clock() -> MovableClock:
    """Frozen: the assertions compare the stored times with the clock's."""
    return MovableClock(frozen=True)


def _seed(app: FastAPI, clock: MovableClock) -> dict[str, int]:
    """One job in each state: done, dead (one attempt, its error kept), queued for later, running."""
    ctx = ctx_of(app)

    def broken(_job: Job) -> None:
        raise RuntimeError("upstream said no")

    ctx.jobs.register("test.ok", lambda _job: None)
    ctx.jobs.register("test.broken", broken)
    ctx.jobs.register("test.slow", lambda _job: None)
    now = clock.now_s()
    with ctx.db.write() as s:
        ids = {
            "done": enqueue(s, "test.ok", {"n": 1}, now=now),
            "dead": enqueue(s, "test.broken", {"n": 2}, now=now, max_attempts=1),
            "queued": enqueue(s, "test.ok", {"n": 3}, now=now, run_at=now + 3600),
        }
    JobWorker(ctx.db, ctx.jobs, ctx.clock).run_pending()
    with ctx.db.write() as s:
        ids["running"] = enqueue(s, "test.slow", {"n": 4}, now=now)
    with ctx.db.write() as s:  # claimed by a worker that is still at it
        queue.claim(s, kinds=["test.slow"], owner="w1", now=now, lease_seconds=600, limit=1)
    return ids


def test_jobs_listed_by_state(
    app: FastAPI, client: TestClient, admin_headers: dict[str, str], clock: MovableClock
) -> None:
    ids = _seed(app, clock)
    now = clock.now_s()

    r = client.get("/admin/v1/jobs", headers=admin_headers)
    assert r.status_code == 200
    page = r.json()
    assert [j["id"] for j in page["data"]] == sorted(ids.values(), reverse=True)
    assert (page["object"], page["count"], page["has_more"]) == ("list", 4, False)
    assert (page["first_id"], page["last_id"]) == (ids["running"], ids["done"])

    def only(state: str) -> dict[str, Any]:
        r = client.get("/admin/v1/jobs", params={"state": state}, headers=admin_headers)
        assert r.status_code == 200
        [job] = r.json()["data"]
        assert job["state"] == state
        return dict(job)

    dead = only("dead")
    assert dead["id"] == ids["dead"]
    assert (dead["kind"], dead["payload"], dead["attempts"], dead["max_attempts"]) == (
        "test.broken",
        {"n": 2},
        1,
        1,
    )
    assert dead["last_error"].splitlines()[0] == "RuntimeError: upstream said no"
    assert dead["finished_at"] == now
    done = only("done")
    assert {k: done[k] for k in ("id", "kind", "attempts", "last_error", "finished_at", "lease_until")} == {
        "id": ids["done"],
        "kind": "test.ok",
        "attempts": 1,
        "last_error": None,
        "finished_at": now,
        "lease_until": None,
    }
    queued = only("queued")
    assert (queued["id"], queued["run_at"], queued["attempts"], queued["owner"]) == (
        ids["queued"],
        now + 3600,
        0,
        None,
    )
    running = only("running")
    assert (running["id"], running["owner"], running["lease_until"], running["run_at"]) == (
        ids["running"],
        "w1",
        now + 600,
        now + 600,
    )
    assert set(running) == {
        "id",
        "kind",
        "state",
        "payload",
        "attempts",
        "max_attempts",
        "run_at",
        "lease_until",
        "owner",
        "last_error",
        "created_at",
        "updated_at",
        "finished_at",
    }


def test_jobs_are_keyset_paged(
    app: FastAPI, client: TestClient, admin_headers: dict[str, str], clock: MovableClock
) -> None:
    ctx = ctx_of(app)
    with ctx.db.write() as s:
        ids = [enqueue(s, "test.page", {"i": i}, now=clock.now_s()) for i in range(5)]
    r = client.get("/admin/v1/jobs", params={"state": "queued", "limit": 2}, headers=admin_headers)
    first = r.json()
    assert ([j["id"] for j in first["data"]], first["has_more"]) == ([ids[4], ids[3]], True)
    r = client.get(
        "/admin/v1/jobs",
        params={"state": "queued", "limit": 2, "after": first["last_id"]},
        headers=admin_headers,
    )
    assert [j["id"] for j in r.json()["data"]] == [ids[2], ids[1]]
    r = client.get("/admin/v1/jobs", params={"order": "asc", "after": ids[3]}, headers=admin_headers)
    assert ([j["id"] for j in r.json()["data"]], r.json()["has_more"]) == ([ids[4]], False)
    r = client.get("/admin/v1/jobs", params={"before": ids[2], "limit": 1}, headers=admin_headers)
    assert ([j["id"] for j in r.json()["data"]], r.json()["has_more"]) == ([ids[3]], True)
    # A job that is not in the listed state is no cursor there.
    r = client.get("/admin/v1/jobs", params={"state": "dead", "after": ids[0]}, headers=admin_headers)
    assert r.status_code == 400
    assert r.json()["error"]["param"] == "after"


def test_bad_queries_are_400_in_the_operator_shape(client: TestClient, admin_headers: dict[str, str]) -> None:
    r = client.get("/admin/v1/jobs", params={"state": "finished"}, headers=admin_headers)
    assert r.status_code == 400
    err = r.json()["error"]
    assert (err["type"], err["param"], err["code"]) == ("invalid_request_error", "state", "invalid_value")
    assert set(r.json()) == {"error"}
    assert err["message"].startswith("state: ")
    for cursor in ("nope", "-1", "1.5", "99999999999999999999", "٣"):
        r = client.get("/admin/v1/jobs", params={"after": cursor}, headers=admin_headers)
        assert r.status_code == 400, cursor
        assert r.json() == {
            "error": {
                "message": "No such object for cursor after.",
                "type": "invalid_request_error",
                "param": "after",
                "code": "invalid_value",
            }
        }
    r = client.get("/admin/v1/jobs", params={"before": "12345"}, headers=admin_headers)
    assert (r.status_code, r.json()["error"]["param"]) == (400, "before")
    r = client.get("/admin/v1/jobs", params={"limit": 0}, headers=admin_headers)
    assert (r.status_code, r.json()["error"]["param"]) == (400, "limit")


def test_jobs_need_the_admin_token(client: TestClient) -> None:
    r = client.get("/admin/v1/jobs", params={"state": "bogus"})
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "auth_required"
    r = client.get("/admin/v1/jobs", headers={"Authorization": "Bearer adm_wrong"})
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "invalid_api_key"


def test_jobs_in_openapi_with_error_bodies(client: TestClient) -> None:
    op = client.get("/openapi.json").json()["paths"]["/admin/v1/jobs"]["get"]
    assert set(op["responses"]) == {"200", "400", "401"}
    for status in ("400", "401"):
        ref = op["responses"][status]["content"]["application/json"]["schema"]["$ref"]
        assert ref == "#/components/schemas/ErrorResponse"
    state = next(p for p in op["parameters"] if p["name"] == "state")
    assert state["in"] == "query"
