"""The charging nested create: billing checks, declines, and crash safety around the deposit."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.advertiser.helpers import count, create_campaign, err, upload
from tests.factories import campaign_body, ctx_of, make_org
from threadline.advertiser import launch
from threadline.billing.providers import CardDetails, ChargeResult, PaymentProvider, ProviderError
from threadline.store.models import Ad, AdGroup, Campaign, Charge, SandboxPayment

NO_BILLING = err(
    "This organization has no default payment method. Add a card before creating a campaign.",
    "billing_not_configured",
)
DECLINED = {
    "error": {
        "message": "Your card was declined.",
        "type": "card_error",
        "param": None,
        "code": "card_declined",
    }
}


def charges(app: FastAPI) -> list[Charge]:
    ctx = ctx_of(app)
    with ctx.db.read() as s:
        return list(s.execute(select(Charge).order_by(Charge.seq)).scalars())


def tree_rows(app: FastAPI) -> tuple[int, int, int]:
    return count(app, Campaign), count(app, AdGroup), count(app, Ad)


def test_success_records_one_succeeded_deposit(app: FastAPI, client: TestClient) -> None:
    org = make_org(app)
    r = client.post("/v1/campaigns", json=campaign_body(), headers={**org.headers, "Idempotency-Key": "k-1"})
    assert r.status_code == 201
    cid = r.json()["id"]
    [charge] = charges(app)
    assert (charge.org_id, charge.campaign_id, charge.amount_micros, charge.kind, charge.status) == (
        org.id,
        cid,
        10_000_000,
        "deposit",
        "succeeded",
    )
    assert (charge.provider, charge.provider_idempotency_key, charge.idempotency_key) == (
        "sandbox",
        f"deposit-{cid}",
        "k-1",
    )
    # The request as parsed (bare country codes in their object form): what a retry is compared with.
    expected_body = campaign_body(targeting={"locations": {"include": [{"country_code": "US"}]}})
    assert charge.request_body == expected_body
    assert charge.provider_ref is not None
    assert charge.provider_ref.startswith("sbx_pay_")
    assert count(app, SandboxPayment, idempotency_key=f"deposit-{cid}", status="succeeded") == 1
    assert tree_rows(app) == (1, 1, 1)


def test_no_card_is_billing_not_configured_and_nothing_happens(app: FastAPI, client: TestClient) -> None:
    org = make_org(app, card=None)
    r = client.post("/v1/campaigns", json=campaign_body(), headers=org.headers)
    assert r.status_code == 400
    assert r.json() == NO_BILLING
    assert charges(app) == []
    assert tree_rows(app) == (0, 0, 0)
    assert count(app, SandboxPayment) == 0


def test_validation_comes_before_the_billing_check(app: FastAPI, client: TestClient) -> None:
    org = make_org(app, card=None)
    r = client.post(
        "/v1/campaigns", json=campaign_body(budget={"lifetime_spend_limit_micros": 1}), headers=org.headers
    )
    assert r.status_code == 400
    assert r.json()["error"]["param"] == "budget.lifetime_spend_limit_micros"


def test_foreign_file_id_is_refused_before_any_charge(app: FastAPI, client: TestClient) -> None:
    org, other = make_org(app), make_org(app, name="Other")
    theirs = upload(client, other)
    body = campaign_body()
    body["ad_groups"][0]["ads"][0]["creative"]["file_id"] = theirs
    r = client.post("/v1/campaigns", json=body, headers=org.headers)
    assert r.status_code == 400
    assert r.json() == err(
        "No such file: upload the image with POST /v1/upload first.",
        "invalid_value",
        "ad_groups[0].ads[0].creative.file_id",
    )
    assert charges(app) == []
    assert tree_rows(app) == (0, 0, 0)


def test_declined_card_is_402_with_no_tree(app: FastAPI, client: TestClient) -> None:
    org = make_org(app, card="tok_chargeDeclined")
    headers = {**org.headers, "Idempotency-Key": "declined-1"}
    r = client.post("/v1/campaigns", json=campaign_body(), headers=headers)
    assert r.status_code == 402
    assert r.json() == DECLINED
    assert tree_rows(app) == (0, 0, 0)
    [charge] = charges(app)
    assert (charge.status, charge.failure_code) == ("declined", "card_declined")
    # The stored 402 replays; nothing is charged again.
    again = client.post("/v1/campaigns", json=campaign_body(), headers=headers)
    assert (again.status_code, again.json(), again.headers["Idempotent-Replayed"]) == (402, DECLINED, "true")
    assert len(charges(app)) == 1
    assert count(app, SandboxPayment) == 1


def test_insufficient_funds_is_also_card_declined(app: FastAPI, client: TestClient) -> None:
    org = make_org(app, card="tok_chargeDeclinedInsufficientFunds")
    r = client.post("/v1/campaigns", json=campaign_body(), headers=org.headers)
    assert (r.status_code, r.json()) == (402, DECLINED)
    assert charges(app)[0].failure_code == "insufficient_funds"


class FailAfterCharge:
    """The real sandbox charges, then the connection 'drops' before we hear the answer."""

    def __init__(self, real: PaymentProvider, failures: int = 1) -> None:
        self.real = real
        self.name = real.name
        self.failures = failures
        self.calls = 0

    def charge(
        self, *, card: CardDetails, amount_micros: int, currency: str, idempotency_key: str, description: str
    ) -> ChargeResult:
        self.calls += 1
        result = self.real.charge(
            card=card,
            amount_micros=amount_micros,
            currency=currency,
            idempotency_key=idempotency_key,
            description=description,
        )
        if self.failures:
            self.failures -= 1
            raise ProviderError("connection reset after the charge")
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def test_provider_failure_after_charge_then_retry_charges_once(app: FastAPI, client: TestClient) -> None:
    org = make_org(app)
    ctx = ctx_of(app)
    flaky = FailAfterCharge(ctx.payments)
    ctx.payments = flaky
    headers = {**org.headers, "Idempotency-Key": "retry-me"}
    first = client.post("/v1/campaigns", json=campaign_body(), headers=headers)
    assert first.status_code == 503
    assert first.json() == err(
        "The payment provider could not be reached. Retry with the same Idempotency-Key; "
        "the deposit is never charged twice.",
        "payment_provider_unavailable",
        type_="api_error",
    )
    assert [c.status for c in charges(app)] == ["pending"]
    assert tree_rows(app) == (0, 0, 0)

    second = client.post("/v1/campaigns", json=campaign_body(), headers=headers)
    assert second.status_code == 201
    assert "Idempotent-Replayed" not in second.headers
    [charge] = charges(app)
    assert (charge.status, charge.campaign_id) == ("succeeded", second.json()["id"])
    assert count(app, SandboxPayment) == 1
    assert tree_rows(app) == (1, 1, 1)
    assert flaky.calls == 2

    third = client.post("/v1/campaigns", json=campaign_body(), headers=headers)
    assert (third.status_code, third.json(), third.headers["Idempotent-Replayed"]) == (
        201,
        second.json(),
        "true",
    )
    assert flaky.calls == 2


def test_crash_while_writing_the_tree_then_retry(
    app: FastAPI, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    org = make_org(app)
    real_write = launch.write_campaign_tree

    def crash(*args: Any, **kwargs: Any) -> Campaign:
        raise RuntimeError("process died mid-commit")

    monkeypatch.setattr(launch, "write_campaign_tree", crash)
    headers = {**org.headers, "Idempotency-Key": "crash-1"}
    first = client.post("/v1/campaigns", json=campaign_body(), headers=headers)
    assert first.status_code == 500
    assert [c.status for c in charges(app)] == ["pending"]  # the recovery point survived the rollback
    assert count(app, SandboxPayment) == 1
    assert tree_rows(app) == (0, 0, 0)

    monkeypatch.setattr(launch, "write_campaign_tree", real_write)
    second = client.post("/v1/campaigns", json=campaign_body(), headers=headers)
    assert second.status_code == 201
    assert [(c.status, c.campaign_id) for c in charges(app)] == [("succeeded", second.json()["id"])]
    assert count(app, SandboxPayment) == 1
    assert tree_rows(app) == (1, 1, 1)


def test_dead_process_claim_is_resumed_after_the_lease(
    app: FastAPI, client: TestClient, clock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The process dies before it can even release its idempotency claim."""
    org = make_org(app)
    ctx = ctx_of(app)
    real_write = launch.write_campaign_tree

    def crash(*args: Any, **kwargs: Any) -> Campaign:
        raise RuntimeError("killed")

    monkeypatch.setattr(launch, "write_campaign_tree", crash)
    monkeypatch.setattr(ctx.idempotency, "release", lambda record_id: None)
    headers = {**org.headers, "Idempotency-Key": "dead-1"}
    assert client.post("/v1/campaigns", json=campaign_body(), headers=headers).status_code == 500
    monkeypatch.setattr(launch, "write_campaign_tree", real_write)

    busy = client.post("/v1/campaigns", json=campaign_body(), headers=headers)
    assert busy.status_code == 409
    assert busy.json()["error"]["code"] == "idempotency_request_in_progress"

    clock.advance(ctx.settings.idempotency_lease_seconds + 1)
    resumed = client.post("/v1/campaigns", json=campaign_body(), headers=headers)
    assert resumed.status_code == 201
    assert [(c.status, c.campaign_id) for c in charges(app)] == [("succeeded", resumed.json()["id"])]
    assert count(app, SandboxPayment) == 1
    assert tree_rows(app) == (1, 1, 1)
    replay = client.post("/v1/campaigns", json=campaign_body(), headers=headers)
    assert (replay.status_code, replay.json()) == (201, resumed.json())


def test_released_key_reused_with_another_body_is_refused(app: FastAPI, client: TestClient) -> None:
    org = make_org(app)
    ctx = ctx_of(app)
    ctx.payments = FailAfterCharge(ctx.payments)
    headers = {**org.headers, "Idempotency-Key": "changed-body"}
    assert client.post("/v1/campaigns", json=campaign_body(), headers=headers).status_code == 503
    r = client.post("/v1/campaigns", json=campaign_body(name="Something else"), headers=headers)
    assert r.status_code == 409
    assert r.json() == err(
        "This Idempotency-Key was already used with a different request.",
        "idempotency_key_reused",
        "Idempotency-Key",
        type_="idempotency_error",
    )
    assert tree_rows(app) == (0, 0, 0)


def test_without_a_key_each_create_is_its_own_charge(app: FastAPI, client: TestClient) -> None:
    org = make_org(app)
    first = create_campaign(client, org)
    second = create_campaign(client, org)
    assert first["id"] != second["id"]
    assert [c.status for c in charges(app)] == ["succeeded", "succeeded"]
    assert count(app, SandboxPayment) == 2
