"""Bad input at the HTTP edge: always a 4xx in the OpenAI error shape, never a 5xx or {"detail": ...}."""

from __future__ import annotations

import json

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.factories import TestOrg, campaign_body, make_org


@pytest.fixture
def org(app: FastAPI) -> TestOrg:
    return make_org(app)


def assert_error(r: object, status: int, code: str, param: str | None = "ANY") -> dict[str, object]:
    resp = r  # httpx.Response
    assert resp.status_code == status, resp.text  # type: ignore[attr-defined]
    body = resp.json()  # type: ignore[attr-defined]
    assert set(body) == {"error"}
    err = body["error"]
    assert set(err) == {"message", "type", "param", "code"}
    assert err["code"] == code
    if param != "ANY":
        assert err["param"] == param
    return err  # type: ignore[no-any-return]


def post_raw(client: TestClient, org: TestOrg, body: bytes, ctype: str = "application/json"):  # type: ignore[no-untyped-def]
    return client.post("/v1/campaigns", headers={**org.headers, "Content-Type": ctype}, content=body)


def test_malformed_json(client: TestClient, org: TestOrg) -> None:
    err = assert_error(post_raw(client, org, b'{"name": '), 400, "invalid_json", None)
    assert err["type"] == "invalid_request_error"


@pytest.mark.parametrize("body", [b"[]", b'"text"', b"null", b"42"])
def test_non_object_json(client: TestClient, org: TestOrg, body: bytes) -> None:
    r = post_raw(client, org, body)
    assert r.status_code == 400
    assert r.json()["error"]["code"] in {"invalid_json", "invalid_value"}


def test_wrong_content_type(client: TestClient, org: TestOrg) -> None:
    r = post_raw(client, org, json.dumps(campaign_body()).encode(), "text/plain")
    assert r.status_code == 400
    assert "detail" not in r.json()


def test_oversize_body_is_413(client: TestClient, org: TestOrg) -> None:
    body = campaign_body(description="x" * (1024 * 1024 + 10))
    err = assert_error(post_raw(client, org, json.dumps(body).encode()), 413, "request_too_large", None)
    assert err["type"] == "invalid_request_error"


def test_oversize_body_without_content_length_is_413(client: TestClient, org: TestOrg) -> None:
    def gen():  # type: ignore[no-untyped-def]
        yield b'{"name": "'
        for _ in range(20):
            yield b"x" * 65536
        yield b'"}'

    r = client.post(
        "/v1/campaigns", headers={**org.headers, "Content-Type": "application/json"}, content=gen()
    )
    assert_error(r, 413, "request_too_large", None)


def test_deeply_nested_json(client: TestClient, org: TestOrg) -> None:
    r = post_raw(client, org, b'{"a":' * 5000 + b"1" + b"}" * 5000)
    assert r.status_code == 400


def test_wrong_types_at_depth(client: TestClient, org: TestOrg) -> None:
    body = campaign_body()
    body["ad_groups"][0]["ads"][0]["creative"]["title"] = 123
    err = assert_error(post_raw(client, org, json.dumps(body).encode()), 400, "invalid_value")
    assert err["param"] == "ad_groups[0].ads[0].creative.title"
    body = campaign_body()
    body["budget"]["lifetime_spend_limit_micros"] = "25000000"
    assert_error(
        post_raw(client, org, json.dumps(body).encode()),
        400,
        "invalid_value",
        "budget.lifetime_spend_limit_micros",
    )


def test_unknown_field_at_depth(client: TestClient, org: TestOrg) -> None:
    body = campaign_body()
    body["ad_groups"][0]["bidding_config"]["max_bid"] = 5
    assert_error(
        post_raw(client, org, json.dumps(body).encode()),
        400,
        "unknown_param",
        "ad_groups[0].bidding_config.max_bid",
    )


def test_huge_arrays(client: TestClient, org: TestOrg) -> None:
    body = campaign_body()
    body["ad_groups"][0]["context_hints"] = ["hint"] * 10_000
    r = post_raw(client, org, json.dumps(body).encode())
    assert r.status_code == 400
    assert r.json()["error"]["param"] == "ad_groups[0].context_hints"


# The rule (spec 10: name 3-100 characters, not all spaces; NUL refused because PostgreSQL text cannot
# hold it) counts code points after JSON decoding, so each case has exactly one right answer.
@pytest.mark.parametrize(
    ("name", "status"),
    [
        ("\u0000\u0000\u0000", 400),  # NUL
        ("ab\u0000", 400),
        ("\ud83d\ude00" * 3, 201),  # a JSON surrogate pair is one character: three emoji
        ("e\u0301" * 50, 201),  # 100 code points (letter + combining accent), the maximum
        ("e\u0301" * 50 + "e", 400),  # 101
        ("\u202e" * 10, 201),  # bidi override: a format character, not a space
        ("\u3000\u2003 \t", 400),  # all (Unicode) spaces
        ("\ud83d" * 3, 400),  # lone surrogates are not text
    ],
    ids=["nul", "nul-inside", "emoji", "combining-100", "combining-101", "bidi", "spaces", "lone-surrogate"],
)
def test_unicode_names_follow_the_rule(client: TestClient, org: TestOrg, name: str, status: int) -> None:
    r = post_raw(client, org, json.dumps(campaign_body(name=name)).encode())
    if status == 201:
        assert r.status_code == 201, r.text
        assert r.json()["name"] == json.loads(json.dumps(name))
    else:
        assert_error(r, 400, "invalid_value", "name")


def test_invalid_utf8(client: TestClient, org: TestOrg) -> None:
    r = post_raw(client, org, b'{"name": "\xff\xfe"}')
    assert r.status_code == 400


def test_idempotency_key_too_long(client: TestClient, org: TestOrg) -> None:
    r = client.post(
        "/v1/campaigns", headers={**org.headers, "Idempotency-Key": "k" * 256}, json=campaign_body()
    )
    assert_error(r, 400, "invalid_value", "Idempotency-Key")


def test_unknown_path_and_method(client: TestClient, org: TestOrg) -> None:
    assert_error(client.get("/v1/nope", headers=org.headers), 404, "not_found", None)
    r = client.delete("/v1/ad_account", headers=org.headers)
    assert r.status_code == 405
    assert "error" in r.json()
