"""Every credential kind resolves through the one Authenticator: Threads access tokens and tool keys too."""

from __future__ import annotations

import anyio
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.factories import ctx_of
from tests.publishing.helpers import ALL_SCOPES, make_profile
from tests.tools.conftest import tool_org
from threadline.auth.authenticator import ToolPrincipal
from threadline.kit.clock import MovableClock
from threadline.publishing import accounts
from threadline.publishing.auth import ThreadsPrincipal
from threadline.publishing.schemas import TokenCreate


def test_a_threads_token_resolves_and_its_revocation_is_seen_at_once(app: FastAPI) -> None:
    ctx = ctx_of(app)
    alice = make_profile(app)
    principal = ctx.authenticator.lookup("threads", alice.token)
    assert isinstance(principal, ThreadsPrincipal)
    assert (principal.username, str(principal.profile_id), principal.org_id) == (
        "alice",
        alice.id,
        alice.org_id,
    )
    assert anyio.run(ctx.authenticator.principal, "threads", alice.token) == principal
    # The answer is cached (auth_cache_seconds); revoking clears the cache in this process.
    accounts.revoke_token(ctx, alice.id, str(principal.token_id))
    assert ctx.authenticator.lookup("threads", alice.token) is None


def test_an_expired_threads_token_is_handed_back_for_the_graph_to_tell_apart(
    app: FastAPI, clock: MovableClock
) -> None:
    ctx = ctx_of(app)
    profile = make_profile(app, "bob")
    short = accounts.create_token(
        ctx, profile.id, TokenCreate(scopes=ALL_SCOPES, lifetime="short")
    ).access_token
    clock.advance(2 * 3600)
    principal = ctx.authenticator.lookup("threads", short)
    assert isinstance(principal, ThreadsPrincipal)
    assert clock.now() >= principal.expires_at
    assert anyio.run(ctx.authenticator.principal, "threads", short) is None  # generic callers: refused


def test_a_tool_key_resolves_to_a_tool_principal(app: FastAPI) -> None:
    ctx = ctx_of(app)
    org = tool_org(app)
    principal = anyio.run(ctx.authenticator.principal, "tool", org.tool_key)
    assert principal == ToolPrincipal(org.id, org.tool_key_id, "agent")
    assert ctx.authenticator.lookup("tool", org.tool_key) == principal


@pytest.mark.parametrize("kind", ["tool", "threads", "advertiser", "event", "publisher"])
def test_a_credential_of_another_kind_is_refused(app: FastAPI, kind: str) -> None:
    ctx = ctx_of(app)
    tools = tool_org(app, "Tools Org")
    alice = make_profile(app)
    by_kind = {"tool": tools.tool_key, "threads": alice.token, "advertiser": tools.api_key}
    for other, token in by_kind.items():
        if other != kind:
            assert ctx.authenticator.lookup(kind, token) is None
            assert anyio.run(ctx.authenticator.principal, kind, token) is None


def test_a_tool_key_on_the_advertiser_api_is_an_invalid_key(client: TestClient, app: FastAPI) -> None:
    org = tool_org(app)
    r = client.get("/v1/ad_account", headers={"Authorization": f"Bearer {org.tool_key}"})
    assert r.status_code == 401
    assert (r.json()["error"]["code"], r.json()["error"]["message"]) == (
        "invalid_api_key",
        "Invalid API key.",
    )
