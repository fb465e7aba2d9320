"""Click redirects, view pixels and sponsored-poll votes."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.factories import ctx_of
from tests.serving.helpers import bid_body, card, live_campaign, make_publisher
from threadline.kit.clock import MovableClock
from threadline.kit.ids import is_uuid
from threadline.kit.secrets import hmac_hex, sign
from threadline.serving.tables import impressions
from threadline.serving.tokens import TOKEN_TTL_SECONDS
from threadline.store.models import Campaign, Click, InsightsHourly

BID = "/api/v1/ssp/bid-request"
VOTE = "/api/v1/tracking/sponsored-polls/vote"
RESULTS = "/api/v1/tracking/sponsored-polls/results"


def _path(url: str) -> str:
    return urlsplit(url).path + (f"?{urlsplit(url).query}" if urlsplit(url).query else "")


def _serve(client: TestClient, pub: Any, **extra: Any) -> dict[str, Any]:
    r = client.post(BID, json=bid_body(**extra), headers=pub.headers)
    bid: dict[str, Any] = r.json()["data"]["bid"]
    assert bid is not None, r.text
    return bid


def _clicks(app: FastAPI, bid_id: str) -> list[Click]:
    with ctx_of(app).db.read() as s:
        return list(
            s.execute(select(Click).where(Click.bid_id == bid_id).order_by(Click.created_at)).scalars()
        )


def _not_found(r: Any) -> None:
    assert r.status_code == 404
    assert r.json() == {
        "status": "error",
        "message": "Unknown or invalid tracking link.",
        "requestId": r.headers["x-request-id"],
        "code": "not_found",
    }


def test_click_redirects_with_signed_click_id_and_dedupes(
    app: FastAPI, client: TestClient, clock: MovableClock
) -> None:
    live_campaign(
        client, app, clock, ads=[card(target_url="https://shop.example/p?utm_source=thrad&x=a%20b")]
    )
    pub = make_publisher(app, supply="s1")
    bid = _serve(client, pub)
    r = client.get(_path(bid["url"]), follow_redirects=False)
    assert r.status_code == 302
    loc = r.headers["location"]
    assert loc.startswith("https://shop.example/p?utm_source=thrad&x=a%20b&thrad_click_id=")
    q = parse_qs(urlsplit(loc).query)
    click_id, exp = q["thrad_click_id"][0], q["thrad_exp"][0]
    assert is_uuid(click_id)
    assert q["thrad_bid_id"] == [bid["bidId"]]
    assert q["thrad_sig"] == [hmac_hex("test-secret-key", f"{click_id}.{exp}")]
    assert int(exp) > clock.now_s()

    clock.advance(20)  # within 30 s: the same click
    again = parse_qs(
        urlsplit(client.get(_path(bid["url"]), follow_redirects=False).headers["location"]).query
    )
    assert again["thrad_click_id"] == [click_id]
    clock.advance(15)  # 35 s after the counted click: a new one
    third = parse_qs(
        urlsplit(client.get(_path(bid["url"]), follow_redirects=False).headers["location"]).query
    )
    assert third["thrad_click_id"] != [click_id]

    rows = _clicks(app, bid["bidId"])
    assert [c.id for c in rows] == [click_id, third["thrad_click_id"][0]]
    assert rows[0].supply == "s1"
    assert rows[0].charged_micros == 0


def test_forged_altered_and_expired_click_tokens_are_404(
    app: FastAPI, client: TestClient, clock: MovableClock
) -> None:
    live_campaign(client, app, clock)
    pub = make_publisher(app)
    bid = _serve(client, pub)
    token = bid["url"].rsplit("/", 1)[1]
    body, mac = token.split(".")
    forged = sign("another-secret", f"c|{bid['bidId']}|{clock.now_s() + 999}".encode())
    altered = body[:-2] + ("AA" if body[-2:] != "AA" else "BB") + "." + mac
    view_as_click = bid["view_url"].rsplit("/", 1)[1]
    for bad in (forged, altered, "garbage", view_as_click, token + "x"):
        _not_found(client.get(f"/t/c/{bad}", follow_redirects=False))
    clock.advance(TOKEN_TTL_SECONDS + 1)
    _not_found(client.get(f"/t/c/{token}", follow_redirects=False))
    assert _clicks(app, bid["bidId"]) == []


def test_cpc_pays_first_click_only_and_never_past_budget(
    app: FastAPI, client: TestClient, clock: MovableClock
) -> None:
    campaign = live_campaign(
        client, app, clock, pricing_model="cpc", max_bid_micros=600_000, budget_micros=1_000_000
    )
    pub = make_publisher(app)
    ctx = ctx_of(app)
    first = _serve(client, pub)
    second = _serve(client, pub)
    with ctx.db.read() as s:
        price = s.execute(
            select(impressions.c.click_price_micros).where(impressions.c.bid_id == first["bidId"])
        ).scalar_one()
    assert 0 < price <= 600_000
    client.get(_path(first["url"]), follow_redirects=False)
    clock.advance(60)
    client.get(_path(first["url"]), follow_redirects=False)  # a second counted click: free
    client.get(_path(second["url"]), follow_redirects=False)
    charges = [c.charged_micros for c in _clicks(app, first["bidId"])] + [
        c.charged_micros for c in _clicks(app, second["bidId"])
    ]
    with ctx.db.read() as s:
        spent = s.execute(select(Campaign.spent_micros).where(Campaign.id == campaign["id"])).scalar_one()
    assert sum(charges) == spent <= 1_000_000
    assert charges[0] == price
    assert charges[1] == 0
    assert len(charges) == 3  # every click is recorded, paid or not


def test_view_pixel_counts_once(app: FastAPI, client: TestClient, clock: MovableClock) -> None:
    campaign = live_campaign(client, app, clock)
    pub = make_publisher(app)
    bid = _serve(client, pub)
    r = client.get(_path(bid["view_url"]))
    assert r.status_code == 204
    assert r.content == b""
    r = client.get(_path(bid["view_url"]), headers={"Accept": "image/webp,image/*"})
    assert r.status_code == 200
    assert r.headers["content-type"] == "image/gif"
    assert r.content.startswith(b"GIF89a")
    with ctx_of(app).db.read() as s:
        views = s.execute(
            select(InsightsHourly.viewable_impressions).where(InsightsHourly.campaign_id == campaign["id"])
        ).scalar_one()
    assert views == 1
    _not_found(client.get("/t/v/" + bid["url"].rsplit("/", 1)[1]))  # a click token is not a view token


def _poll_bid(client: TestClient, app: FastAPI, clock: MovableClock) -> dict[str, Any]:
    poll = {
        "name": "Poll",
        "creative": {
            "type": "poll",
            "question": "Which distance next?",
            "options": ["5K", "10K", "Marathon"],
        },
    }
    live_campaign(client, app, clock, ads=[poll])
    pub = make_publisher(app)
    return _serve(client, pub, ad_formats=["sponsored_poll"])


def _token(url: str) -> str:
    return parse_qs(urlsplit(url).query)["token"][0]


def _poll_error(r: Any, status: int, code: str, message: str) -> None:
    assert r.status_code == status, r.text
    assert r.json() == {
        "status": "error",
        "message": message,
        "requestId": r.headers["x-request-id"],
        "code": code,
    }


def test_poll_vote_and_results(app: FastAPI, client: TestClient, clock: MovableClock) -> None:
    bid = _poll_bid(client, app, clock)
    assert bid["ad_format"] == "sponsored_poll"
    assert bid["url"] is None
    poll = bid["poll"]
    assert poll["question"] == "Which distance next?"
    assert poll["options"] == [
        {"id": "1", "text": "5K"},
        {"id": "2", "text": "10K"},
        {"id": "3", "text": "Marathon"},
    ]
    token = _token(poll["vote_url"])
    r = client.post(VOTE, json={"token": token, "option_id": "3"})
    assert r.status_code == 200
    assert r.json() == {
        "sponsored_poll_id": r.json()["sponsored_poll_id"],
        "selected_option_id": "3",
        "total_votes": 1,
        "options": [
            {"id": "1", "text": "5K", "votes": 0, "percentage": 0.0},
            {"id": "2", "text": "10K", "votes": 0, "percentage": 0.0},
            {"id": "3", "text": "Marathon", "votes": 1, "percentage": 100.0},
        ],
    }
    r = client.get(RESULTS, params={"token": _token(poll["results_url"])})
    assert r.status_code == 200
    assert r.json()["total_votes"] == 1
    assert r.json()["selected_option_id"] == "3"


def test_poll_errors(app: FastAPI, client: TestClient, clock: MovableClock) -> None:
    bid = _poll_bid(client, app, clock)
    token = _token(bid["poll"]["vote_url"])
    missing = "A signed poll token is required."
    invalid = "The poll token is malformed, expired or not valid."
    _poll_error(client.post(VOTE, json={"option_id": "1"}), 400, "missing_token", missing)
    _poll_error(client.post(VOTE, json={"token": "", "option_id": "1"}), 400, "missing_token", missing)
    _poll_error(client.get(RESULTS), 400, "missing_token", missing)
    _poll_error(client.post(VOTE, json={"token": "x.y", "option_id": "1"}), 401, "invalid_token", invalid)
    click_token = bid["view_url"].rsplit("/", 1)[1]
    _poll_error(
        client.post(VOTE, json={"token": click_token, "option_id": "1"}), 401, "invalid_token", invalid
    )
    _poll_error(client.get(RESULTS, params={"token": token + "A"}), 401, "invalid_token", invalid)
    option_message = "option_id is not one of this poll's options."
    for option in ("9", None, "0"):
        _poll_error(
            client.post(VOTE, json={"token": token, "option_id": option}),
            400,
            "invalid_option",
            option_message,
        )
    assert client.post(VOTE, json={"token": token, "option_id": 1}).status_code == 200
    _poll_error(
        client.post(VOTE, json={"token": token, "option_id": "2"}),
        409,
        "duplicate_vote",
        "This token has already voted.",
    )
    clock.advance(TOKEN_TTL_SECONDS + 1)
    _poll_error(client.get(RESULTS, params={"token": token}), 401, "invalid_token", invalid)
