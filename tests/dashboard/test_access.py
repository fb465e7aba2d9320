"""Roles and org isolation: a person of one org gets 404 for another org's objects; operator pages are
for operators only; invitations from the CLI functions end in a sign-in."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.dashboard.support import PASSWORD, csrf_of, make_person, sign_in
from tests.factories import QUICKSTART_CAMPAIGN, ctx_of, make_org
from threadline.dashboard import people
from threadline.kit.errors import ApiError


def _campaign(client: TestClient, headers: dict[str, str]) -> str:
    r = client.post("/v1/campaigns", json=QUICKSTART_CAMPAIGN, headers=headers)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def test_another_orgs_campaign_is_not_found(app: FastAPI, client: TestClient) -> None:
    mine, theirs = make_org(app, "Mine"), make_org(app, "Theirs")
    their_campaign = _campaign(client, theirs.headers)
    make_person(app, "ann@example.com", mine.id)
    csrf = sign_in(client, "ann@example.com")
    for path in (f"/app/campaigns/{their_campaign}", f"/app/campaigns/{their_campaign}/insights.csv"):
        r = client.get(path)
        assert r.status_code == 404, path
        assert "No such campaign." in r.text
    r = client.post(f"/app/campaigns/{their_campaign}/pause", data={"csrf_token": csrf})
    assert r.status_code == 404
    # Their campaign is not in my list, and my overview counts only my org.
    assert their_campaign not in client.get("/app/campaigns").text


def test_own_campaign_pages_and_actions(app: FastAPI, client: TestClient) -> None:
    org = make_org(app)
    campaign_id = _campaign(client, org.headers)
    make_person(app, "ann@example.com", org.id)
    csrf = sign_in(client, "ann@example.com")
    page = client.get(f"/app/campaigns/{campaign_id}")
    assert page.status_code == 200
    assert "Premium Running Shoes" in page.text  # the ad preview
    csv = client.get(f"/app/campaigns/{campaign_id}/insights.csv")
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.text.splitlines()[0].startswith("start_time,readable_time,impressions,clicks,spend")
    # The API's rule and message: an unapproved campaign cannot be activated.
    r = client.post(f"/app/campaigns/{campaign_id}/activate", data={"csrf_token": csrf})
    assert r.status_code == 200
    assert "This campaign cannot be activated until it is approved." in r.text
    partial = client.get(f"/app/campaigns/{campaign_id}?metric=clicks", headers={"HX-Request": "true"})
    assert partial.text.lstrip().startswith('<div id="series">')
    assert 'data-label="clicks"' in partial.text


def test_operator_pages_are_hidden_from_advertisers(app: FastAPI, client: TestClient) -> None:
    make_person(app, "ann@example.com", make_org(app).id)
    sign_in(client, "ann@example.com")
    for path in ("/app/ops/", "/app/ops/orgs", "/app/ops/people", "/app/ops/jobs", "/app/ops/tool-calls"):
        assert client.get(path).status_code == 404, path


def test_operators_use_the_operator_pages(app: FastAPI, client: TestClient) -> None:
    make_org(app)
    make_person(app, "op@example.com", None)
    sign_in(client, "op@example.com")
    assert client.get("/app/", follow_redirects=False).headers["location"] == "/app/ops/"
    assert client.get("/app/settings").status_code == 404  # no org of their own
    for path in (
        "/app/ops/",
        "/app/ops/orgs",
        "/app/ops/publishers",
        "/app/ops/people",
        "/app/ops/jobs",
        "/app/ops/tool-calls",
    ):
        assert client.get(path).status_code == 200, path


def test_operator_approves_and_rejects_with_a_reason(app: FastAPI, client: TestClient) -> None:
    org = make_org(app)
    first, second = _campaign(client, org.headers), _campaign(client, org.headers)
    make_person(app, "op@example.com", None)
    csrf = sign_in(client, "op@example.com")
    queue = client.get("/app/ops/")
    assert first in queue.text
    assert "Premium Running Shoes" in queue.text
    r = client.post(f"/app/ops/review/{first}/approve", data={"csrf_token": csrf})
    assert r.status_code == 200
    assert "Approved Summer launch." in r.text
    r = client.post(f"/app/ops/review/{second}/reject", data={"csrf_token": csrf, "reason": " "})
    assert "Give a reason" in r.text
    r = client.post(
        f"/app/ops/review/{second}/reject", data={"csrf_token": csrf, "reason": "Misleading claim"}
    )
    assert "Rejected Summer launch." in r.text
    got = client.get(f"/v1/campaigns/{second}", headers=org.headers).json()
    assert (got["review_status"], got["rejection_reason"]) == ("rejected", "Misleading claim")


def test_invitation_sets_a_password_once(app: FastAPI, client: TestClient) -> None:
    org = make_org(app)
    ctx = ctx_of(app)
    made = people.invite(ctx, "bob@example.com", org_id=org.id)
    assert made.role == "owner"  # the org had no owner yet
    link = made.link(ctx.settings.public_base_url)
    path = link.removeprefix(ctx.settings.public_base_url.rstrip("/"))
    form = client.get(path)
    assert form.status_code == 200
    r = client.post(path, data={"csrf_token": csrf_of(form.text), "password": "short"})
    assert r.status_code == 400
    assert "Use at least 10 characters." in r.text
    r = client.post(
        path, data={"csrf_token": csrf_of(form.text), "password": PASSWORD}, follow_redirects=False
    )
    assert r.status_code == 303
    assert client.get(path).status_code == 404  # single use
    sign_in(client, "bob@example.com")
    assert people.invite(ctx, "carol@example.com", org_id=org.id).role == "member"


def test_people_rules(app: FastAPI) -> None:
    ctx = ctx_of(app)
    org = make_org(app)
    make_person(app, "ann@example.com", org.id)
    for call, code in (
        (
            lambda: people.create_person(ctx, "ANN@example.com", PASSWORD, role="member", org_id=org.id),
            "email_taken",
        ),
        (
            lambda: people.create_person(ctx, "x@example.com", PASSWORD, role="operator", org_id=org.id),
            "invalid_value",
        ),
        (
            lambda: people.create_person(ctx, "not-an-email", PASSWORD, role="operator", org_id=None),
            "invalid_value",
        ),
        (
            lambda: people.create_person(ctx, "y@example.com", PASSWORD, role="owner", org_id="nope"),
            "not_found",
        ),
        (lambda: people.invite(ctx, "ann@example.com", org_id=org.id), "email_taken"),
    ):
        with pytest.raises(ApiError) as caught:
            call()
        assert caught.value.code == code
