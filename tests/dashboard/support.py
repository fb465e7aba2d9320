"""Helpers of the dashboard tests: people through the dashboard's services, sign-in through HTTP."""

from __future__ import annotations

import re

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.factories import ctx_of
from threadline.dashboard import people

PASSWORD = "correct horse battery"
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]*)"')


def make_person(app: FastAPI, email: str, org_id: str | None, role: str | None = None) -> people.PersonOut:
    role = role or ("operator" if org_id is None else "owner")
    return people.create_person(ctx_of(app), email, PASSWORD, role=role, org_id=org_id)


def csrf_of(html: str) -> str:
    found = CSRF_RE.search(html)
    assert found is not None, "the page has no CSRF field"
    return found.group(1)


def sign_in(client: TestClient, email: str, password: str = PASSWORD) -> str:
    """Signs the client in; the session's CSRF token (from the page it lands on)."""
    token = csrf_of(client.get("/app/signin").text)
    r = client.post(
        "/app/signin",
        data={"email": email, "password": password, "csrf_token": token},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    landing = client.get(r.headers["location"])
    assert landing.status_code == 200, landing.text
    return csrf_of(landing.text)
