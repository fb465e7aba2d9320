"""Shared helpers for the advertiser tests (they go through the API and the real services)."""

from __future__ import annotations

import io
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import func, select

from tests.factories import TestOrg, campaign_body, ctx_of
from threadline.advertiser import review
from threadline.store.models import Base


def err(
    message: str, code: str, param: str | None = None, type_: str = "invalid_request_error"
) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def create_campaign(client: TestClient, org: TestOrg, **overrides: Any) -> dict[str, Any]:
    r = client.post("/v1/campaigns", json=campaign_body(**overrides), headers=org.headers)
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


def approve(app: FastAPI, campaign_id: str) -> None:
    ctx = ctx_of(app)
    with ctx.db.write() as s:
        review.approve(s, ctx.clock, campaign_id)


def count(app: FastAPI, model: type[Base], **where: Any) -> int:
    ctx = ctx_of(app)
    with ctx.db.read() as s:
        stmt = select(func.count()).select_from(model)
        for name, value in where.items():
            stmt = stmt.where(getattr(model, name) == value)
        return int(s.execute(stmt).scalar_one())


def only_ad_group(client: TestClient, org: TestOrg, campaign_id: str) -> dict[str, Any]:
    r = client.get("/v1/ad_groups", params={"campaign_id": campaign_id}, headers=org.headers)
    assert r.status_code == 200, r.text
    data: list[dict[str, Any]] = r.json()["data"]
    assert len(data) == 1
    return data[0]


def only_ad(client: TestClient, org: TestOrg, ad_group_id: str) -> dict[str, Any]:
    r = client.get("/v1/ads", params={"ad_group_id": ad_group_id}, headers=org.headers)
    assert r.status_code == 200, r.text
    data: list[dict[str, Any]] = r.json()["data"]
    assert len(data) == 1
    return data[0]


def png_bytes() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(buf, format="PNG")
    return buf.getvalue()


def upload(client: TestClient, org: TestOrg) -> str:
    """A real upload through POST /v1/upload; returns its file_id."""
    r = client.post("/v1/upload", files={"file": ("c.png", png_bytes(), "image/png")}, headers=org.headers)
    assert r.status_code == 201, r.text
    file_id: str = r.json()["file_id"]
    return file_id
