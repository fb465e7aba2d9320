"""POST /developer/serve-ad/ — the shape the published thrads-sdk client speaks, driven by that client."""

from __future__ import annotations

import base64
import io
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image
from thrads import ThradsClient

from tests.factories import ctx_of, make_org
from tests.serving.helpers import OFF_TOPIC_CHAT, card, legacy_body, live_campaign, make_publisher
from threadline.kit.clock import MovableClock

URL = "/developer/serve-ad/"


@pytest.fixture
def live_server(app: FastAPI) -> Iterator[str]:
    """The app on a real loopback socket (uvicorn in a thread), for clients we cannot inject into."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def _png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(buf, format="PNG")
    return buf.getvalue()


def test_thrads_sdk_gets_an_ad_with_its_image(
    app: FastAPI, client: TestClient, clock: MovableClock, live_server: str
) -> None:
    org = make_org(app)
    png = _png()
    up = client.post("/v1/upload", files={"file": ("a.png", png, "image/png")}, headers=org.headers)
    assert up.status_code == 201, up.text
    live_campaign(client, app, clock, org=org, ads=[card(file_id=up.json()["file_id"])])
    pub = make_publisher(app)

    sdk = ThradsClient(pub.api_key, base_url=live_server)
    content = {"user": "Which running shoes for a marathon?", "chatbot": "Cushioned running shoes help."}
    ad = sdk.get_ad(user_id="u1", chat_id="c1", content=content, production=True, force=True)
    assert ad is not None
    assert ad.prod_name == "Premium Running Shoes"
    assert ad.creative == "Lightweight and built for the long run."
    assert ad.prod_url.startswith("http://127.0.0.1:8000/t/c/")
    assert ad.img_url == "data:image/png;base64," + base64.b64encode(png).decode()
    image = ad.get_image()
    assert image is not None
    assert image.size == (8, 8)
    assert sdk.api_version == "1.0"
    assert sdk.last_request_id

    # Off-topic: not served, the client returns None.
    off = {"user": OFF_TOPIC_CHAT[0]["content"], "chatbot": OFF_TOPIC_CHAT[1]["content"]}
    assert sdk.get_ad(user_id="u1", chat_id="c2", content=off, production=True, force=True) is None


def test_response_shape_and_text_only_ad(app: FastAPI, client: TestClient, clock: MovableClock) -> None:
    live_campaign(client, app, clock)
    pub = make_publisher(app)
    r = client.post(URL, json=legacy_body(force=True), headers=pub.legacy_headers)
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"status", "requestId", "totalTime", "apiVersion", "timestamp", "adStatus", "data"}
    assert body["status"] == "success"
    assert body["adStatus"] == "served"
    assert set(body["data"]) == {"creative", "prod_name", "prod_url", "img_url"}
    assert body["data"]["img_url"] == ""
    r = client.post(URL, json=legacy_body(force=False), headers=pub.legacy_headers)
    assert r.json()["adStatus"] == "not_served"
    assert r.json()["data"] is None


def test_sandbox_default_is_not_billed(app: FastAPI, client: TestClient, clock: MovableClock) -> None:
    campaign = live_campaign(client, app, clock)
    pub = make_publisher(app)
    body = legacy_body()
    del body["production"]  # the SDK's default is production=False
    for _ in range(3):  # sandbox ignores the frequency rules: an ad on every request
        assert client.post(URL, json=body, headers=pub.legacy_headers).json()["adStatus"] == "served"
    r = client.get(f"/v1/campaigns/{campaign['id']}", headers=campaign["org"].headers)
    assert r.status_code == 200
    from sqlalchemy import select

    from threadline.store.models import Campaign

    with ctx_of(app).db.read() as s:
        assert s.execute(select(Campaign.spent_micros).where(Campaign.id == campaign["id"])).scalar_one() == 0


def test_server_counts_turns_per_chat(app: FastAPI, client: TestClient, clock: MovableClock) -> None:
    live_campaign(client, app, clock)
    pub = make_publisher(app)

    def turns(n: int, **extra: Any) -> list[bool]:
        return [
            client.post(URL, json=legacy_body(**extra), headers=pub.legacy_headers).json()["adStatus"]
            == "served"
            for _ in range(n)
        ]

    # Defaults: no ad before turn 2 (0-based), then at least 5 turns between ads.
    assert turns(13) == [
        False,
        False,
        True,
        False,
        False,
        False,
        False,
        True,
        False,
        False,
        False,
        False,
        True,
    ]
    # Another chat counts on its own; custom offset/limit; aggressiveness is accepted.
    got = turns(5, chatId="chat-2", conversationOffset=0, adFrequencyLimit=2, adAggressiveness="low")
    assert got == [True, False, True, False, True]
    # force bypasses (true) or suppresses (false) the rules.
    assert turns(2, chatId="chat-3", force=True) == [True, True]
    assert turns(1, chatId="chat-2", force=False) == [False]


def test_bad_key_is_401_in_the_legacy_shape(app: FastAPI, client: TestClient) -> None:
    for headers in ({}, {"X-THRADS-API-KEY": "pk_unknown"}):
        r = client.post(URL, json=legacy_body(), headers=headers)
        assert r.status_code == 401
        assert r.json() == {"status": "error", "message": "Invalid API key"}


def test_bad_body_is_400(app: FastAPI, client: TestClient) -> None:
    pub = make_publisher(app)
    r = client.post(URL, json={"userId": "u", "chatId": "c"}, headers=pub.legacy_headers)
    assert r.status_code == 400
    assert r.json() == {"status": "error", "message": "Missing required parameter: content."}
    r = client.post(URL, json=legacy_body(adAggressiveness="extreme"), headers=pub.legacy_headers)
    assert r.status_code == 400
    assert r.json() == {
        "status": "error",
        "message": "adAggressiveness: Input should be 'low', 'medium' or 'high'",
    }


def test_rate_limit_is_429(app: FastAPI, client: TestClient) -> None:
    ctx_of(app).settings.serving_rate_limit_per_second = 2
    pub = make_publisher(app)
    # A sliding window may straddle a second boundary, so allow a few extra before the first 429.
    got = [client.post(URL, json=legacy_body(), headers=pub.legacy_headers) for _ in range(8)]
    codes = [r.status_code for r in got]
    assert codes[:2] == [200, 200]
    assert 429 in codes
    limited = got[codes.index(429)]
    assert limited.json() == {"status": "error", "message": "Rate limit exceeded."}
    assert limited.headers["x-ratelimit-remaining"] == "0"
