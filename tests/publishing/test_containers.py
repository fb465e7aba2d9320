"""Creating containers: every rule of spec 70 and the error table, asserted exactly."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.factories import ctx_of
from tests.publishing.helpers import Profile, create_text, error, get, make_profile, post, publish, text_post
from threadline.kit.clock import MovableClock
from threadline.publishing.processing import Outcome, record_outcome


@pytest.fixture
def alice(app: FastAPI) -> Profile:
    return make_profile(app, "alice")


def create(client: TestClient, p: Profile, **data: Any) -> Any:
    return post(client, "me/threads", p.token, **data)


def bad(client: TestClient, p: Profile, param: str, **data: Any) -> dict[str, Any]:
    e = error(create(client, p, **data))
    assert (e["code"], e["type"]) == (100, "THApiException"), e
    assert e["message"].startswith(f"(#100) The parameter {param} "), e
    assert "error_subcode" not in e
    return e


def read(client: TestClient, p: Profile, media_id: str, fields: str) -> dict[str, Any]:
    r = get(client, media_id, p.token, fields=fields)
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


# ------------------------------------------------------------------------------------------------ text


@pytest.mark.parametrize(
    ("unit", "weight"),
    [("a", 1), ("é", 1), ("中", 1), ("👍", 4)],
    ids=["ascii", "accented", "cjk", "emoji"],
)
def test_text_length_at_500_and_501(client: TestClient, alice: Profile, unit: str, weight: int) -> None:
    fits = unit * (500 // weight)
    assert create(client, alice, media_type="TEXT", text=fits).status_code == 200
    over = fits + "a" * (500 - len(fits) * weight + 1)
    e = bad(client, alice, "text", media_type="TEXT", text=over)
    assert "500" in e["message"]


def test_media_type_rules(client: TestClient, alice: Profile) -> None:
    bad(client, alice, "media_type", text="x")
    bad(client, alice, "media_type", media_type="STORY", text="x")
    bad(client, alice, "text", media_type="TEXT")
    bad(client, alice, "image_url", media_type="IMAGE")
    bad(client, alice, "image_url", media_type="IMAGE", image_url="ftp://x.example/a.jpg")
    bad(client, alice, "video_url", media_type="VIDEO")
    bad(client, alice, "image_url", media_type="TEXT", text="x", image_url="https://x.example/a.jpg")
    bad(client, alice, "is_carousel_item", media_type="TEXT", text="x", is_carousel_item="true")
    bad(
        client,
        alice,
        "is_carousel_item",
        media_type="IMAGE",
        image_url="https://x.example/a.jpg",
        is_carousel_item="maybe",
    )
    bad(client, alice, "location_id", media_type="TEXT", text="x", location_id="123")
    # lower-case media_type is accepted, as Graph does
    assert create(client, alice, media_type="text", text="x").status_code == 200


def test_alt_text_reply_control_and_flags(client: TestClient, alice: Profile) -> None:
    img = {"media_type": "IMAGE", "image_url": "https://x.example/a.jpg"}
    assert create(client, alice, **img, alt_text="a" * 1000).status_code == 200
    bad(client, alice, "alt_text", **img, alt_text="a" * 1001)
    bad(client, alice, "alt_text", media_type="TEXT", text="x", alt_text="no")
    for value in (
        "everyone",
        "accounts_you_follow",
        "mentioned_only",
        "parent_post_author_only",
        "followers_only",
    ):
        assert create(client, alice, media_type="TEXT", text="x", reply_control=value).status_code == 200
    bad(client, alice, "reply_control", media_type="TEXT", text="x", reply_control="nobody")
    bad(client, alice, "is_spoiler_media", media_type="TEXT", text="x", is_spoiler_media="true")
    assert create(client, alice, **img, is_spoiler_media="1").status_code == 200
    bad(client, alice, "is_ghost_post", **img, is_ghost_post="true")
    bad(client, alice, "auto_publish_text", **img, auto_publish_text="true")
    bad(client, alice, "enable_reply_approvals", media_type="TEXT", text="x", enable_reply_approvals="yes")


# ----------------------------------------------------------------------------------------------- links


def test_five_unique_links_pass_six_fail(client: TestClient, alice: Profile) -> None:
    five = " ".join(f"https://site{i}.example/p" for i in range(5))
    assert create(client, alice, media_type="TEXT", text=five + " https://site0.example/p").status_code == 200
    e = error(create(client, alice, media_type="TEXT", text=five + " https://site5.example/p"))
    assert e["code"] == 100
    assert e["message"].startswith("THREADS_API__LINK_LIMIT_EXCEEDED")
    attachment = json.dumps({"plaintext": "long", "link_attachment_url": "https://site5.example/p"})
    e = error(create(client, alice, media_type="TEXT", text=five, text_attachment=attachment))
    assert e["message"].startswith("THREADS_API__LINK_LIMIT_EXCEEDED")


def test_first_link_becomes_the_link_attachment(client: TestClient, alice: Profile) -> None:
    mid = text_post(client, alice, "see https://a.example/x, and https://b.example/y.")
    assert read(client, alice, mid, "link_attachment_url") == {
        "link_attachment_url": "https://a.example/x",
        "id": mid,
    }
    explicit = text_post(client, alice, "see https://a.example/x", link_attachment="https://card.example/")
    assert (
        read(client, alice, explicit, "link_attachment_url")["link_attachment_url"] == "https://card.example/"
    )
    bad(
        client,
        alice,
        "link_attachment",
        media_type="IMAGE",
        image_url="https://x.example/a.jpg",
        link_attachment="https://c.example",
    )
    poll = json.dumps({"option_a": "yes", "option_b": "no"})
    bad(
        client,
        alice,
        "link_attachment",
        media_type="TEXT",
        text="q",
        poll_attachment=poll,
        link_attachment="https://c.example",
    )
    bad(client, alice, "link_attachment", media_type="TEXT", text="q", link_attachment="not a url")


# ------------------------------------------------------------------------------------------------ tags


@pytest.mark.parametrize(
    ("text", "tag"),
    [
        ("Hello #Python rocks", "Python"),
        ("#first and #second", "first"),
        ("ends at a dot #Tag.more", "Tag"),
        ("ends at amp #Rock&Roll", "Rock"),
        ("#" + "a" * 51 + " then #ok", "ok"),
        ("#" + "b" * 50, "b" * 50),
        ("no tag # here", None),
    ],
)
def test_in_text_tag_derivation(client: TestClient, alice: Profile, text: str, tag: str | None) -> None:
    mid = text_post(client, alice, text)
    assert read(client, alice, mid, "topic_tag").get("topic_tag") == tag


def test_topic_tag_parameter(client: TestClient, alice: Profile) -> None:
    mid = text_post(client, alice, "text #InText", topic_tag="Param")
    assert read(client, alice, mid, "topic_tag")["topic_tag"] == "Param"  # the parameter wins
    assert create(client, alice, media_type="TEXT", text="x", topic_tag="t" * 50).status_code == 200
    bad(client, alice, "topic_tag", media_type="TEXT", text="x", topic_tag="t" * 51)
    bad(client, alice, "topic_tag", media_type="TEXT", text="x", topic_tag="")
    bad(client, alice, "topic_tag", media_type="TEXT", text="x", topic_tag="a.b")
    bad(client, alice, "topic_tag", media_type="TEXT", text="x", topic_tag="a&b")
    img = create(client, alice, media_type="IMAGE", image_url="https://x.example/a.jpg", topic_tag="Photos")
    assert img.status_code == 200  # any media type may carry a tag


# ----------------------------------------------------------------------------------------------- polls


def test_polls(client: TestClient, alice: Profile) -> None:
    def poll(**options: Any) -> str:
        return json.dumps(options)

    mid = text_post(
        client,
        alice,
        "Pick one",
        poll_attachment=poll(option_a="A", option_b="B", option_c="C", option_d="D"),
    )
    got = read(client, alice, mid, "poll_attachment,media_type")
    assert got["media_type"] == "TEXT_POST"
    assert got["poll_attachment"]["option_d"] == "D"
    assert got["poll_attachment"]["total_votes"] == 0
    bad(client, alice, "poll_attachment", media_type="TEXT", text="q", poll_attachment=poll(option_a="only"))
    five = json.dumps({"option_a": "a", "option_b": "b", "option_c": "c", "option_d": "d", "option_e": "e"})
    bad(client, alice, "poll_attachment", media_type="TEXT", text="q", poll_attachment=five)
    assert (
        create(
            client, alice, media_type="TEXT", text="q", poll_attachment=poll(option_a="x" * 25, option_b="y")
        ).status_code
        == 200
    )
    bad(
        client,
        alice,
        "poll_attachment",
        media_type="TEXT",
        text="q",
        poll_attachment=poll(option_a="x" * 26, option_b="y"),
    )
    bad(
        client,
        alice,
        "poll_attachment",
        media_type="TEXT",
        text="q",
        poll_attachment=poll(option_a="", option_b="y"),
    )
    bad(
        client,
        alice,
        "poll_attachment",
        media_type="TEXT",
        text="q",
        poll_attachment=poll(option_a="a", option_c="c"),
    )
    bad(client, alice, "poll_attachment", media_type="TEXT", text="q", poll_attachment="{not json")
    bad(client, alice, "poll_attachment", media_type="TEXT", text="q", poll_attachment='["option_a"]')
    bad(
        client,
        alice,
        "poll_attachment",
        media_type="TEXT",
        text="q",
        poll_attachment=poll(option_a=1, option_b="y"),
    )
    bad(
        client,
        alice,
        "poll_attachment",
        media_type="IMAGE",
        image_url="https://x.example/a.jpg",
        poll_attachment=poll(option_a="a", option_b="b"),
    )


# ----------------------------------------------------------------------------------- gif, attachments


def test_gif_attachment_giphy_only(client: TestClient, alice: Profile) -> None:
    mid = text_post(
        client, alice, "lol", gif_attachment=json.dumps({"gif_id": "abc123", "provider": "GIPHY"})
    )
    assert read(client, alice, mid, "gif_url")["gif_url"] == "https://media.giphy.com/media/abc123/giphy.gif"
    e = bad(
        client,
        alice,
        "gif_attachment",
        media_type="TEXT",
        text="x",
        gif_attachment=json.dumps({"gif_id": "1", "provider": "TENOR"}),
    )
    assert "TENOR" in e["message"]
    bad(
        client,
        alice,
        "gif_attachment",
        media_type="TEXT",
        text="x",
        gif_attachment=json.dumps({"gif_id": "1", "provider": "IMGUR"}),
    )
    bad(
        client,
        alice,
        "gif_attachment",
        media_type="TEXT",
        text="x",
        gif_attachment=json.dumps({"provider": "GIPHY"}),
    )
    bad(client, alice, "gif_attachment", media_type="TEXT", text="x", gif_attachment="giphy:1")


def test_text_attachment_with_styling(client: TestClient, alice: Profile) -> None:
    att = {
        "plaintext": "A long read.",
        "link_attachment_url": "https://blog.example/post",
        "text_with_styling_info": [{"offset": 0, "length": 6, "styling_info": ["bold", "italic"]}],
    }
    mid = text_post(client, alice, "Thread", text_attachment=json.dumps(att))
    assert read(client, alice, mid, "text_attachment")["text_attachment"] == att

    def attachment(**over: Any) -> str:
        return json.dumps({**att, **over})

    args = {"media_type": "TEXT", "text": "x"}
    bad(client, alice, "text_attachment", **args, text_attachment=attachment(plaintext="p" * 10001))
    assert (
        create(
            client,
            alice,
            **args,
            text_attachment=attachment(plaintext="p" * 10000, text_with_styling_info=[]),
        ).status_code
        == 200
    )
    bad(
        client,
        alice,
        "text_attachment",
        **args,
        text_attachment=attachment(
            text_with_styling_info=[{"offset": 10, "length": 5, "styling_info": ["bold"]}]
        ),
    )
    bad(
        client,
        alice,
        "text_attachment",
        **args,
        text_attachment=attachment(
            text_with_styling_info=[{"offset": 0, "length": 1, "styling_info": ["blink"]}]
        ),
    )
    bad(
        client,
        alice,
        "text_attachment",
        **args,
        text_attachment=json.dumps({"link_attachment_url": "https://x.example"}),
    )
    bad(
        client,
        alice,
        "text_attachment",
        **args,
        text_attachment=attachment(),
        link_attachment="https://card.example",
    )
    poll = json.dumps({"option_a": "a", "option_b": "b"})
    bad(client, alice, "text_attachment", **args, text_attachment=attachment(), poll_attachment=poll)
    bad(
        client,
        alice,
        "text_attachment",
        media_type="IMAGE",
        image_url="https://x.example/a.jpg",
        text_attachment=attachment(),
    )


def test_spoiler_entities(client: TestClient, alice: Profile) -> None:
    entities = [{"entity_type": "SPOILER", "offset": 0, "length": 4}]
    mid = text_post(client, alice, "Bond dies at the end", text_entities=json.dumps(entities))
    assert read(client, alice, mid, "text_entities")["text_entities"] == {"data": entities}
    lower = [{"entity_type": "spoiler", "offset": 5, "length": 4}]
    assert (
        create(
            client, alice, media_type="TEXT", text="Bond dies", text_entities=json.dumps(lower)
        ).status_code
        == 200
    )
    eleven = [{"entity_type": "SPOILER", "offset": i, "length": 1} for i in range(11)]
    bad(client, alice, "text_entities", media_type="TEXT", text="x" * 20, text_entities=json.dumps(eleven))
    bad(
        client,
        alice,
        "text_entities",
        media_type="TEXT",
        text="short",
        text_entities=json.dumps([{"entity_type": "SPOILER", "offset": 3, "length": 9}]),
    )
    bad(
        client,
        alice,
        "text_entities",
        media_type="TEXT",
        text="short",
        text_entities=json.dumps([{"entity_type": "BOLD", "offset": 0, "length": 1}]),
    )
    bad(
        client,
        alice,
        "text_entities",
        media_type="TEXT",
        text="short",
        text_entities='{"entity_type": "SPOILER"}',
    )


def test_ghost_posts(client: TestClient, alice: Profile) -> None:
    mid = text_post(client, alice, "gone tomorrow", is_ghost_post="true")
    got = read(client, alice, mid, "ghost_post_status,ghost_post_expiration_timestamp")
    assert got["ghost_post_status"] == "ACTIVE"
    assert "ghost_post_expiration_timestamp" in got
    target = text_post(client, alice, "root")
    bad(
        client, alice, "is_ghost_post", media_type="TEXT", text="re", reply_to_id=target, is_ghost_post="true"
    )


def test_quote_and_reply_targets_must_exist(client: TestClient, alice: Profile) -> None:
    target = text_post(client, alice, "quotable")
    mid = text_post(client, alice, "quoting", quote_post_id=target)
    assert read(client, alice, mid, "is_quote_post,quoted_post") == {
        "id": mid,
        "is_quote_post": True,
        "quoted_post": {"id": target},
    }
    bad(client, alice, "quote_post_id", media_type="TEXT", text="x", quote_post_id="1234567890123456789")
    bad(client, alice, "quote_post_id", media_type="TEXT", text="x", quote_post_id="abc")
    bad(client, alice, "reply_to_id", media_type="TEXT", text="x", reply_to_id="1234567890123456789")


def test_geo_gating(app: FastAPI, client: TestClient, alice: Profile) -> None:
    e = error(create(client, alice, media_type="TEXT", text="x", allowlisted_country_codes="US,CA"))
    assert e["code"] == 100
    assert e["message"].startswith("THREADS_API__FEATURE_NOT_AVAILABLE")
    geo = make_profile(app, "geo", geo=True)
    mid = text_post(client, geo, "local news", allowlisted_country_codes="US,CA")
    assert read(client, geo, mid, "allowlisted_country_codes")["allowlisted_country_codes"] == ["CA", "US"]
    # threads-go repeats the key per code
    form = urlencode(
        [
            ("media_type", "TEXT"),
            ("text", "x"),
            ("allowlisted_country_codes", "US"),
            ("allowlisted_country_codes", "DE"),
            ("access_token", geo.token),
        ]
    )
    r = client.post(
        "/v1.0/me/threads", content=form, headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert r.status_code == 200, r.text
    for codes in ("US,XX", "usa", ""):
        if not codes:
            continue
        e = error(create(client, geo, media_type="TEXT", text="x", allowlisted_country_codes=codes))
        assert e["message"].startswith("THREADS_API__GEO_GATING_INVALID_COUNTRY_CODES")


def test_auto_publish_text_answers_the_media_id(client: TestClient, alice: Profile) -> None:
    r = create(client, alice, media_type="TEXT", text="at once", auto_publish_text="true")
    assert r.status_code == 200
    mid = r.json()["id"]
    assert read(client, alice, mid, "text,media_type") == {
        "id": mid,
        "text": "at once",
        "media_type": "TEXT_POST",
    }


# ------------------------------------------------------------------------------------ parameter sources


def test_parameters_from_query_form_multipart_and_json(client: TestClient, alice: Profile) -> None:
    poll = {"option_a": "a", "option_b": "b"}
    responses = [
        client.post(
            "/v1.0/me/threads", params={"media_type": "TEXT", "text": "q", "access_token": alice.token}
        ),
        client.post(
            "/v1.0/me/threads", data={"media_type": "TEXT", "text": "f", "access_token": alice.token}
        ),
        client.post(
            "/v1.0/me/threads",
            files={"media_type": (None, "TEXT"), "text": (None, "m"), "access_token": (None, alice.token)},
        ),
        client.post(
            "/v1.0/me/threads",
            json={
                "media_type": "TEXT",
                "text": "j",
                "access_token": alice.token,
                "poll_attachment": poll,
                "auto_publish_text": True,
            },
        ),
        client.post(
            "/v1.0/me/threads",
            json={"media_type": "TEXT", "text": "s", "poll_attachment": json.dumps(poll)},
            headers={"Authorization": f"Bearer {alice.token}"},
        ),
    ]
    for r in responses:
        assert r.status_code == 200, r.text
    assert (
        read(client, alice, responses[3].json()["id"], "poll_attachment")["poll_attachment"]["option_b"]
        == "b"
    )


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"{not json", "application/json"),
        (b"[1, 2]", "application/json"),
        (b"--x\r\nbroken", "multipart/form-data; boundary=x"),
        (b"\xff\xfe", "application/json"),
    ],
)
def test_malformed_bodies_are_graph_400s(
    client: TestClient, alice: Profile, body: bytes, content_type: str
) -> None:
    r = client.post(
        "/v1.0/me/threads",
        content=body,
        headers={"content-type": content_type, "Authorization": f"Bearer {alice.token}"},
    )
    e = error(r)
    assert e["code"] == 100
    assert e["message"].startswith("(#100)")


def test_wrong_json_types(client: TestClient, alice: Profile) -> None:
    r = client.post(
        "/v1.0/me/threads", json={"media_type": "TEXT", "text": ["a"], "access_token": alice.token}
    )
    assert error(r)["message"].startswith("(#100) The parameter text")
    r = client.post(
        "/v1.0/me/threads",
        json={"media_type": "TEXT", "text": "x", "is_ghost_post": "si", "access_token": alice.token},
    )
    assert error(r)["message"].startswith("(#100) The parameter is_ghost_post")


# ----------------------------------------------------------------------------- fields, nodes and verbs


def test_fields_machinery(client: TestClient, alice: Profile) -> None:
    cid = create_text(client, alice)
    mid = publish(client, alice, cid).json()["id"]
    assert get(client, mid, alice.token).json() == {"id": mid}
    e = error(get(client, mid, alice.token, fields="id,status"))
    assert e == {
        "message": "Tried accessing nonexisting field (status) on node type (ThreadsMedia)",
        "type": "THApiException",
        "code": 100,
        "fbtrace_id": e["fbtrace_id"],
    }
    assert read(client, alice, cid, "id,status,error_message") == {"id": cid, "status": "PUBLISHED"}
    assert error(get(client, cid, alice.token, fields="text"))["message"] == (
        "Tried accessing nonexisting field (text) on node type (ThreadsMediaContainer)"
    )
    assert error(get(client, "me", alice.token, fields="bogus"))["message"].endswith(
        "node type (ThreadsUser)"
    )
    full = read(
        client,
        alice,
        mid,
        "id,media_product_type,media_type,permalink,owner,username,text,timestamp,shortcode,is_quote_post,has_replies,is_reply,is_reply_owned_by_me,root_post,hide_status,reply_audience,is_spoiler_media",
    )
    assert full["owner"] == {"id": alice.id}
    assert full["username"] == "alice"
    assert full["media_product_type"] == "THREADS"
    assert full["hide_status"] == "NOT_HUSHED"
    assert full["reply_audience"] == "EVERYONE"
    assert full["is_reply"] is False
    assert full["has_replies"] is False
    assert full["permalink"] == f"http://127.0.0.1:8000/@alice/post/{full['shortcode']}"
    assert len(full["timestamp"]) == 24
    assert full["timestamp"].endswith("+0000")


def test_unknown_ids_and_verbs_are_100_33(client: TestClient, alice: Profile) -> None:
    mid = text_post(client, alice)
    for r in (
        get(client, "1234567890123456789", alice.token),
        get(client, "not-an-id", alice.token),
        post(client, mid, alice.token),
        client.put(f"/v1.0/{mid}", params={"access_token": alice.token}),
        get(client, f"{mid}/unknown_edge", alice.token),
    ):
        e = error(r)
        assert (e["code"], e["error_subcode"]) == (100, 33), e


# ------------------------------------------------------------------------ publish: not ready, error, expired


def test_publish_not_ready_and_failed_containers(
    app: FastAPI, client: TestClient, alice: Profile, clock: MovableClock
) -> None:
    ctx = ctx_of(app)
    img = create(client, alice, media_type="IMAGE", image_url="https://x.example/a.jpg").json()["id"]
    assert read(client, alice, img, "status") == {"id": img, "status": "IN_PROGRESS"}
    e = error(publish(client, alice, img))
    assert e == {
        "message": "The requested resource does not exist",
        "type": "OAuthException",
        "code": 24,
        "error_subcode": 4279009,
        "is_transient": True,
        "error_user_title": "Media Not Found",
        "error_user_msg": f"The media with id {img} cannot be found.",
        "fbtrace_id": e["fbtrace_id"],
    }

    items = [
        create(client, alice, image_url=f"https://x.example/{i}.jpg", is_carousel_item="true").json()["id"]
        for i in range(2)
    ]
    carousel = create(client, alice, media_type="CAROUSEL", children=",".join(items), text="album").json()[
        "id"
    ]
    e = error(publish(client, alice, carousel))
    assert (e["code"], e["error_subcode"], e["is_transient"]) == (24, 4279004, True)

    assert record_outcome(ctx, int(items[0]), Outcome(media_file_id="x/a.jpg"))
    assert not record_outcome(ctx, int(items[0]), Outcome(error_message="UNKNOWN"))  # exactly once
    record_outcome(
        ctx,
        int(items[1]),
        Outcome(error_message="UNKNOWN", error_details="the image is a GIF; JPEG or PNG is required"),
    )
    assert read(client, alice, items[1], "status,error_message,error_details") == {
        "id": items[1],
        "status": "ERROR",
        "error_message": "UNKNOWN",
        "error_details": "the image is a GIF; JPEG or PNG is required",
    }
    assert read(client, alice, carousel, "status,error_message")["status"] == "ERROR"
    e = error(publish(client, alice, carousel))
    assert (e["code"], e["type"], e.get("is_transient")) == (100, "THApiException", None)
    assert "ERROR" in e["message"]

    e = error(publish(client, alice, items[0]))
    assert e["code"] == 100
    assert "carousel item" in e["message"]

    text = create_text(client, alice)
    clock.advance(86400)
    assert read(client, alice, text, "status") == {"id": text, "status": "EXPIRED"}
    e = error(publish(client, alice, text))
    assert e["code"] == 100
    assert "EXPIRED" in e["message"]
    assert "is_transient" not in e
    e = error(post(client, "me/threads_publish", alice.token))
    assert e["message"].startswith("(#100) The parameter creation_id ")


# -------------------------------------------------------------------------------------------- carousels


def _items(client: TestClient, p: Profile, n: int) -> list[str]:
    return [
        create(
            client, p, media_type="IMAGE", image_url=f"https://x.example/{i}.jpg", is_carousel_item="true"
        ).json()["id"]
        for i in range(n)
    ]


def test_carousel_sizes(client: TestClient, alice: Profile) -> None:
    bad(client, alice, "children", media_type="CAROUSEL", children=",".join(_items(client, alice, 1)))
    assert (
        create(client, alice, media_type="CAROUSEL", children=",".join(_items(client, alice, 2))).status_code
        == 200
    )
    assert (
        create(client, alice, media_type="CAROUSEL", children=",".join(_items(client, alice, 20))).status_code
        == 200
    )
    bad(client, alice, "children", media_type="CAROUSEL", children=",".join(_items(client, alice, 21)))
    bad(client, alice, "children", media_type="CAROUSEL")
    two = _items(client, alice, 1)
    bad(client, alice, "children", media_type="CAROUSEL", children=f"{two[0]},{two[0]}")


def test_carousel_children_rules(app: FastAPI, client: TestClient, alice: Profile) -> None:
    bob = make_profile(app, "bob")
    mine = _items(client, alice, 2)
    theirs = _items(client, bob, 1)
    e = bad(client, alice, "children", media_type="CAROUSEL", children=f"{mine[0]},{theirs[0]}")
    assert theirs[0] in e["message"]
    not_item = create(client, alice, media_type="IMAGE", image_url="https://x.example/solo.jpg").json()["id"]
    bad(client, alice, "children", media_type="CAROUSEL", children=f"{mine[0]},{not_item}")
    text = create_text(client, alice)
    bad(client, alice, "children", media_type="CAROUSEL", children=f"{mine[0]},{text}")
    bad(client, alice, "children", media_type="CAROUSEL", children=f"{mine[0]},1234567890123456789")
    assert create(client, alice, media_type="CAROUSEL", children=",".join(mine)).status_code == 200
    extra = _items(client, alice, 1)
    e = bad(client, alice, "children", media_type="CAROUSEL", children=f"{mine[1]},{extra[0]}")
    assert "already used" in e["message"]
    # a refused carousel claims nothing: its valid items stay usable
    assert (
        create(
            client, alice, media_type="CAROUSEL", children=f"{extra[0]},{_items(client, alice, 1)[0]}"
        ).status_code
        == 200
    )


# Each JSON-string parameter, given something that is not JSON or JSON of the wrong shape: a Graph 400
# naming the parameter, from a form (a string) and from a JSON body (a value), never a 5xx.
_JSON_PARAMS = ["poll_attachment", "text_entities", "text_attachment", "gif_attachment"]
_NOT_JSON = ["{not json", "", "[", "\x00", '{"a": 1', "nul"]
_WRONG_SHAPE: dict[str, list[Any]] = {
    "poll_attachment": [
        [],
        7,
        "yes",
        {"option_a": ["a"], "option_b": "b"},
        {"option_x": "a", "option_b": "b"},
    ],
    "text_entities": [
        {},
        7,
        "spoiler",
        [7],
        [{"entity_type": "SPOILER", "offset": "0", "length": 1}],
        [None],
    ],
    "text_attachment": [[], 7, "text", {"plaintext": 5}, {"plaintext": "x", "text_with_styling_info": {}}],
    "gif_attachment": [[], 7, "gif", {"gif_id": 5, "provider": "GIPHY"}, {"provider": "GIPHY"}],
}


@pytest.mark.parametrize("param", _JSON_PARAMS)
def test_json_string_parameters_not_json_or_the_wrong_shape(
    client: TestClient, alice: Profile, param: str
) -> None:
    for raw in _NOT_JSON:
        if raw == "":
            continue  # an empty form value reads as absent (Graph's behaviour), tested below
        bad(client, alice, param, media_type="TEXT", text="hello there", **{param: raw})
    for value in _WRONG_SHAPE[param]:
        bad(client, alice, param, media_type="TEXT", text="hello there", **{param: json.dumps(value)})
        r = client.post(
            "/v1.0/me/threads",
            json={"media_type": "TEXT", "text": "hello there", param: value, "access_token": alice.token},
        )
        e = error(r)
        assert e["message"].startswith(f"(#100) The parameter {param} "), (value, e)


def test_carousel_of_an_item_already_in_error(app: FastAPI, client: TestClient, alice: Profile) -> None:
    ctx = ctx_of(app)
    good, failed = _items(client, alice, 2)
    record_outcome(ctx, int(good), Outcome(media_file_id="threads/2026/12/" + "c" * 32 + ".jpg"))
    record_outcome(ctx, int(failed), Outcome(error_message="UNKNOWN", error_details="the image is a GIF"))
    carousel = create(client, alice, media_type="CAROUSEL", children=f"{good},{failed}").json()["id"]
    got = read(client, alice, carousel, "status,error_message")
    assert got == {"id": carousel, "status": "ERROR", "error_message": "UNKNOWN"}
    e = error(publish(client, alice, carousel))
    assert (e["code"], e["type"], "is_transient" in e) == (100, "THApiException", False)
    assert f"{carousel} cannot be published: its status is ERROR" in e["message"]
