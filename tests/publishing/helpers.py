"""Builders for publishing tests: profiles and tokens through the operator services."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from typer.testing import CliRunner

from tests.factories import ctx_of, make_org
from threadline import cli
from threadline.publishing import accounts
from threadline.publishing.auth import SCOPES
from threadline.publishing.schemas import ProfileCreate, TokenCreate

ALL_SCOPES: list[Any] = list(SCOPES)


@dataclass
class Profile:
    id: str
    org_id: str
    username: str
    token: str


def make_profile(
    app: FastAPI,
    username: str = "alice",
    *,
    org_id: str | None = None,
    geo: bool = False,
    scopes: list[Any] | None = None,
) -> Profile:
    ctx = ctx_of(app)
    if org_id is None:
        org_id = make_org(app, name=f"Org of {username}", card=None).id
    out = accounts.create_profile(
        ctx, org_id, ProfileCreate(username=username, name=username.title(), is_eligible_for_geo_gating=geo)
    )
    tok = accounts.create_token(ctx, out.id, TokenCreate(scopes=scopes or ALL_SCOPES, lifetime="long"))
    return Profile(out.id, org_id, username, tok.access_token)


def mint(
    app: FastAPI, profile_id: str, scopes: list[Any], lifetime: str = "long", app_id: str | None = None
) -> str:
    out = accounts.create_token(
        ctx_of(app),
        profile_id,
        TokenCreate(scopes=scopes, lifetime=lifetime, app_id=app_id),  # type: ignore[arg-type]
    )
    return out.access_token


def post(client: TestClient, path: str, token: str, **data: Any) -> Response:
    return client.post(f"/v1.0/{path}", data={**data, "access_token": token})


def get(client: TestClient, path: str, token: str, **params: Any) -> Response:
    return client.get(f"/v1.0/{path}", params={**params, "access_token": token})


def create_text(client: TestClient, p: Profile, text: str = "Hello", **extra: Any) -> str:
    r = post(client, "me/threads", p.token, media_type="TEXT", text=text, **extra)
    assert r.status_code == 200, r.text
    return str(r.json()["id"])


def publish(client: TestClient, p: Profile, creation_id: str) -> Response:
    return post(client, "me/threads_publish", p.token, creation_id=creation_id)


def text_post(client: TestClient, p: Profile, text: str = "Hello", **extra: Any) -> str:
    r = publish(client, p, create_text(client, p, text, **extra))
    assert r.status_code == 200, r.text
    return str(r.json()["id"])


def error(r: Response) -> dict[str, Any]:
    assert r.status_code == 400, (r.status_code, r.text)
    body: dict[str, Any] = r.json()["error"]
    assert body["fbtrace_id"] == r.headers["x-request-id"]
    return body


def cli_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Any]:
    """Runs `threadline ... --json` on an embedded store of its own; returns the parsed answer."""
    monkeypatch.setenv("THREADLINE_DATA_DIR", str(tmp_path / "cli"))
    for name in ("THREADLINE_DATABASE_URL", "THREADLINE_ADMIN_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    runner = CliRunner()

    def run(*args: str) -> Any:
        result = runner.invoke(cli.app, [*args, "--json"])
        assert result.exit_code == 0, (result.stdout, result.stderr)
        return json.loads(result.stdout)

    return run
