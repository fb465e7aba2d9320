"""Schemathesis against our own /openapi.json: every operation, zero 5xx, responses that match the schema.

The app and its database are built by a session fixture (on first use), never at import; credentials are
chosen by the surface each path belongs to (surfaces.py), not by prefixes written here.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings

from tests.factories import ctx_of, make_org
from threadline.app import create_app
from threadline.auth.keys import mint_key
from threadline.config import Settings
from threadline.kit.clock import MovableClock
from threadline.publishing import accounts
from threadline.publishing.auth import SCOPES
from threadline.publishing.schemas import ProfileCreate, TokenCreate
from threadline.store.migrate import upgrade
from threadline.store.models import Publisher
from threadline.surfaces import surface_table

ADMIN = "adm_fuzz_token"


@pytest.fixture(scope="session")
def fuzz_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    data: Path = tmp_path_factory.mktemp("threadline-fuzz")
    url = f"sqlite:///{data}/fuzz.db"
    upgrade(url)
    app = create_app(
        Settings(
            data_dir=data,
            database_url=url,
            admin_token=ADMIN,
            secret_key="fuzz-secret",
            rate_limits_enabled=False,
            log_requests=False,
            fetch_total_timeout=1.0,
            fetch_connect_timeout=0.5,
        ),
        clock=MovableClock(),
    )
    org = make_org(app)
    ctx = ctx_of(app)
    with ctx.db.write() as s:
        _, event_key = mint_key(s, ctx.clock, kind="event", org_id=org.id, label="fuzz")
        pub = Publisher(id="6f1c2d3e-4a5b-4c7d-8e9f-0a1b2c3d4e5f", name="Fuzz", created_at=ctx.clock.now_s())
        s.add(pub)
        s.flush()
        _, pub_key = mint_key(s, ctx.clock, kind="publisher", publisher_id=pub.id)
        _, tool_key = mint_key(s, ctx.clock, kind="tool", org_id=org.id, label="fuzz")
    profile = accounts.create_profile(ctx, org.id, ProfileCreate(username="fuzz"))
    threads = accounts.create_token(ctx, profile.id, TokenCreate(scopes=list(SCOPES), lifetime="long"))  # type: ignore[arg-type]
    app.state.fuzz_keys = {
        "advertiser": org.api_key,
        "event": event_key,
        "publisher": pub_key,
        "tool": tool_key,
        "threads": threads.access_token,
        "operator": ADMIN,
    }
    with TestClient(app):  # the lifespan: components run while the fuzzer does, and stop after it
        yield app
    ctx.db.dispose()


@pytest.fixture(scope="session")
def fuzz_schema(fuzz_app: FastAPI) -> schemathesis.schemas.BaseSchema:
    return schemathesis.openapi.from_asgi("/openapi.json", fuzz_app)


schema = schemathesis.pytest.from_fixture("fuzz_schema")


@pytest.fixture(autouse=True)
def _schemathesis_node_id(request: pytest.FixtureRequest) -> None:
    # schemathesis 4.32's lazy schemas read Node._nodeid, which pytest 9 no longer has.
    if not hasattr(request.node, "_nodeid"):
        request.node._nodeid = request.node.nodeid


TABLE = surface_table()


def auth_headers(app: FastAPI, path: str) -> dict[str, str]:
    """The credential the path's surface declares, in the header and form that surface reads."""
    credential = TABLE.lookup(path).credential
    if credential is None:
        return {}
    token = app.state.fuzz_keys[credential.kind]
    headers = {credential.header: f"Bearer {token}" if credential.bearer else token}
    if credential.kind == "publisher":
        headers["User-Agent"] = "fuzz"
    return headers


CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_schema_conformance,
]


@schema.parametrize()
@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_no_5xx_and_schema_conformance(case: schemathesis.Case, fuzz_app: FastAPI) -> None:
    headers = {**(case.headers or {}), **auth_headers(fuzz_app, case.path)}
    response = case.call(headers=headers)
    case.validate_response(response, checks=CHECKS)


def test_every_public_operation_is_fuzzed(fuzz_app: FastAPI) -> None:
    """The schema the fuzzer walks has every surface's operations (a lost router would drop them)."""
    paths = TestClient(fuzz_app).get("/openapi.json").json()["paths"]
    surfaces = {TABLE.lookup(p).name for p in paths}
    assert {
        "advertiser",
        "events",
        "serving",
        "serving-legacy",
        "tracking",
        "operator",
        "threads",
        "public",
    } <= surfaces
