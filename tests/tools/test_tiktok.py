"""upload_tiktok_images through the real adapter against a local stub of TikTok's Marketing API."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.factories import ctx_of
from tests.tools.conftest import ToolOrg, call
from tests.tools.tiktok_stub import TikTokStub
from threadline.config import Settings
from threadline.store.models import ToolAccount

TOKEN_US, TOKEN_EU = "act.us-secret-token", "act.eu-secret-token"


@pytest.fixture
def tiktok(settings: Settings) -> Iterator[TikTokStub]:
    with TikTokStub(tokens={TOKEN_US: {"7123"}, TOKEN_EU: {"7456"}}, slow_seconds=1.5) as stub:
        settings.tiktok_api_base = stub.base_url
        settings.tiktok_timeout_seconds = 0.5
        settings.tiktok_retry_backoff_seconds = 0.0
        settings.tiktok_max_attempts = 2
        yield stub


def connect(
    client: TestClient, org: ToolOrg, admin: dict[str, str], advertiser_id: str, name: str, token: str
) -> Any:
    body = {"platform": "tiktok_ads", "advertiser_id": advertiser_id, "name": name, "access_token": token}
    r = client.post(f"/admin/v1/orgs/{org.id}/connections", json=body, headers=admin)
    assert r.status_code == 201, r.text
    return r.json()


@pytest.fixture
def us(client: TestClient, org: ToolOrg, admin_headers: dict[str, str], tiktok: TikTokStub) -> None:
    created = connect(client, org, admin_headers, "7123", "Acme US", TOKEN_US)
    assert created == {
        "platform": "tiktok_ads",
        "account_id": "7123",
        "name": "Acme US",
        "active": True,
        "selector": "advertiser_id",
    }


def upload(client: TestClient, org: ToolOrg, urls: list[str], **extra: Any) -> Any:
    return call(client, "upload_tiktok_images", {"image_urls": urls, **extra}, org.headers)


@pytest.mark.usefixtures("us")
def test_upload_speaks_tiktoks_protocol(
    app: FastAPI, client: TestClient, org: ToolOrg, tiktok: TikTokStub
) -> None:
    urls = ["https://cdn.example.com/a.jpg", "https://cdn.example.com/b.png"]
    r = upload(client, org, urls)
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    structured = data["structured"]
    assert structured["advertiser_id"] == "7123"
    assert structured["uploaded"] == 2
    assert structured["failed"] == 0
    assert [x["image_url"] for x in structured["results"]] == urls
    assert [x["format"] for x in structured["results"]] == ["jpeg", "png"]
    assert structured["image_ids"] == [x["image_id"] for x in structured["results"]]
    for image_id in structured["image_ids"]:
        assert image_id in data["text"]
    assert data["quota"]["used"] == 1
    sent = tiktok.requests
    assert len(sent) == 2
    for req, url in zip(sent, urls, strict=True):
        assert req.headers["access-token"] == TOKEN_US
        assert req.body["advertiser_id"] == "7123"
        assert req.body["upload_type"] == "UPLOAD_BY_URL"
        assert req.body["image_url"] == url
    names = [req.body["file_name"] for req in sent]
    assert len(set(names)) == 2
    assert all(1 <= len(n) <= 100 for n in names)
    # The same URLs again: new file names, so TikTok does not refuse them as duplicates.
    assert upload(client, org, urls).status_code == 200
    assert len({req.body["file_name"] for req in tiktok.requests}) == 4


@pytest.mark.usefixtures("us")
def test_token_is_encrypted_at_rest(app: FastAPI) -> None:
    with ctx_of(app).db.read() as s:
        row = s.query(ToolAccount).filter_by(platform="tiktok_ads").one()
    assert row.token_encrypted
    assert TOKEN_US not in row.token_encrypted


@pytest.mark.usefixtures("us")
def test_partial_failure_lists_what_succeeded(client: TestClient, org: ToolOrg) -> None:
    urls = [
        "https://cdn.example.com/ok.jpg",
        "https://cdn.example.com/notfound.jpg",
        "https://cdn.example.com/big.jpg",
        "https://cdn.example.com/garbage.jpg",
    ]
    r = upload(client, org, urls)
    assert r.status_code == 200
    s = r.json()["data"]["structured"]
    assert s["uploaded"] == 1
    assert s["failed"] == 3
    results = s["results"]
    assert results[0]["success"] is True
    assert results[1] == {
        "image_url": urls[1],
        "success": False,
        "error": "TikTok code 40002: Image download failed: the URL returned 404.",
        "tiktok_code": 40002,
    }
    assert results[2]["success"] is False
    assert results[2]["error"] == "The image is 12582912 bytes; the limit is 10 MB."
    assert results[3]["success"] is False
    assert results[3]["error"] == "TikTok answered something that is not JSON."
    assert "Uploaded 1 of 4 image(s)" in r.json()["data"]["text"]


@pytest.mark.usefixtures("us")
@pytest.mark.parametrize(
    ("path", "error"),
    [
        ("slow.jpg", "TikTok could not be reached: The upstream request timed out."),
        ("http500.jpg", "TikTok answered HTTP 500."),
        ("garbage.jpg", "TikTok answered something that is not JSON."),
    ],
)
def test_upstream_faults_are_retried_then_reported(
    app: FastAPI, client: TestClient, org: ToolOrg, tiktok: TikTokStub, path: str, error: str
) -> None:
    url = f"https://cdn.example.com/{path}"
    r = upload(client, org, [url])
    assert r.status_code == 400
    assert r.json() == {
        "success": False,
        "error": f"None of the 1 image(s) could be uploaded to TikTok:\n- {url}: {error}",
        "is_error": True,
        "tool": "upload_tiktok_images",
        "structured_content": {
            "advertiser_id": "7123",
            "uploaded": 0,
            "failed": 1,
            "image_ids": [],
            "results": [{"image_url": url, "success": False, "error": error, "tiktok_code": None}],
        },
    }
    assert len(tiktok.requests) == 2  # tiktok_max_attempts
    # A failed call takes no quota.
    assert call(client, "get_usage_status", {}, org.headers).json()["data"]["quota"]["used"] == 0


@pytest.mark.usefixtures("us")
def test_rate_limit_code_is_our_429(client: TestClient, org: ToolOrg, tiktok: TikTokStub) -> None:
    urls = [
        "https://cdn.example.com/ok.jpg",
        "https://cdn.example.com/throttle.jpg",
        "https://cdn.example.com/c.jpg",
    ]
    r = upload(client, org, urls)
    assert r.status_code == 429
    assert r.headers["Retry-After"] == "60"
    body = r.json()
    assert body["error"] == (
        "Upstream platform rate limit hit (TikTok: TikTok code 40100: Too many requests. Please retry later.). "
        "Retry after 60 seconds. 1 image(s) were uploaded before the limit; see structured_content."
    )
    assert [x["success"] for x in body["structured_content"]["results"]] == [True]
    assert len(tiktok.requests) == 2  # not retried, and the batch stops


def test_rejected_token_is_a_400(
    client: TestClient, org: ToolOrg, admin_headers: dict[str, str], tiktok: TikTokStub
) -> None:
    connect(client, org, admin_headers, "7123", "Acme US", "revoked-token")
    r = upload(client, org, ["https://cdn.example.com/a.jpg"])
    assert r.status_code == 400
    assert r.json() == {
        "success": False,
        "error": "TikTok rejected the access token of advertiser 7123 (TikTok code 40105: Access token is "
        "incorrect or has been revoked.). Reconnect the account with a fresh token.",
        "is_error": True,
        "tool": "upload_tiktok_images",
        "structured_content": {"results": []},
    }


def test_account_selection(
    client: TestClient, org: ToolOrg, admin_headers: dict[str, str], tiktok: TikTokStub
) -> None:
    r = upload(client, org, ["https://cdn.example.com/a.jpg"])
    assert r.status_code == 400
    assert r.json()["error"].startswith("No tiktok_ads account is connected.")
    connect(client, org, admin_headers, "7123", "Acme US", TOKEN_US)
    connect(client, org, admin_headers, "7456", "Acme EU", TOKEN_EU)
    r = upload(client, org, ["https://cdn.example.com/a.jpg"])
    assert r.status_code == 400
    assert r.json() == {
        "success": False,
        "error": "You have 2 tiktok_ads accounts connected. Please specify which account to use by passing the "
        'advertiser_id parameter:\n  - Acme US (advertiser_id="7123")\n  - Acme EU (advertiser_id="7456")',
        "is_error": True,
        "tool": "upload_tiktok_images",
        "structured_content": {
            "accounts": [
                {
                    "platform": "tiktok_ads",
                    "account_id": "7123",
                    "name": "Acme US",
                    "active": True,
                    "selector": "advertiser_id",
                },
                {
                    "platform": "tiktok_ads",
                    "account_id": "7456",
                    "name": "Acme EU",
                    "active": True,
                    "selector": "advertiser_id",
                },
            ]
        },
    }
    r = upload(client, org, ["https://cdn.example.com/a.jpg"], advertiser_id="7456")
    assert r.status_code == 200
    assert tiktok.requests[-1].headers["access-token"] == TOKEN_EU
    r = upload(client, org, ["https://cdn.example.com/a.jpg"], advertiser_id="9999")
    assert r.json()["error"] == (
        'No tiktok_ads account with advertiser_id="9999" is connected. Call list_connected_accounts to see the '
        "connected accounts."
    )
    r = call(client, "switch_primary_account", {"platform": "tiktok_ads", "account_id": "7123"}, org.headers)
    assert r.status_code == 200
    assert r.json()["data"]["structured"]["active_account_ids"] == ["7123"]
    r = upload(client, org, ["https://cdn.example.com/a.jpg"])
    assert r.status_code == 200
    assert r.json()["data"]["structured"]["advertiser_id"] == "7123"
    r = call(client, "get_connections_status", {}, org.headers)
    assert r.json()["data"]["structured"]["platforms"] == [
        {"platform": "thrad", "status": "connected", "connected": 1, "active": 1},
        {"platform": "threads", "status": "not_connected", "connected": 0, "active": 0},
        {"platform": "tiktok_ads", "status": "connected", "connected": 2, "active": 1},
    ]


def test_tiktok_base_url_is_held_to_the_fetch_policy(
    settings: Settings, client: TestClient, org: ToolOrg, admin_headers: dict[str, str], tiktok: TikTokStub
) -> None:
    # The loopback stub is reachable only because tests allow-list 127.0.0.1; without it, refused.
    settings.allow_private_fetch_hosts = []
    connect(client, org, admin_headers, "7123", "Acme US", TOKEN_US)
    r = upload(client, org, ["https://cdn.example.com/a.jpg"])
    assert r.status_code == 400
    assert "not publicly routable" in r.json()["error"]
    assert tiktok.requests == []
