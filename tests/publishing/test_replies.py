"""Replies and conversations: reply_to_id, the read fields, replies/conversation listings, manage_reply."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.publishing.helpers import (
    Profile,
    create_text,
    error,
    get,
    make_profile,
    mint,
    post,
    publish,
    text_post,
)
from threadline.publishing import follows


@pytest.fixture
def alice(app: FastAPI) -> Profile:
    return make_profile(app, "alice")


@pytest.fixture
def bob(app: FastAPI) -> Profile:
    return make_profile(app, "bob")


@pytest.fixture
def carol(app: FastAPI) -> Profile:
    return make_profile(app, "carol")


def reply(client: TestClient, p: Profile, to: str, text: str = "a reply", **extra: Any) -> str:
    return text_post(client, p, text, reply_to_id=to, **extra)


def ids(r: Any) -> list[str]:
    assert r.status_code == 200, r.text
    return [d["id"] for d in r.json()["data"]]


def refused(client: TestClient, p: Profile, to: str) -> str:
    r = post(client, "me/threads", p.token, media_type="TEXT", text="no", reply_to_id=to)
    body = error(r)
    assert body["code"] == 100
    assert body["type"] == "THApiException"
    assert "error_subcode" not in body
    message: str = body["message"]
    assert message.startswith("(#100) The parameter reply_to_id ")
    return message


def test_reply_read_fields(client: TestClient, alice: Profile, bob: Profile) -> None:
    root = text_post(client, alice, "root", reply_control="everyone")
    r1 = reply(client, bob, root)
    r2 = reply(client, alice, r1, "deeper")
    fields = "id,is_reply,root_post,replied_to,has_replies,is_reply_owned_by_me,reply_audience,hide_status"
    assert get(client, root, alice.token, fields=fields).json() == {
        "id": root,
        "is_reply": False,
        "root_post": {"id": root},
        "has_replies": True,
        "is_reply_owned_by_me": False,
        "reply_audience": "EVERYONE",
        "hide_status": "NOT_HUSHED",
    }
    assert get(client, r2, alice.token, fields=fields).json() == {
        "id": r2,
        "is_reply": True,
        "root_post": {"id": root},
        "replied_to": {"id": r1},
        "has_replies": False,
        "is_reply_owned_by_me": True,
        "reply_audience": "EVERYONE",
        "hide_status": "NOT_HUSHED",
    }
    # Replies use the reply quota, not the post quota.
    limits = get(client, "me/threads_publishing_limit", bob.token, fields="quota_usage,reply_quota_usage")
    assert limits.json() == {"data": [{"quota_usage": 0, "reply_quota_usage": 1}]}
    # A reply is not in the profile's thread listing; it is in the profile's replies.
    assert ids(get(client, "me/threads", bob.token)) == []
    assert ids(get(client, "me/replies", bob.token)) == [r1]
    assert ids(get(client, f"{bob.id}/replies", bob.token)) == [r1]


def test_replies_and_conversation_listings(client: TestClient, alice: Profile, bob: Profile) -> None:
    root = text_post(client, alice, "root")
    a = reply(client, bob, root, "a")
    b = reply(client, alice, root, "b")
    a1 = reply(client, alice, a, "a1")
    a11 = reply(client, bob, a1, "a11")
    assert ids(get(client, f"{root}/replies", alice.token)) == [b, a]
    assert ids(get(client, f"{root}/replies", alice.token, reverse="false")) == [a, b]
    assert ids(get(client, f"{root}/conversation", alice.token)) == [a11, a1, b, a]
    assert ids(get(client, f"{root}/conversation", alice.token, reverse="false")) == [a, b, a1, a11]
    # Below a reply: only its subtree.
    assert ids(get(client, f"{a}/conversation", alice.token, reverse="false")) == [a1, a11]
    # The replier reads the replies below its own reply.
    assert ids(get(client, f"{a}/replies", bob.token)) == [a1]
    got = get(client, f"{root}/replies", alice.token, fields="text,is_reply,replied_to", reverse="false")
    assert got.json()["data"][0] == {"id": a, "text": "a", "is_reply": True, "replied_to": {"id": root}}


def test_conversation_paging(client: TestClient, alice: Profile) -> None:
    root = text_post(client, alice, "root")
    made = [reply(client, alice, root, f"r{i}") for i in range(5)]
    first = get(client, f"{root}/conversation", alice.token, limit="2", reverse="false").json()
    assert [d["id"] for d in first["data"]] == made[:2]
    assert "previous" not in first["paging"]
    second = get(
        client,
        f"{root}/conversation",
        alice.token,
        limit="2",
        reverse="false",
        after=first["paging"]["cursors"]["after"],
    ).json()
    assert [d["id"] for d in second["data"]] == made[2:4]
    assert "reverse=false" in second["paging"]["next"]
    back = get(
        client,
        f"{root}/conversation",
        alice.token,
        limit="2",
        reverse="false",
        before=second["paging"]["cursors"]["before"],
    ).json()
    assert [d["id"] for d in back["data"]] == made[:2]
    assert error(get(client, f"{root}/replies", alice.token, limit="0"))["code"] == 100
    assert error(get(client, f"{root}/replies", alice.token, after="!!"))["code"] == 100
    assert error(get(client, f"{root}/conversation", alice.token, reverse="sideways"))["code"] == 100


def test_reply_scopes(app: FastAPI, client: TestClient, alice: Profile, bob: Profile) -> None:
    root = text_post(client, alice, "root")
    no_manage = mint(app, bob.id, ["threads_basic", "threads_content_publish", "threads_read_replies"])
    r = post(client, "me/threads", no_manage, media_type="TEXT", text="x", reply_to_id=root)
    assert error(r)["code"] == 10
    no_read = mint(app, alice.id, ["threads_basic", "threads_content_publish", "threads_manage_replies"])
    assert error(get(client, f"{root}/replies", no_read))["code"] == 10
    assert error(get(client, f"{root}/conversation", no_read))["code"] == 10
    r1 = reply(client, bob, root)
    read_only = mint(app, alice.id, ["threads_basic", "threads_read_replies"])
    assert error(post(client, f"{r1}/manage_reply", read_only, hide="true"))["code"] == 10


def test_foreign_posts_are_not_listed(
    client: TestClient, alice: Profile, bob: Profile, carol: Profile
) -> None:
    root = text_post(client, alice, "root")
    reply(client, bob, root)
    # carol neither wrote the post nor owns its conversation: as for an unknown object.
    body = error(get(client, f"{root}/replies", carol.token))
    assert (body["code"], body["error_subcode"]) == (100, 33)
    body = error(get(client, f"{root}/conversation", carol.token))
    assert (body["code"], body["error_subcode"]) == (100, 33)
    # Reading another profile's reply by id is refused, even for the conversation's author.
    mine = reply(client, bob, root, "bob's")
    assert error(get(client, mine, alice.token))["error_subcode"] == 33


def test_reply_to_deleted_ghost_and_unknown_posts(client: TestClient, alice: Profile, bob: Profile) -> None:
    gone = text_post(client, alice, "soon gone")
    assert client.delete(f"/v1.0/{gone}", params={"access_token": alice.token}).json()["success"] is True
    assert refused(client, bob, gone) == "(#100) The parameter reply_to_id does not name an existing post"
    ghost = text_post(client, alice, "boo", is_ghost_post="true")
    assert refused(client, bob, ghost) == (
        "(#100) The parameter reply_to_id names a ghost post, which cannot be replied to"
    )
    assert refused(client, bob, "123") == "(#100) The parameter reply_to_id does not name an existing post"
    # A cycle attempt: the only way to name a not-yet-published reply is its container, never a post.
    root = text_post(client, alice, "root")
    pending = create_text(client, bob, "pending", reply_to_id=root)
    assert refused(client, bob, pending) == "(#100) The parameter reply_to_id does not name an existing post"


def test_reply_target_deleted_between_create_and_publish(
    client: TestClient, alice: Profile, bob: Profile
) -> None:
    root = text_post(client, alice, "root")
    cid = create_text(client, bob, "late", reply_to_id=root)
    client.delete(f"/v1.0/{root}", params={"access_token": alice.token})
    body = error(publish(client, bob, cid))
    assert body["message"] == "(#100) The parameter reply_to_id does not name an existing post"


def test_manage_reply(client: TestClient, alice: Profile, bob: Profile, carol: Profile) -> None:
    root = text_post(client, alice, "root")
    r1 = reply(client, bob, root, "rude")
    assert post(client, f"{r1}/manage_reply", alice.token, hide="true").json() == {"success": True}
    fields = "hide_status"
    listed = get(client, f"{root}/replies", alice.token, fields=fields).json()["data"]
    assert listed == [{"id": r1, "hide_status": "HIDDEN"}]
    # Nobody but the conversation's author may reply to a hidden reply.
    assert refused(client, carol, r1) == (
        "(#100) The parameter reply_to_id names a reply the conversation's author has hidden"
    )
    reply(client, alice, r1, "the author still can")
    assert post(client, f"{r1}/manage_reply", alice.token, hide="false").json() == {"success": True}
    assert (
        get(client, f"{root}/replies", alice.token, fields=fields).json()["data"][0]["hide_status"]
        == "UNHUSHED"
    )
    # Someone else (the reply's own author included) cannot: as for an unknown object.
    for who in (bob, carol):
        body = error(post(client, f"{r1}/manage_reply", who.token, hide="true"))
        assert (body["code"], body["error_subcode"]) == (100, 33)
    # Not a reply, bad or missing hide.
    assert error(post(client, f"{root}/manage_reply", alice.token, hide="true"))["error_subcode"] == 33
    assert error(post(client, f"{r1}/manage_reply", alice.token))["message"] == (
        "(#100) The parameter hide is required (true or false)"
    )
    assert error(post(client, f"{r1}/manage_reply", alice.token, hide="maybe"))["code"] == 100
    assert error(post(client, "nope/manage_reply", alice.token, hide="true"))["error_subcode"] == 33


@pytest.mark.parametrize(
    ("control", "allowed", "why"),
    [
        ("everyone", {"bob", "carol"}, ""),
        ("accounts_you_follow", {"bob"}, "accounts its author follows"),
        ("followers_only", {"carol"}, "its author's followers"),
        ("mentioned_only", {"carol"}, "accounts mentioned in it"),
        ("parent_post_author_only", set(), "its author"),
    ],
)
def test_reply_control(
    app: FastAPI,
    client: TestClient,
    alice: Profile,
    bob: Profile,
    carol: Profile,
    control: str,
    allowed: set[str],
    why: str,
) -> None:
    from tests.factories import ctx_of

    ctx = ctx_of(app)
    follows.follow(ctx, alice.id, bob.id)  # alice follows bob
    follows.follow(ctx, carol.id, alice.id)  # carol follows alice
    root = text_post(client, alice, "hello @Carol, and @nobody.", reply_control=control)
    for who in (bob, carol):
        if who.username in allowed:
            r = reply(client, who, root)
            assert (
                get(client, r, who.token, fields="reply_audience").json()["reply_audience"] == control.upper()
            )
        else:
            assert refused(client, who, root) == (
                f"(#100) The parameter reply_to_id names a post that only {why} can reply to "
                f"(reply_control={control})"
            )
    # The author may always reply, and the rule of the root holds deeper in the conversation.
    mine = reply(client, alice, root, "me")
    if "bob" not in allowed:
        refused(client, bob, mine)


def test_conversation_costs_the_same_queries_for_any_size(
    app: FastAPI, client: TestClient, alice: Profile
) -> None:
    from sqlalchemy import event

    from tests.factories import ctx_of

    engine = ctx_of(app).db.engine
    fields = "id,text,username,replied_to,root_post,has_replies,quoted_post,reposted_post,poll_attachment"

    def statements(node: str) -> int:
        # The fewest of three reads: the listener is engine-wide, so a background poll (the serving
        # index) or a key-cache refill may land inside one read; the read's own cost is the floor.
        return min(one_read(node) for _ in range(3))

    def one_read(node: str) -> int:
        seen: list[str] = []

        def record(*args: Any) -> None:
            seen.append(str(args[2]))

        event.listen(engine, "before_cursor_execute", record)
        try:
            assert (
                get(client, f"{node}/conversation", alice.token, fields=fields, limit="100").status_code
                == 200
            )
        finally:
            event.remove(engine, "before_cursor_execute", record)
        return len(seen)

    small = text_post(client, alice, "small")
    reply(client, alice, small)
    big = text_post(client, alice, "big")
    parent = big
    for i in range(30):
        parent = reply(client, alice, parent if i % 2 else big, f"r{i}")
    assert statements(small) == statements(big)
