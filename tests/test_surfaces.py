"""Surfaces declared once: lookup by prefix, routes per surface, and credentials refused off their surface."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient

from tests.factories import ctx_of, make_org
from tests.serving.helpers import UA, make_publisher
from threadline.auth.keys import mint_key
from threadline.kit.errors import render_openai
from threadline.kit.surface import Surface, SurfaceTable
from threadline.routing import route_tables
from threadline.surfaces import (
    ADVERTISER,
    EVENTS,
    OPERATOR,
    PUBLIC,
    SERVING,
    SERVING_LEGACY,
    SURFACES,
    THREADS,
    TRACKING,
    surface_table,
)

OPENAI_INVALID = {
    "error": {
        "message": "Invalid API key.",
        "type": "authentication_error",
        "param": None,
        "code": "invalid_api_key",
    }
}


@pytest.mark.parametrize(
    ("path", "surface"),
    [
        ("/v1/campaigns", ADVERTISER),
        ("/v1/api/collect", EVENTS),
        ("/v1/api/", EVENTS),
        ("/api/collect", EVENTS),
        ("/api/conversion", EVENTS),
        ("/api/v1/ssp/bid-request", SERVING),
        ("/developer/serve-ad/", SERVING_LEGACY),
        ("/t/c/abc", TRACKING),
        ("/api/v1/tracking/sponsored-polls/vote", TRACKING),
        ("/admin/v1/orgs", OPERATOR),
        ("/v1", PUBLIC),
        ("/media/x.png", PUBLIC),
        ("/healthz", PUBLIC),
        ("/", PUBLIC),
        ("/api/v1/other", PUBLIC),
    ],
)
def test_a_path_belongs_to_the_surface_with_the_longest_prefix(path: str, surface: Surface) -> None:
    assert surface_table().lookup(path) is surface


def test_a_prefix_is_declared_once() -> None:
    prefixes = [p for s in SURFACES for p in s.prefixes]
    assert len(prefixes) == len(set(prefixes))
    table = surface_table()
    with pytest.raises(ValueError, match="already declared"):
        table.add(Surface("again", ("/v1/",), render_openai))


def test_a_new_surface_takes_its_paths_and_leaves_the_others_alone() -> None:
    table = surface_table()
    graph = Surface("graph", ("/v2.0/",), render_openai)
    table.add(graph)
    assert table.lookup("/v2.0/me") is graph
    assert table.lookup("/v1.0/me") is THREADS
    assert table.lookup("/v1/campaigns") is ADVERTISER
    assert table.lookup("/v1/api/collect") is EVENTS


def test_a_route_that_could_match_another_surface_is_refused() -> None:
    router = APIRouter()

    @router.get("/v1/{anything}")
    def shadow(anything: str) -> dict[str, Any]:
        return {}

    with pytest.raises(ValueError, match="events"):
        route_tables(router.routes, surface_table())


def test_every_route_is_matched_only_within_its_surface(app: FastAPI) -> None:
    tables = route_tables(app.router.routes, surface_table())
    assert sum(len(routes) for routes in tables.values()) == len(app.router.routes)
    names = {s.name: len(tables[s]) for s in tables}
    assert all(
        names[s.name] > 0 for s in (ADVERTISER, EVENTS, SERVING, SERVING_LEGACY, TRACKING, OPERATOR, THREADS)
    )
    assert {getattr(r, "path", "") for r in tables[EVENTS]} == {
        "/v1/api/collect",
        "/v1/api/conversion",
        "/api/collect",
        "/api/conversion",
    }


def test_the_table_is_indexed_by_first_segment() -> None:
    """Lookup cost depends on prefixes sharing a first segment, not on the number of surfaces."""
    table = SurfaceTable(PUBLIC, [Surface(f"s{i}", (f"/s{i}/",), render_openai) for i in range(50)])
    assert table.lookup("/s42/x").name == "s42"
    assert len(table._by_segment["s42"]) == 1


# -- a credential of one kind on another surface is refused in that surface's shape -----------------


@pytest.fixture
def keys(app: FastAPI, admin_headers: dict[str, str]) -> dict[str, str]:
    org = make_org(app)
    ctx = ctx_of(app)
    with ctx.db.write() as s:
        _, event_key = mint_key(s, ctx.clock, kind="event", org_id=org.id, label="cross")
    publisher = make_publisher(app)
    return {
        "ak": org.api_key,
        "ek": event_key,
        "pk": publisher.api_key,
        "admin": admin_headers["Authorization"].removeprefix("Bearer "),
    }


@pytest.mark.parametrize("kind", ["ek", "pk", "admin"])
def test_other_credentials_on_the_advertiser_api(client: TestClient, keys: dict[str, str], kind: str) -> None:
    r = client.get("/v1/ad_account", headers={"Authorization": f"Bearer {keys[kind]}"})
    assert r.status_code == 401
    assert r.json() == OPENAI_INVALID
    assert "x-ratelimit-limit" not in r.headers  # refused before any budget is counted


@pytest.mark.parametrize("kind", ["ak", "pk", "admin"])
@pytest.mark.parametrize("path", ["/v1/api/collect", "/api/collect"])
def test_other_credentials_on_the_events_api(
    client: TestClient, keys: dict[str, str], kind: str, path: str
) -> None:
    r = client.post(path, headers={"Authorization": f"Bearer {keys[kind]}"}, json={"event_name": "x"})
    assert r.status_code == 401
    assert r.json() == OPENAI_INVALID


@pytest.mark.parametrize("kind", ["ak", "ek", "admin"])
def test_other_credentials_on_the_bid_request(client: TestClient, keys: dict[str, str], kind: str) -> None:
    r = client.post("/api/v1/ssp/bid-request", headers={"thrad-api-key": keys[kind], **UA}, json={})
    assert r.status_code == 401
    assert r.json() == {
        "status": "error",
        "message": "Invalid API key.",
        "requestId": r.headers["x-request-id"],
    }


@pytest.mark.parametrize("kind", ["ak", "ek"])
def test_other_credentials_on_the_legacy_serve_ad(
    client: TestClient, keys: dict[str, str], kind: str
) -> None:
    r = client.post("/developer/serve-ad/", headers={"X-THRADS-API-KEY": keys[kind]}, json={})
    assert r.status_code == 401
    assert r.json() == {"status": "error", "message": "Invalid API key"}


@pytest.mark.parametrize("kind", ["ak", "ek", "pk"])
def test_keys_are_not_operator_tokens(client: TestClient, keys: dict[str, str], kind: str) -> None:
    r = client.get("/admin/v1/orgs", headers={"Authorization": f"Bearer {keys[kind]}"})
    assert r.status_code == 401
    assert r.json() == OPENAI_INVALID


def test_a_publisher_key_as_a_bearer_token_is_not_a_serving_credential(
    client: TestClient, keys: dict[str, str]
) -> None:
    """Serving reads its own header; an Authorization header carries nothing there."""
    r = client.post(
        "/api/v1/ssp/bid-request", headers={"Authorization": f"Bearer {keys['pk']}", **UA}, json={}
    )
    assert r.status_code == 401
    assert r.json()["message"] == "Invalid API key."


def test_a_credential_can_come_from_a_query_parameter_or_a_cookie(app: FastAPI, keys: dict[str, str]) -> None:
    """For the coming surfaces (Graph's ?access_token=, dashboard session cookies): same authenticator."""
    import asyncio

    from starlette.requests import Request

    from threadline.gate import SURFACE_KEY, authenticate
    from threadline.kit.surface import Credential

    surface = Surface(
        "graph-like", ("/v1.0/",), render_openai, credential=Credential("event", query="access_token")
    )
    cookie_surface = Surface(
        "web-like", ("/app/",), render_openai, credential=Credential("event", cookie="s")
    )

    def request(surface: Surface, query: bytes = b"", cookie: str | None = None) -> Request:
        headers = [(b"cookie", cookie.encode())] if cookie else []
        scope = {"type": "http", "method": "GET", "path": "/x", "query_string": query, "headers": headers}
        scope[SURFACE_KEY] = surface
        scope["app"] = app
        return Request(scope)

    by_query = asyncio.run(authenticate(request(surface, f"access_token={keys['ek']}".encode())))
    by_cookie = asyncio.run(authenticate(request(cookie_surface, cookie=f"s={keys['ek']}")))
    assert by_query == by_cookie
    assert by_query.kind == "event"
    with pytest.raises(Exception, match="Invalid API key"):
        asyncio.run(authenticate(request(surface, f"access_token={keys['ak']}".encode())))
