"""Permalink pages (threaded replies, cards, JSON-LD), poll votes by signed visitor, views and insights."""

from __future__ import annotations

import json
import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.conftest import ADMIN_TOKEN
from tests.publishing.helpers import Profile, error, get, make_profile, mint, post, text_post
from threadline.kit.clock import MovableClock
from threadline.publishing.visitors import COOKIE

POLL = '{"option_a": "Tea", "option_b": "Coffee", "option_c": "Water"}'
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture
def alice(app: FastAPI) -> Profile:
    return make_profile(app, "alice")


@pytest.fixture
def bob(app: FastAPI) -> Profile:
    return make_profile(app, "bob")


def page_path(client: TestClient, p: Profile, media_id: str) -> str:
    return f"/@{p.username}/post/{get(client, media_id, p.token, fields='shortcode').json()['shortcode']}"


def vote_token(html: str) -> str:
    m = re.search(r'name="token" value="([^"]+)"', html)
    assert m, html
    return m.group(1)


def json_ld(html: str) -> dict[str, object]:
    m = re.search(r'<script type="application/ld\+json">(.*?)</script>', html, re.S)
    assert m
    data: dict[str, object] = json.loads(m.group(1))
    return data


def test_page_threads_replies_and_json_ld(client: TestClient, alice: Profile, bob: Profile) -> None:
    root = text_post(client, alice, "root </script> text")
    a = text_post(client, bob, "reply a", reply_to_id=root)
    a1 = text_post(client, alice, "reply a1", reply_to_id=a)
    b = text_post(client, bob, "reply b", reply_to_id=root)
    hidden = text_post(client, bob, "hidden one", reply_to_id=root)
    post(client, f"{hidden}/manage_reply", alice.token, hide="true")
    html = client.get(page_path(client, alice, root)).text
    order = re.findall(r'class="reply" data-media-id="(\d+)" data-depth="(\d)"', html)
    assert order == [(a, "0"), (a1, "1"), (b, "0")]
    assert "hidden one" not in html
    ld = json_ld(html)
    assert ld["@type"] == "SocialMediaPosting"
    assert ld["text"] == "root </script> text"
    assert ld["commentCount"] == 3
    assert ld["author"] == {
        "@type": "Person",
        "name": "Alice",
        "alternateName": "@alice",
        "url": "http://127.0.0.1:8000/@alice",
    }
    # A reply's page shows its own subtree.
    sub = client.get(page_path(client, bob, a)).text
    assert re.findall(r'class="reply" data-media-id="(\d+)"', sub) == [a1]


def test_page_quote_and_repost_cards(client: TestClient, alice: Profile, bob: Profile) -> None:
    original = text_post(client, alice, "the original")
    quote = text_post(client, bob, "quoting", quote_post_id=original)
    repost = post(client, f"{original}/repost", bob.token).json()["id"]
    html = client.get(page_path(client, bob, quote)).text
    assert 'class="card quote-card" href="http://127.0.0.1:8000/@alice/post/' in html
    assert "the original" in html
    html = client.get(page_path(client, bob, repost)).text
    assert "@bob reposted" in html
    assert 'class="card repost-card"' in html
    assert "the original" in html
    assert json_ld(html)["sharedContent"] == {
        "@type": "SocialMediaPosting",
        "url": f"http://127.0.0.1:8000{page_path(client, alice, original)}",
        "author": {"@type": "Person", "alternateName": "@alice"},
    }


