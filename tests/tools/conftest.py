"""Fixtures of the tool API tests: an org with a tool key, and a helper that calls a tool."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.factories import ctx_of, make_org
from threadline.context import AppContext
from threadline.tools import keys
from threadline.tools.schemas import ToolKeyCreate


@dataclass
class ToolOrg:
    id: str
    api_key: str
    ad_account_id: str
    tool_key: str
    tool_key_id: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tool_key}"}


def tool_org(app: FastAPI, name: str = "Acme Inc.", card: str | None = "tok_visa") -> ToolOrg:
    org = make_org(app, name, card=card)
    key = keys.create_tool_key(ctx_of(app), org.id, ToolKeyCreate(label="agent"))
    return ToolOrg(org.id, org.api_key, org.ad_account_id, key.api_key, key.id)


@pytest.fixture
def org(app: FastAPI) -> ToolOrg:
    return tool_org(app)


@pytest.fixture
def ctx(app: FastAPI) -> AppContext:
    return ctx_of(app)


def call(
    client: TestClient | httpx.Client,
    tool: str,
    arguments: Any,
    headers: dict[str, str] | None,
    *,
    key: str | None = None,
) -> httpx.Response:
    h = dict(headers or {})
    if key is not None:
        h["Idempotency-Key"] = key
    return client.post(f"/api/v1/tools/{tool}/execute", json={"arguments": arguments}, headers=h)
