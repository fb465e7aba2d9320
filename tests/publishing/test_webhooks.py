"""Webhooks: subscriptions verified by Meta's hub.challenge GET, signed deliveries to a real local
receiver for replies and mentions, retries with backoff, the dead end, and the delivery log."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import event

from tests.factories import ctx_of, run_jobs
from tests.publishing.helpers import ALL_SCOPES, Profile, make_profile, mint, text_post
from tests.publishing.receiver import Receiver, receiver_server
from threadline.config import Settings
from threadline.kit.clock import MovableClock
from threadline.kit.ids import parse_graph_id
from threadline.publishing.webhooks import enqueue_for_post
from threadline.store.models import ThreadsApp, ThreadsPost


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "webhook_max_attempts": 3,
            "webhook_retry_base_seconds": 10,
            "webhook_timeout_seconds": 0.5,
        }
    )


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiver_server() as rx:
        yield rx


@pytest.fixture
def threads_app(client: TestClient, admin_headers: dict[str, str]) -> dict[str, Any]:
    r = client.post("/admin/v1/apps", json={"name": "Moderation bot"}, headers=admin_headers)
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


@pytest.fixture
def alice(app: FastAPI, threads_app: dict[str, Any]) -> Profile:
    """The install user: she granted the app a token that can read replies."""
    p = make_profile(app, "alice")
    mint(app, p.id, ALL_SCOPES, app_id=threads_app["client_id"])
    return p


@pytest.fixture
def bob(app: FastAPI) -> Profile:
    return make_profile(app, "bob")


def _subscribe(
    client: TestClient,
    admin_headers: dict[str, str],
    client_id: str,
    rx: Receiver,
    fields: list[str] | None = None,
    token: str | None = None,
) -> Any:
    body = {
        "callback_url": rx.url,
        "verify_token": token or rx.verify_token,
        "fields": fields or ["replies", "mentions"],
    }
    return client.post(f"/admin/v1/apps/{client_id}/subscriptions", json=body, headers=admin_headers)


def _subscribed(
    client: TestClient, admin_headers: dict[str, str], threads_app: dict[str, Any], rx: Receiver
) -> dict[str, Any]:
    rx.app_secret = threads_app["client_secret"]
    r = _subscribe(client, admin_headers, threads_app["client_id"], rx)
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return out


def _deliveries(client: TestClient, admin_headers: dict[str, str], client_id: str, **q: str) -> list[Any]:
    r = client.get(f"/admin/v1/apps/{client_id}/deliveries", params=q, headers=admin_headers)
    assert r.status_code == 200, r.text
    data: list[Any] = r.json()["data"]
    return data


def test_subscription_is_verified_listed_and_deleted(
    client: TestClient, admin_headers: dict[str, str], threads_app: dict[str, Any], receiver: Receiver
) -> None:
    sub = _subscribed(client, admin_headers, threads_app, receiver)
    assert sub == {
        "id": sub["id"],
        "client_id": threads_app["client_id"],
        "callback_url": receiver.url,
        "fields": ["mentions", "replies"],
        "active": True,
        "created_at": sub["created_at"],
    }
    [check] = receiver.verifications
    assert check["hub.mode"] == "subscribe"
    assert check["hub.verify_token"] == "let-me-in"
    assert check["hub.challenge"].isdigit()
    path = f"/admin/v1/apps/{threads_app['client_id']}/subscriptions"
    assert client.get(path, headers=admin_headers).json() == {"data": [sub]}
    again = _subscribe(client, admin_headers, threads_app["client_id"], receiver)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "subscription_exists"
    assert client.delete(f"{path}/{sub['id']}", headers=admin_headers).status_code == 204
    assert client.get(path, headers=admin_headers).json() == {"data": []}
    gone = client.delete(f"{path}/{sub['id']}", headers=admin_headers)
    assert gone.status_code == 404
    assert gone.json()["error"]["code"] == "not_found"


def test_wrong_verify_token_is_refused_and_nothing_is_stored(
    client: TestClient, admin_headers: dict[str, str], threads_app: dict[str, Any], receiver: Receiver
) -> None:
    r = _subscribe(client, admin_headers, threads_app["client_id"], receiver, token="not-the-token")
    assert r.status_code == 400
    err = r.json()["error"]
    assert (err["code"], err["param"]) == ("verification_failed", "callback_url")
    assert "HTTP 403" in err["message"]
    assert receiver.verifications[0]["hub.verify_token"] == "not-the-token"
    path = f"/admin/v1/apps/{threads_app['client_id']}/subscriptions"
    assert client.get(path, headers=admin_headers).json() == {"data": []}


def test_callback_that_does_not_echo_the_challenge_is_refused(
    client: TestClient, admin_headers: dict[str, str], threads_app: dict[str, Any], receiver: Receiver
) -> None:
    receiver.mode = "no-echo"
    r = _subscribe(client, admin_headers, threads_app["client_id"], receiver)
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "verification_failed"
    assert "did not echo hub.challenge" in r.json()["error"]["message"]


def test_callback_query_is_kept_in_the_verification(
    client: TestClient, admin_headers: dict[str, str], threads_app: dict[str, Any], receiver: Receiver
) -> None:
    receiver.url += "?tenant=7"
    assert _subscribe(client, admin_headers, threads_app["client_id"], receiver).status_code == 201
    assert receiver.verifications[0]["tenant"] == "7"


def test_subscription_errors(
    app: FastAPI,
    client: TestClient,
    admin_headers: dict[str, str],
    threads_app: dict[str, Any],
    receiver: Receiver,
) -> None:
    cid = threads_app["client_id"]
    unknown = _subscribe(client, admin_headers, "123456789012345678", receiver)
    assert unknown.status_code == 404
    assert unknown.json()["error"]["param"] == "client_id"
    bad_field = client.post(
        f"/admin/v1/apps/{cid}/subscriptions",
        json={"callback_url": receiver.url, "verify_token": "t", "fields": ["likes"]},
        headers=admin_headers,
    )
    assert bad_field.status_code == 400
    private = client.post(
        f"/admin/v1/apps/{cid}/subscriptions",
        json={"callback_url": "http://10.1.2.3/hook", "verify_token": "t", "fields": ["replies"]},
        headers=admin_headers,
    )
    assert private.status_code == 400
    assert private.json()["error"]["code"] == "verification_failed"
    not_http = client.post(
        f"/admin/v1/apps/{cid}/subscriptions",
        json={"callback_url": "ftp://example.com/x", "verify_token": "t", "fields": ["replies"]},
        headers=admin_headers,
    )
    assert not_http.status_code == 400
    assert client.post(f"/admin/v1/apps/{cid}/subscriptions", json={}).status_code == 401
    assert client.get("/admin/v1/apps/123/deliveries", headers=admin_headers).status_code == 404
    assert client.get(f"/admin/v1/apps/{cid}/deliveries?after=x", headers=admin_headers).status_code == 400
    # an app from before 0011 has only the hash of its secret: deliveries could not be signed
    with ctx_of(app).db.write() as s:
        row = s.get(ThreadsApp, int(cid))
        assert row is not None
        row.secret_encrypted = None
    old = _subscribe(client, admin_headers, cid, receiver)
    assert old.status_code == 409
    assert old.json()["error"]["code"] == "app_secret_unavailable"
    assert receiver.verifications == []


def test_reply_is_delivered_signed_in_metas_shape(
    app: FastAPI,
    client: TestClient,
    admin_headers: dict[str, str],
    threads_app: dict[str, Any],
    receiver: Receiver,
    alice: Profile,
    bob: Profile,
    clock: MovableClock,
) -> None:
    sub = _subscribed(client, admin_headers, threads_app, receiver)
    root = text_post(client, alice, "What do you think?")
    first = text_post(client, bob, "Great", reply_to_id=root)
    second = text_post(client, alice, "Thanks", reply_to_id=first)  # deeper: still about alice's root
    assert run_jobs(app) >= 2
    got = sorted((n.json for n in receiver.valid()), key=lambda b: b["values"]["value"]["id"])
    assert len(got) == 2
    assert len(receiver.notifications) == 2
    with ctx_of(app).db.read() as s:
        reply = s.get(ThreadsPost, int(first))
        assert reply is not None
        shortcode, created = reply.shortcode, reply.created_at
    from threadline.publishing.fields import graph_time

    assert got[0] == {
        "app_id": threads_app["client_id"],
        "topic": "moderate",
        "target_id": alice.id,
        "time": got[0]["time"],
        "subscription_id": sub["id"],
        "has_uid_field": False,
        "values": {
            "value": {
                "id": first,
                "username": "bob",
                "text": "Great",
                "media_type": "TEXT_POST",
                "permalink": f"http://127.0.0.1:8000/@bob/post/{shortcode}",
                "replied_to": {"id": root},
                "root_post": {"id": root, "owner_id": alice.id, "username": "alice"},
                "shortcode": shortcode,
                "timestamp": graph_time(created),
            },
            "field": "replies",
        },
    }
    assert got[1]["values"]["value"]["replied_to"] == {"id": first}
    assert got[1]["values"]["value"]["root_post"]["id"] == root
    log = _deliveries(client, admin_headers, threads_app["client_id"])
    assert [d["status"] for d in log] == ["delivered", "delivered"]
    assert {d["media_id"] for d in log} == {first, second}
    assert all(d["attempts"] == 1 and d["last_status_code"] == 200 for d in log)
    assert log[0]["payload"]["values"]["field"] == "replies"


def test_mention_is_delivered_to_the_mentioned_profiles_apps(
    app: FastAPI,
    client: TestClient,
    admin_headers: dict[str, str],
    threads_app: dict[str, Any],
    receiver: Receiver,
    alice: Profile,
    bob: Profile,
) -> None:
    _subscribed(client, admin_headers, threads_app, receiver)
    mid = text_post(client, bob, "Lunch with @Alice and @nobody_here, mail me at bob@alice.com")
    text_post(client, alice, "talking to myself @alice")  # one's own mention is no notification
    run_jobs(app)
    [note] = receiver.valid()
    body = note.json
    assert (body["topic"], body["values"]["field"], body["target_id"]) == (
        "interaction",
        "mentions",
        alice.id,
    )
    value = body["values"]["value"]
    assert (value["id"], value["username"], value["media_type"]) == (mid, "bob", "TEXT_POST")
    assert value["text"].startswith("Lunch with @Alice")
    assert value["is_quote_post"] is False


def test_only_subscribed_fields_and_authorised_apps_are_notified(
    app: FastAPI,
    client: TestClient,
    admin_headers: dict[str, str],
    threads_app: dict[str, Any],
    receiver: Receiver,
    bob: Profile,
) -> None:
    rx = receiver
    rx.app_secret = threads_app["client_secret"]
    assert (
        _subscribe(client, admin_headers, threads_app["client_id"], rx, fields=["mentions"]).status_code
        == 201
    )
    make_profile(app, "carol")  # no token for the app: not an install user
    dave = make_profile(app, "dave")
    mint(app, dave.id, ["threads_basic"], app_id=threads_app["client_id"])  # no threads_read_replies
    root = text_post(client, dave, "dave's post")
    text_post(client, bob, "reply", reply_to_id=root)  # replies: not subscribed
    text_post(client, bob, "hello @carol")
    run_jobs(app)
    assert rx.notifications == []
    text_post(client, bob, "hello @dave")  # mentions need no read_replies scope
    run_jobs(app)
    assert [n.json["target_id"] for n in rx.valid()] == [dave.id]


def test_receiver_answering_500_is_retried_with_backoff_then_dead(
    app: FastAPI,
    client: TestClient,
    admin_headers: dict[str, str],
    threads_app: dict[str, Any],
    receiver: Receiver,
    alice: Profile,
    bob: Profile,
    clock: MovableClock,
) -> None:
    clock.freeze()  # the backoff is checked a second before it is due: a busy machine must not tick past it
    _subscribed(client, admin_headers, threads_app, receiver)
    receiver.mode = "error"
    text_post(client, bob, "hey @alice")
    cid = threads_app["client_id"]
    run_jobs(app)
    [d] = _deliveries(client, admin_headers, cid)
    assert (d["status"], d["attempts"], d["last_status_code"]) == ("pending", 1, 500)
    assert d["last_error"] == "the callback answered HTTP 500"
    clock.advance(9)
    assert run_jobs(app) == 0  # backoff: 10 s after the first failure
    clock.advance(1)
    run_jobs(app)
    assert _deliveries(client, admin_headers, cid)[0]["attempts"] == 2
    clock.advance(19)
    assert run_jobs(app) == 0  # then 20 s
    clock.advance(1)
    run_jobs(app)
    [d] = _deliveries(client, admin_headers, cid)
    assert (d["status"], d["attempts"]) == ("failed", 3)
    assert len(receiver.notifications) == 3
    bodies = {n.body for n in receiver.notifications}
    assert len(bodies) == 1  # every retry carries the same signed body
    assert all(n.signature_ok for n in receiver.notifications)
    clock.advance(3600)
    assert run_jobs(app) == 0
    assert _deliveries(client, admin_headers, cid, status="failed")[0]["id"] == d["id"]
    assert _deliveries(client, admin_headers, cid, status="pending") == []


def test_receiver_down_is_retried_then_fails(
    app: FastAPI,
    client: TestClient,
    admin_headers: dict[str, str],
    threads_app: dict[str, Any],
    receiver: Receiver,
    alice: Profile,
    bob: Profile,
    clock: MovableClock,
) -> None:
    _subscribed(client, admin_headers, threads_app, receiver)
    receiver.stop()
    text_post(client, bob, "are you there @alice")
    run_jobs(app)
    [d] = _deliveries(client, admin_headers, threads_app["client_id"])
    assert (d["status"], d["attempts"], d["last_status_code"]) == ("pending", 1, None)
    assert "failed" in d["last_error"]
    clock.advance(10)
    run_jobs(app)
    clock.advance(20)
    run_jobs(app)
    [d] = _deliveries(client, admin_headers, threads_app["client_id"])
    assert (d["status"], d["attempts"]) == ("failed", 3)


def test_slow_receiver_times_out_and_is_retried(
    app: FastAPI,
    client: TestClient,
    admin_headers: dict[str, str],
    threads_app: dict[str, Any],
    receiver: Receiver,
    alice: Profile,
    bob: Profile,
    clock: MovableClock,
) -> None:
    _subscribed(client, admin_headers, threads_app, receiver)
    receiver.mode, receiver.slow_seconds = "slow", 1.5
    text_post(client, bob, "slowly @alice")
    run_jobs(app)
    [d] = _deliveries(client, admin_headers, threads_app["client_id"])
    assert (d["status"], d["attempts"]) == ("pending", 1)
    assert "timed out" in d["last_error"]
    receiver.mode = "ok"
    clock.advance(10)
    run_jobs(app)
    [d] = _deliveries(client, admin_headers, threads_app["client_id"])
    assert (d["status"], d["attempts"], d["last_status_code"]) == ("delivered", 2, 200)


def test_deleted_subscription_stops_pending_deliveries(
    app: FastAPI,
    client: TestClient,
    admin_headers: dict[str, str],
    threads_app: dict[str, Any],
    receiver: Receiver,
    alice: Profile,
    bob: Profile,
) -> None:
    sub = _subscribed(client, admin_headers, threads_app, receiver)
    text_post(client, bob, "hi @alice")
    path = f"/admin/v1/apps/{threads_app['client_id']}/subscriptions/{sub['id']}"
    assert client.delete(path, headers=admin_headers).status_code == 204
    run_jobs(app)
    assert receiver.notifications == []
    [d] = _deliveries(client, admin_headers, threads_app["client_id"])
    assert (d["status"], d["last_error"]) == ("failed", "the subscription was deleted")


def test_fan_out_reads_do_not_grow_with_the_mentions(
    app: FastAPI,
    client: TestClient,
    admin_headers: dict[str, str],
    threads_app: dict[str, Any],
    receiver: Receiver,
    bob: Profile,
) -> None:
    """The publish transaction's fan-out makes the same reads for one mention as for five, and still
    notifies each mentioned install user once per subscription."""
    _subscribed(client, admin_headers, threads_app, receiver)
    users = [make_profile(app, f"user{i}") for i in range(5)]
    for user in users:
        mint(app, user.id, ["threads_basic"], app_id=threads_app["client_id"])
    one = text_post(client, bob, "hi @user0")
    five = text_post(client, bob, "hi " + " ".join(f"@{u.username}" for u in users))
    db = ctx_of(app).db

    def fan_out(media_id: str) -> tuple[int, list[str]]:
        seen: list[str] = []

        def record(*args: Any) -> None:
            seen.append(str(args[2]))

        created = 0
        with contextlib.suppress(_Undo), db.write() as s:
            post = s.get(ThreadsPost, parse_graph_id(media_id))
            assert post is not None
            # On this transaction's connection only: a background poll on another one is not counted.
            conn = s.connection()
            event.listen(conn, "before_cursor_execute", record)
            try:
                created = enqueue_for_post(s, post, now=post.created_at)
            finally:
                event.remove(conn, "before_cursor_execute", record)
            raise _Undo  # rolled back: the deliveries were made at publish time, these are copies
        reads = [q for q in seen if q.lstrip().upper().startswith("SELECT")]
        return created, reads

    (one_made, one_reads), (five_made, five_reads) = fan_out(one), fan_out(five)
    assert (one_made, five_made) == (1, 5)
    assert len(one_reads) == len(five_reads) == 3  # profiles, tokens, subscriptions
    run_jobs(app)
    assert sorted(n.json["target_id"] for n in receiver.valid()) == sorted(
        [users[0].id] + [u.id for u in users]
    )


class _Undo(Exception):
    """Raised to roll a test's write transaction back."""