def test_vote_once_and_read_back(client: TestClient, app: FastAPI, alice: Profile) -> None:
    mid = text_post(client, alice, "Morning?", poll_attachment=POLL)
    path = page_path(client, alice, mid)
    first = client.get(path)
    assert COOKIE in first.cookies
    token = vote_token(first.text)
    r = client.post(f"{path}/vote", data={"option": "option_b", "token": token}, follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == path
    # Vote twice: refused, and the count stays.
    again = client.post(f"{path}/vote", data={"option": "option_a", "token": token})
    assert again.status_code == 409
    assert "already voted" in again.text
    # A second visitor (new cookie jar).
    other = TestClient(app)
    html = other.get(path).text
    assert (
        other.post(f"{path}/vote", data={"option": "option_b", "token": vote_token(html)}).status_code == 200
    )
    third = TestClient(app)
    html = third.get(path).text
    third.post(f"{path}/vote", data={"option": "option_c", "token": vote_token(html)})
    got = get(client, mid, alice.token, fields="poll_attachment").json()["poll_attachment"]
    assert got == {
        "option_a": "Tea",
        "option_b": "Coffee",
        "option_c": "Water",
        "option_a_votes_percentage": 0.0,
        "option_b_votes_percentage": 66.67,
        "option_c_votes_percentage": 33.33,
        "total_votes": 3,
        "expiration_timestamp": got["expiration_timestamp"],
    }
    mine = client.get(path).text
    assert 'class="mine"' in mine  # voted: the results, no form
    assert 'name="token"' not in mine


def test_forged_missing_and_foreign_vote_tokens(client: TestClient, app: FastAPI, alice: Profile) -> None:
    mid = text_post(client, alice, "poll", poll_attachment=POLL)
    path = page_path(client, alice, mid)
    token = vote_token(client.get(path).text)
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    for data in (
        {"option": "option_a", "token": forged},
        {"option": "option_a"},
        {"option": "option_a", "token": "x.y"},
    ):
        r = client.post(f"{path}/vote", data=data)
        assert r.status_code == 400
        assert "forged" in r.text
    # Another visitor's token with my cookie: refused too.
    other = TestClient(app)
    theirs = vote_token(other.get(path).text)
    assert client.post(f"{path}/vote", data={"option": "option_a", "token": theirs}).status_code == 400
    # No cookie at all.
    bare = TestClient(app)
    assert bare.post(f"{path}/vote", data={"option": "option_a", "token": token}).status_code == 400
    # Unknown option, unknown post, post without poll.
    r = client.post(f"{path}/vote", data={"option": "option_d", "token": token})
    assert r.status_code == 400
    assert "not one of this poll" in r.text
    assert (
        client.post("/@alice/post/nothing/vote", data={"option": "option_a", "token": token}).status_code
        == 404
    )
    plain = page_path(client, alice, text_post(client, alice, "no poll"))
    assert client.post(f"{plain}/vote", data={"option": "option_a", "token": token}).status_code == 404
    assert (
        get(client, mid, alice.token, fields="poll_attachment").json()["poll_attachment"]["total_votes"] == 0
    )


def test_vote_after_close(client: TestClient, clock: MovableClock, alice: Profile) -> None:
    mid = text_post(client, alice, "poll", poll_attachment=POLL)
    path = page_path(client, alice, mid)
    token = vote_token(client.get(path).text)
    clock.advance(86400)
    r = client.post(f"{path}/vote", data={"option": "option_a", "token": token})
    assert r.status_code == 410
    assert "closed" in r.text
    assert 'name="token"' not in client.get(path).text


def test_views_once_per_visitor_per_hour(
    client: TestClient, app: FastAPI, clock: MovableClock, alice: Profile
) -> None:
    mid = text_post(client, alice, "look")
    path = page_path(client, alice, mid)
    for _ in range(3):
        client.get(path)
    TestClient(app).get(path)

    def views() -> int:
        data = get(client, f"{mid}/insights", alice.token, metric="views").json()["data"]
        value: int = data[0]["values"][0]["value"]
        return value

    assert views() == 2
    clock.advance(3600)
    client.get(path)
    assert views() == 3


def test_media_insights(client: TestClient, app: FastAPI, alice: Profile, bob: Profile) -> None:
    root = text_post(client, alice, "root")
    r1 = text_post(client, bob, "r1", reply_to_id=root)
    text_post(client, alice, "r11", reply_to_id=r1)
    text_post(client, bob, "q", quote_post_id=root)
    post(client, f"{root}/repost", bob.token)
    body = get(
        client, f"{root}/insights", alice.token, metric="views,likes,replies,reposts,quotes,shares"
    ).json()
    assert [(d["name"], d["period"], d["values"]) for d in body["data"]] == [
        ("views", "lifetime", [{"value": 0}]),
        ("likes", "lifetime", [{"value": 0}]),
        ("replies", "lifetime", [{"value": 2}]),  # a root counts its whole conversation
        ("reposts", "lifetime", [{"value": 1}]),
        ("quotes", "lifetime", [{"value": 1}]),
        ("shares", "lifetime", [{"value": 0}]),
    ]
    first = body["data"][0]
    assert first["id"] == f"{root}/insights/views/lifetime"
    assert set(first) == {"name", "period", "values", "title", "description", "id"}
    # A reply counts its direct replies only.
    got = get(client, f"{r1}/insights", bob.token, metric="replies").json()["data"]
    assert got[0]["values"] == [{"value": 1}]
    # Errors: scope, unknown metric, missing metric, foreign post.
    no_scope = mint(app, alice.id, ["threads_basic"])
    assert error(get(client, f"{root}/insights", no_scope, metric="views"))["code"] == 10
    assert error(get(client, f"{root}/insights", alice.token, metric="views,hugs"))["message"] == (
        "(#100) metric[1] must be one of the following values: views, likes, replies, reposts, quotes, shares"
    )
    assert (
        error(get(client, f"{root}/insights", alice.token))["message"]
        == "(#100) The parameter metric is required"
    )
    assert error(get(client, f"{root}/insights", bob.token, metric="views"))["error_subcode"] == 33


def test_user_insights(
    client: TestClient, app: FastAPI, clock: MovableClock, alice: Profile, bob: Profile
) -> None:
    r = client.post(f"/admin/v1/profiles/{bob.id}/follows", json={"profile_id": alice.id}, headers=ADMIN)
    assert r.status_code == 201
    root = text_post(client, alice, "root")
    text_post(client, bob, "r", reply_to_id=root)
    client.get(page_path(client, alice, root))
    now = clock.now_s()
    body = get(
        client,
        "me/threads_insights",
        alice.token,
        metric="views,likes,replies,reposts,quotes,followers_count",
        since=str(now - 86400),
        until=str(now),
    ).json()["data"]
    views = body[0]
    assert (views["name"], views["period"]) == ("views", "day")
    assert views["id"] == f"{alice.id}/insights/views/day"
    assert sum(v["value"] for v in views["values"]) == 1
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT00:00:00\+0000", v["end_time"]) for v in views["values"])
    totals = {d["name"]: d["total_value"]["value"] for d in body[1:]}
    assert totals == {"likes": 0, "replies": 1, "reposts": 0, "quotes": 0, "followers_count": 1}
    assert error(get(client, "me/threads_insights", alice.token, metric="views", since="1000"))[
        "message"
    ] == ("(#100) The parameter since must be at least 1712991600")
    assert (
        error(
            get(
                client,
                "me/threads_insights",
                alice.token,
                metric="views",
                since=str(now),
                until=str(now - 86400),
            )
        )["code"]
        == 100
    )
    assert error(get(client, "me/threads_insights", alice.token, metric="shares"))["code"] == 100
    assert (
        error(get(client, f"{bob.id}/threads_insights", alice.token, metric="views"))["error_subcode"] == 33
    )


def test_follows_admin_api(client: TestClient, alice: Profile, bob: Profile) -> None:
    url = f"/admin/v1/profiles/{alice.id}/follows"
    r = client.post(url, json={"profile_id": bob.id}, headers=ADMIN)
    assert r.status_code == 201
    assert r.json() == {"follower_id": alice.id, "followed_id": bob.id, "created_at": r.json()["created_at"]}
    assert client.post(url, json={"profile_id": bob.id}, headers=ADMIN).status_code == 201  # idempotent
    assert [f["followed_id"] for f in client.get(url, headers=ADMIN).json()["data"]] == [bob.id]
    self_follow = client.post(url, json={"profile_id": alice.id}, headers=ADMIN)
    assert self_follow.status_code == 400
    assert self_follow.json()["error"]["param"] == "profile_id"
    unknown = client.post(url, json={"profile_id": "999"}, headers=ADMIN)
    assert unknown.status_code == 404
    assert client.post(url, json={}, headers=ADMIN).status_code == 400
    assert client.post(url, json={"profile_id": bob.id}).status_code == 401
    assert (
        client.post("/admin/v1/profiles/999/follows", json={"profile_id": bob.id}, headers=ADMIN).status_code
        == 404
    )
    assert client.delete(f"{url}/{bob.id}", headers=ADMIN).status_code == 204
    assert client.delete(f"{url}/{bob.id}", headers=ADMIN).status_code == 404
    assert client.get(url, headers=ADMIN).json() == {"data": []}
