"""Graph field expansion (``children{id,media_type}``, ``owner{username}``) and a carousel's items."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.factories import ctx_of
from tests.publishing.helpers import Profile, error, get, make_profile, post, publish, text_post
from threadline.publishing import fields as F
from threadline.publishing.errors import GraphError
from threadline.publishing.processing import Outcome, record_outcome


@pytest.fixture
def alice(app: FastAPI) -> Profile:
    return make_profile(app, "alice")


def _tree(f: F.Fields) -> Any:
    """A selection as plain data: names, and for each expanded name its own tree (plus .limit)."""
    out: dict[str, Any] = {"names": list(f)}
    if f.nested:
        out["nested"] = {k: _tree(v) for k, v in f.nested.items()}
    if f.limits:
        out["limits"] = dict(f.limits)
    return out


# ------------------------------------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    ("raw", "tree"),
    [
        ("id,text", {"names": ["id", "text"]}),
        (" id , text ,, ", {"names": ["id", "text"]}),
        (
            "id,children{id,media_type,media_url}",
            {
                "names": ["id", "children"],
                "nested": {"children": {"names": ["id", "media_type", "media_url"]}},
            },
        ),
        (
            "owner{id,username},quoted_post{text}",
            {
                "names": ["owner", "quoted_post"],
                "nested": {"owner": {"names": ["id", "username"]}, "quoted_post": {"names": ["text"]}},
            },
        ),
        (
            "children.limit(2){id}",
            {"names": ["children"], "nested": {"children": {"names": ["id"]}}, "limits": {"children": 2}},
        ),
        (
            "children{owner{username}}",
            {
                "names": ["children"],
                "nested": {"children": {"names": ["owner"], "nested": {"owner": {"names": ["username"]}}}},
            },
        ),
        # the same field twice: its selections are joined
        (
            "children{id},children{text}",
            {"names": ["children"], "nested": {"children": {"names": ["id", "text"]}}},
        ),
        ("children{}", {"names": ["children"], "nested": {"children": {"names": []}}}),
    ],
)
def test_field_expansion_is_parsed(raw: str, tree: dict[str, Any]) -> None:
    assert _tree(F.parse_fields(raw, F.MEDIA_FIELDS, F.MEDIA_NODE)) == tree


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("status", "Tried accessing nonexisting field (status) on node type (ThreadsMedia)"),
        ("children{bogus}", "Tried accessing nonexisting field (bogus) on node type (ThreadsMedia)"),
        ("children{status}", "Tried accessing nonexisting field (status) on node type (ThreadsMedia)"),
        ("owner{status}", "Tried accessing nonexisting field (status) on node type (ThreadsUser)"),
        ("owner{id,media_type}", "Tried accessing nonexisting field (media_type) on node type (ThreadsUser)"),
        (
            "children{owner{bogus}}",
            "Tried accessing nonexisting field (bogus) on node type (ThreadsUser)",
        ),
        (
            "children{id",
            '(#100) The parameter fields has a syntax error: expected "}" instead of the end at character 11',
        ),
        (
            "id}",
            '(#100) The parameter fields has a syntax error: expected a field name instead of "}" at '
            "character 2",
        ),
        (
            "{id}",
            '(#100) The parameter fields has a syntax error: expected a field name instead of "{" at '
            "character 0",
        ),
        (
            "children{id}text",
            '(#100) The parameter fields has a syntax error: expected "," instead of "t" at character 12',
        ),
        ("text{id}", "(#100) The parameter fields cannot expand text: it is not a node of ThreadsMedia"),
        ("children.foo(1){id}", "(#100) The parameter fields cannot apply .foo() to children"),
        ("owner.limit(1){id}", "(#100) The parameter fields cannot apply .limit() to owner"),
        (
            "children.limit(x)",
            '(#100) The parameter fields has a syntax error: expected a number instead of "x" at character 15',
        ),
        (
            "children{children{children{children{id}}}}",
            "(#100) The parameter fields nests deeper than 4 levels",
        ),
    ],
)
def test_bad_field_expansions_are_code_100(raw: str, message: str) -> None:
    with pytest.raises(GraphError) as caught:
        F.parse_fields(raw, F.MEDIA_FIELDS, F.MEDIA_NODE)
    assert (caught.value.graph_code, caught.value.message) == (100, message)


def test_nodes_without_nested_fields_refuse_braces() -> None:
    with pytest.raises(GraphError) as caught:
        F.parse_fields("config{quota_total}", F.LIMIT_FIELDS, F.LIMIT_NODE)
    assert caught.value.message == (
        "(#100) The parameter fields cannot expand config: it is not a node of ThreadsPublishingLimit"
    )


# ------------------------------------------------------------------------------------- through the API


def _finished_item(app: FastAPI, client: TestClient, p: Profile, n: int, alt: str) -> str:
    """A carousel item whose processing is recorded as done (the media job is tested elsewhere)."""
    r = post(
        client,
        "me/threads",
        p.token,
        media_type="IMAGE",
        image_url=f"https://x.example/{n}.jpg",
        is_carousel_item="true",
        alt_text=alt,
    )
    assert r.status_code == 200, r.text
    cid = str(r.json()["id"])
    file_id = f"threads/2026/12/{n:032x}.jpg"
    assert record_outcome(ctx_of(app), int(cid), Outcome(media_file_id=file_id, info={"width": 640}))
    return cid


def _album(app: FastAPI, client: TestClient, p: Profile, n: int = 3) -> str:
    items = [_finished_item(app, client, p, i, f"picture {i}") for i in range(n)]
    r = post(client, "me/threads", p.token, media_type="CAROUSEL", children=",".join(items), text="Album")
    assert r.status_code == 200, r.text
    published = publish(client, p, r.json()["id"])
    assert published.status_code == 200, published.text
    return str(published.json()["id"])


def test_carousel_children_expanded_on_the_media_object(
    app: FastAPI, client: TestClient, alice: Profile
) -> None:
    album = _album(app, client, alice)
    plain = get(client, album, alice.token, fields="children").json()
    kids = [c["id"] for c in plain["children"]["data"]]
    assert plain == {"id": album, "children": {"data": [{"id": k} for k in kids]}}
    assert len(kids) == 3

    got = get(client, album, alice.token, fields="id,media_type,children{id,media_type,media_url,alt_text}")
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["media_type"] == "CAROUSEL_ALBUM"
    assert [c["id"] for c in body["children"]["data"]] == kids  # album order
    for i, child in enumerate(body["children"]["data"]):
        assert set(child) == {"id", "media_type", "media_url", "alt_text"}
        assert child["media_type"] == "IMAGE"
        assert child["alt_text"] == f"picture {i}"
        assert child["media_url"] == f"http://127.0.0.1:8000/media/threads/2026/12/{i:032x}.jpg"

    limited = get(client, album, alice.token, fields="children.limit(2){media_type}").json()
    assert limited["children"]["data"] == [{"media_type": "IMAGE", "id": k} for k in kids[:2]]

    owner = get(client, album, alice.token, fields="owner{id,username,name},children{owner{username}}").json()
    assert owner["owner"] == {"id": alice.id, "username": "alice", "name": "Alice"}
    assert owner["children"]["data"][0] == {"owner": {"username": "alice", "id": alice.id}, "id": kids[0]}
    # an item names its album as its root
    assert get(client, kids[0], alice.token, fields="root_post").json()["root_post"] == {"id": kids[0]}

    e = error(get(client, album, alice.token, fields="children{id,status}"))
    assert e == {
        "message": "Tried accessing nonexisting field (status) on node type (ThreadsMedia)",
        "type": "THApiException",
        "code": 100,
        "fbtrace_id": e["fbtrace_id"],
    }
    e = error(get(client, album, alice.token, fields="children{id"))
    assert (e["code"], e["type"]) == (100, "THApiException")
    assert e["message"].startswith("(#100) The parameter fields has a syntax error")
    assert "error_subcode" not in e


def test_carousel_children_edge(app: FastAPI, client: TestClient, alice: Profile) -> None:
    album = _album(app, client, alice, n=2)
    kids = [c["id"] for c in get(client, album, alice.token, fields="children").json()["children"]["data"]]
    r = get(client, f"{album}/children", alice.token)
    assert r.status_code == 200, r.text
    assert r.json() == {"data": [{"id": k} for k in kids]}
    full = get(
        client, f"{album}/children", alice.token, fields="id,media_type,alt_text,owner{username}"
    ).json()
    assert full == {
        "data": [
            {
                "id": k,
                "media_type": "IMAGE",
                "alt_text": f"picture {i}",
                "owner": {"id": alice.id, "username": "alice"},
            }
            for i, k in enumerate(kids)
        ]
    }
    text = text_post(client, alice, "no items")
    assert get(client, f"{text}/children", alice.token).json() == {"data": []}
    e = error(get(client, f"{album}/children", alice.token, fields="status"))
    assert e["message"] == "Tried accessing nonexisting field (status) on node type (ThreadsMedia)"

    bob = make_profile(app, "bob")
    container = post(client, "me/threads", alice.token, media_type="TEXT", text="draft").json()["id"]
    for r in (
        get(client, f"{album}/children", bob.token),  # another profile's album
        get(client, f"{container}/children", alice.token),  # a container is not a media object
        get(client, "1234567890123456789/children", alice.token),
        get(client, "nonsense/children", alice.token),
    ):
        e = error(r)
        assert (e["code"], e["error_subcode"]) == (100, 33), e
    client.delete(f"/v1.0/{album}", params={"access_token": alice.token})
    assert error(get(client, f"{album}/children", alice.token))["error_subcode"] == 33
    assert error(get(client, kids[0], alice.token))["error_subcode"] == 33  # items go with their album


def test_listing_expands_children_and_referenced_posts(
    app: FastAPI, client: TestClient, alice: Profile
) -> None:
    album = _album(app, client, alice, n=2)
    quoted = text_post(client, alice, "quotable")
    quoting = text_post(client, alice, "look", quote_post_id=quoted)
    reply = text_post(client, alice, "a reply", reply_to_id=quoting)
    body = get(
        client,
        "me/threads",
        alice.token,
        fields="id,children{media_type},quoted_post{text,owner{username}},root_post{text}",
    ).json()
    by_id = {p["id"]: p for p in body["data"]}
    assert set(by_id) == {album, quoted, quoting}
    assert [c["media_type"] for c in by_id[album]["children"]["data"]] == ["IMAGE", "IMAGE"]
    assert by_id[quoting]["quoted_post"] == {
        "text": "quotable",
        "owner": {"username": "alice", "id": alice.id},
        "id": quoted,
    }
    assert by_id[quoted]["root_post"] == {"text": "quotable", "id": quoted}
    got = get(client, reply, alice.token, fields="replied_to{text,is_quote_post},root_post{id}").json()
    assert got == {
        "replied_to": {"text": "look", "is_quote_post": True, "id": quoting},
        "root_post": {"id": quoting},
        "id": reply,
    }


def test_another_profiles_posts_are_never_expanded(app: FastAPI, client: TestClient, alice: Profile) -> None:
    carol = make_profile(app, "carol")  # another org
    theirs = text_post(client, carol, "carol's secret draft thoughts")
    mine = text_post(client, alice, "quoting carol", quote_post_id=theirs)
    got = get(client, mine, alice.token, fields="quoted_post{text,owner{name}}").json()
    assert got == {"quoted_post": {"id": theirs}, "id": mine}
    assert "secret" not in get(client, mine, alice.token, fields="quoted_post{text}").text
