"""Charge records and the reconciler that settles deposits whose request never came back."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.factories import campaign_body, ctx_of, make_org
from threadline.advertiser.deposits import ReconcileReport, reconcile_pending_charges
from threadline.billing.charges import list_charges
from threadline.billing.providers import CardDetails, ChargeResult, PaymentProvider, ProviderError
from threadline.kit.clock import MovableClock
from threadline.store.models import Campaign, SandboxPayment


class Flaky:
    """Wraps the real sandbox: fails once, either before the charge reaches it or after it succeeded."""

    def __init__(self, real: PaymentProvider, *, charge_first: bool) -> None:
        self.real = real
        self.name = real.name
        self.charge_first = charge_first
        self.failed = False

    def charge(
        self, *, card: CardDetails, amount_micros: int, currency: str, idempotency_key: str, description: str
    ) -> ChargeResult:
        if not self.failed:
            self.failed = True
            if self.charge_first:
                self.real.charge(
                    card=card,
                    amount_micros=amount_micros,
                    currency=currency,
                    idempotency_key=idempotency_key,
                    description=description,
                )
            raise ProviderError("timeout")
        return self.real.charge(
            card=card,
            amount_micros=amount_micros,
            currency=currency,
            idempotency_key=idempotency_key,
            description=description,
        )

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def _fail_create(
    app: FastAPI, client: TestClient, *, charge_first: bool, card: str = "tok_visa", key: str = "k"
) -> Any:
    ctx = ctx_of(app)
    org = make_org(app, card=card)
    ctx.payments = Flaky(ctx.payments, charge_first=charge_first)
    r = client.post("/v1/campaigns", json=campaign_body(), headers={**org.headers, "Idempotency-Key": key})
    assert r.status_code == 503
    return org


def _sandbox(app: FastAPI) -> list[tuple[str, str]]:
    ctx = ctx_of(app)
    with ctx.db.read() as s:
        return [(p.idempotency_key, p.status) for p in s.execute(select(SandboxPayment)).scalars()]


def test_charged_but_abandoned_deposit_is_refunded(
    app: FastAPI, client: TestClient, clock: MovableClock
) -> None:
    org = _fail_create(app, client, charge_first=True)
    ctx = ctx_of(app)
    assert reconcile_pending_charges(ctx, older_than_seconds=600) == ReconcileReport()  # too young
    clock.advance(601)
    assert reconcile_pending_charges(ctx, older_than_seconds=600) == ReconcileReport(refunded=1)
    with ctx.db.read() as s:
        [charge] = list_charges(s, org.id)
    assert charge.status == "refunded"
    assert _sandbox(app) == [(charge.provider_idempotency_key, "refunded")]
    # Settled rows are left alone afterwards.
    assert reconcile_pending_charges(ctx, older_than_seconds=600) == ReconcileReport()

    # A very late retry starts a fresh attempt instead of reviving the refunded one.
    r = client.post("/v1/campaigns", json=campaign_body(), headers={**org.headers, "Idempotency-Key": "k"})
    assert r.status_code == 201
    with ctx.db.read() as s:
        statuses = [(c.status, c.campaign_id == r.json()["id"]) for c in list_charges(s, org.id)]
        assert s.execute(select(Campaign.id)).scalars().all() == [r.json()["id"]]
    assert statuses == [("succeeded", True), ("refunded", False)]


def test_deposit_the_provider_never_saw_is_abandoned(
    app: FastAPI, client: TestClient, clock: MovableClock
) -> None:
    org = _fail_create(app, client, charge_first=False)
    ctx = ctx_of(app)
    clock.advance(601)
    assert reconcile_pending_charges(ctx, older_than_seconds=600) == ReconcileReport(abandoned=1)
    with ctx.db.read() as s:
        [charge] = list_charges(s, org.id)
    assert (charge.status, charge.failure_code) == ("declined", "abandoned")
    assert _sandbox(app) == []


def test_declined_deposit_is_recorded_as_declined(
    app: FastAPI, client: TestClient, clock: MovableClock
) -> None:
    org = _fail_create(app, client, charge_first=True, card="tok_chargeDeclined")
    ctx = ctx_of(app)
    clock.advance(601)
    assert reconcile_pending_charges(ctx, older_than_seconds=600) == ReconcileReport(declined=1)
    with ctx.db.read() as s:
        [charge] = list_charges(s, org.id)
    assert (charge.status, charge.failure_code) == ("declined", "card_declined")


def test_reconciler_failure_keeps_the_row_pending(
    app: FastAPI, client: TestClient, clock: MovableClock
) -> None:
    org = _fail_create(app, client, charge_first=True)
    ctx = ctx_of(app)
    provider = ctx.payments

    def refund_down(*, provider_ref: str, idempotency_key: str) -> None:
        raise ProviderError("refund endpoint down")

    provider.refund = refund_down
    clock.advance(601)
    assert reconcile_pending_charges(ctx, older_than_seconds=600) == ReconcileReport(failed=1)
    with ctx.db.read() as s:
        assert [c.status for c in list_charges(s, org.id)] == ["pending"]
    del provider.refund  # back to the real sandbox refund
    assert reconcile_pending_charges(ctx, older_than_seconds=600) == ReconcileReport(refunded=1)
