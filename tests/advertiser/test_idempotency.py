"""Idempotency-Key on the charging create, end to end through the gate."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.advertiser.helpers import count, err
from tests.factories import campaign_body, make_org
from threadline.store.models import Ad, AdGroup, Campaign, Charge, SandboxPayment


def test_same_key_same_body_replays(app: FastAPI, client: TestClient) -> None:
    org = make_org(app)
    headers = {**org.headers, "Idempotency-Key": "3f6c1a90-1d2e-4b8a-9c7f-0a1b2c3d4e5f"}
    first = client.post("/v1/campaigns", json=campaign_body(), headers=headers)
    assert first.status_code == 201
    assert "Idempotent-Replayed" not in first.headers
    # Key order and whitespace do not matter: the body is compared canonically.
    reordered = dict(reversed(list(campaign_body().items())))
    second = client.post("/v1/campaigns", json=reordered, headers=headers)
    assert (second.status_code, second.content, second.headers["Idempotent-Replayed"]) == (
        201,
        first.content,
        "true",
    )
    assert (count(app, Campaign), count(app, Charge), count(app, SandboxPayment)) == (1, 1, 1)


def test_same_key_other_body_is_refused(app: FastAPI, client: TestClient) -> None:
    org = make_org(app)
    headers = {**org.headers, "Idempotency-Key": "k"}
    assert client.post("/v1/campaigns", json=campaign_body(), headers=headers).status_code == 201
    r = client.post("/v1/campaigns", json=campaign_body(name="Winter launch"), headers=headers)
    assert (r.status_code, r.json()) == (
        409,
        err(
            "This Idempotency-Key was already used with a different request.",
            "idempotency_key_reused",
            "Idempotency-Key",
            type_="idempotency_error",
        ),
    )
    assert (count(app, Campaign), count(app, Charge)) == (1, 1)


def test_keys_are_scoped_per_org(app: FastAPI, client: TestClient) -> None:
    a, b = make_org(app), make_org(app, name="Other")
    for org in (a, b):
        r = client.post(
            "/v1/campaigns", json=campaign_body(), headers={**org.headers, "Idempotency-Key": "shared"}
        )
        assert (r.status_code, r.headers.get("Idempotent-Replayed")) == (201, None)
    assert count(app, Campaign) == 2


def test_stored_400_replays_too(app: FastAPI, client: TestClient) -> None:
    org = make_org(app, card=None)
    headers = {**org.headers, "Idempotency-Key": "nocard"}
    first = client.post("/v1/campaigns", json=campaign_body(), headers=headers)
    assert first.json()["error"]["code"] == "billing_not_configured"
    second = client.post("/v1/campaigns", json=campaign_body(), headers=headers)
    assert (second.status_code, second.content, second.headers["Idempotent-Replayed"]) == (
        400,
        first.content,
        "true",
    )


def test_child_creates_are_idempotent(app: FastAPI, client: TestClient) -> None:
    org = make_org(app)
    cid = client.post("/v1/campaigns", json=campaign_body(), headers=org.headers).json()["id"]
    headers = {**org.headers, "Idempotency-Key": "group-1"}
    first = client.post("/v1/ad_groups", json={"campaign_id": cid, "name": "Extra"}, headers=headers)
    second = client.post("/v1/ad_groups", json={"campaign_id": cid, "name": "Extra"}, headers=headers)
    assert (first.status_code, second.status_code, second.json()) == (201, 201, first.json())
    assert count(app, AdGroup) == 2
    assert count(app, Ad) == 1


def test_concurrent_creates_with_one_key(app: FastAPI, client: TestClient) -> None:
    org = make_org(app)
    headers = {**org.headers, "Idempotency-Key": "burst"}
    body = campaign_body()

    def send(_: int) -> tuple[int, bytes, str]:
        r = client.post("/v1/campaigns", json=body, headers=headers)
        return r.status_code, r.content, r.json()["error"]["code"] if r.status_code != 201 else ""

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(send, range(20)))
    created = {content for status, content, _ in results if status == 201}
    assert len(created) == 1
    others = {(status, code) for status, _, code in results if status != 201}
    assert others <= {(409, "idempotency_request_in_progress")}
    assert (count(app, Campaign), count(app, AdGroup), count(app, Ad)) == (1, 1, 1)
    assert (count(app, Charge), count(app, SandboxPayment)) == (1, 1)
    # Once settled, every retry replays the one response.
    r = client.post("/v1/campaigns", json=body, headers=headers)
    assert (r.status_code, r.content) == (201, created.pop())
