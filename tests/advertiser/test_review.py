"""review.py: the functions the operator API and CLI call."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.advertiser.conftest import NOW
from tests.advertiser.helpers import create_campaign
from tests.factories import ctx_of, make_org
from threadline.advertiser import review
from threadline.advertiser.serializers import campaign_out
from threadline.kit.errors import ApiError


def test_queue_approve_reject(app: FastAPI, client: TestClient, clock: Any) -> None:
    org, other = make_org(app), make_org(app, name="Other")
    first = create_campaign(client, org)["id"]
    clock.advance(10)
    second = create_campaign(client, other)["id"]
    clock.advance(10)
    third = create_campaign(client, org)["id"]
    ctx = ctx_of(app)
    with ctx.db.read() as s:
        assert [c.id for c in review.review_queue(s, 10)] == [first, second, third]
        assert [c.id for c in review.review_queue(s, 2)] == [first, second]
    with ctx.db.write() as s:
        approved = campaign_out(review.approve(s, ctx.clock, first))
        rejected = campaign_out(review.reject(s, ctx.clock, second, "  Off-policy  "))
    assert (approved["review_status"], approved["rejection_reason"], approved["updated_at"]) == (
        "approved",
        None,
        NOW + 20,
    )
    assert (rejected["review_status"], rejected["rejection_reason"]) == ("rejected", "Off-policy")
    with ctx.db.write() as s:
        again = campaign_out(review.approve(s, ctx.clock, second))  # an operator may reverse a rejection
        assert [c.id for c in review.review_queue(s, 10)] == [third]
    assert (again["review_status"], again["rejection_reason"]) == ("approved", None)
    # Archived campaigns leave the queue and cannot be reviewed.
    client.post(f"/v1/campaigns/{third}/archive", headers=org.headers)
    with ctx.db.write() as s:
        assert review.review_queue(s, 10) == []
        with pytest.raises(ApiError) as exc:
            review.approve(s, ctx.clock, third)
    assert (exc.value.status, exc.value.code) == (400, "campaign_archived")


def test_review_errors(app: FastAPI, client: TestClient) -> None:
    org = make_org(app)
    cid = create_campaign(client, org)["id"]
    ctx = ctx_of(app)
    with ctx.db.write() as s:
        for bad in ("nope", "6d2f1f7c-0000-4000-8000-000000000000"):
            with pytest.raises(ApiError) as exc:
                review.approve(s, ctx.clock, bad)
            assert (exc.value.status, exc.value.code) == (404, "not_found")
        for reason in ("   ", "x" * 1001):
            with pytest.raises(ApiError) as exc:
                review.reject(s, ctx.clock, cid, reason)
            assert (exc.value.code, exc.value.param) == ("invalid_value", "reason")
