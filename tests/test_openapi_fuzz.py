"""Schemathesis against our own /openapi.json: every operation, zero 5xx, responses that match the schema."""

from __future__ import annotations

import tempfile
from pathlib import Path

import schemathesis
from fastapi import FastAPI
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

ADMIN = "adm_fuzz_token"


def _build_fuzz_app() -> FastAPI:
    data = Path(tempfile.mkdtemp(prefix="threadline-fuzz-"))
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
    profile = accounts.create_profile(ctx, org.id, ProfileCreate(username="fuzz"))
    threads = accounts.create_token(ctx, profile.id, TokenCreate(scopes=list(SCOPES), lifetime="long"))  # type: ignore[arg-type]
    app.state.fuzz_keys = {
        "advertiser": org.api_key,
        "event": event_key,
        "publisher": pub_key,
        "threads": threads.access_token,
    }
    return app


# Built at import: schemathesis turns each operation of the schema into its own test item.
FUZZ_APP = _build_fuzz_app()
schema = schemathesis.openapi.from_asgi("/openapi.json", FUZZ_APP)


def auth_headers(app: FastAPI, path: str) -> dict[str, str]:
    keys = app.state.fuzz_keys
    if path.startswith("/admin/"):
        return {"Authorization": f"Bearer {ADMIN}"}
    if path.startswith(("/v1/api/", "/api/collect", "/api/conversion")):
        return {"Authorization": f"Bearer {keys['event']}"}
    if path.startswith("/api/v1/ssp/"):
        return {"thrad-api-key": keys["publisher"], "User-Agent": "fuzz"}
    if path.startswith(("/v1.0/", "/@")):
        return {"Authorization": f"Bearer {keys['threads']}"}
    if path.startswith("/developer/"):
        return {"X-THRADS-API-KEY": keys["publisher"]}
    return {"Authorization": f"Bearer {keys['advertiser']}"}


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
def test_no_5xx_and_schema_conformance(case: schemathesis.Case) -> None:
    headers = {**(case.headers or {}), **auth_headers(FUZZ_APP, case.path)}
    response = case.call(headers=headers)
    case.validate_response(response, checks=CHECKS)
