"""The sandbox provider: Stripe's test tokens, and idempotency that survives restarts and races."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from threadline.billing.providers import (
    CardDetails,
    ChargeResult,
    InvalidCardToken,
    SandboxProvider,
    StripeProvider,
    make_provider,
    to_minor_units,
)
from threadline.config import Settings
from threadline.kit.clock import MovableClock
from threadline.store.db import Database
from threadline.store.migrate import upgrade
from threadline.store.models import SandboxPayment

DEPOSIT = 10_000_000  # $10 in micros


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path}/t.db"
    upgrade(url)
    return url


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    yield database
    database.dispose()


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock(start=1_800_000_000, frozen=True)


@pytest.fixture
def provider(db: Database, clock: MovableClock) -> SandboxProvider:
    return SandboxProvider(db, clock)


def charge(provider: SandboxProvider, card: CardDetails, key: str, amount: int = DEPOSIT) -> ChargeResult:
    return provider.charge(
        card=card, amount_micros=amount, currency="USD", idempotency_key=key, description="deposit"
    )


def payment_rows(db: Database) -> list[SandboxPayment]:
    with db.read() as s:
        return list(s.scalars(select(SandboxPayment)))


@pytest.mark.parametrize(
    ("token", "brand", "last4", "decline_code"),
    [
        ("tok_visa", "visa", "4242", None),
        ("tok_mastercard", "mastercard", "4444", None),
        ("tok_amex", "amex", "8431", None),
        ("tok_chargeDeclined", "visa", "0002", "card_declined"),
        ("tok_chargeDeclinedInsufficientFunds", "visa", "9995", "insufficient_funds"),
    ],
)
def test_each_token_attaches_and_charges_as_stripe_would(
    provider: SandboxProvider, db: Database, token: str, brand: str, last4: str, decline_code: str | None
) -> None:
    card = provider.attach_card(token)
    assert card == CardDetails(provider_ref=token, customer_ref=None, brand=brand, last4=last4)

    result = charge(provider, card, f"campaign-{token}")

    assert result.status == ("declined" if decline_code else "succeeded")
    assert result.decline_code == decline_code
    assert result.provider_ref is not None
    [row] = payment_rows(db)
    assert (row.id, row.idempotency_key, row.amount_micros, row.currency, row.created_at) == (
        result.provider_ref,
        f"campaign-{token}",
        DEPOSIT,
        "usd",
        1_800_000_000,
    )
    assert row.status == result.status
    assert row.decline_code == decline_code


def test_unknown_token_is_rejected(provider: SandboxProvider) -> None:
    with pytest.raises(InvalidCardToken):
        provider.attach_card("tok_nonsense")
    forged = CardDetails(provider_ref="tok_nonsense", customer_ref=None, brand="visa", last4="4242")
    with pytest.raises(InvalidCardToken):
        charge(provider, forged, "k")


def test_same_key_replays_first_result_and_records_nothing_new(
    provider: SandboxProvider, db: Database
) -> None:
    card = provider.attach_card("tok_visa")
    first = charge(provider, card, "campaign-1")
    again = charge(provider, card, "campaign-1")
    assert again == first
    assert len(payment_rows(db)) == 1


def test_replay_is_durable_across_provider_instances(db_url: str, clock: MovableClock) -> None:
    # A restart must not forget: the ledger lives in the database, not in the process.
    db1 = Database(db_url)
    p1 = SandboxProvider(db1, clock)
    card = p1.attach_card("tok_chargeDeclined")
    first = charge(p1, card, "campaign-9")
    db1.dispose()

    db2 = Database(db_url)
    try:
        assert charge(SandboxProvider(db2, clock), card, "campaign-9") == first
        assert len(payment_rows(db2)) == 1
    finally:
        db2.dispose()


def test_same_key_with_different_parameters_is_refused(provider: SandboxProvider) -> None:
    card = provider.attach_card("tok_visa")
    charge(provider, card, "campaign-1")
    with pytest.raises(ValueError, match="different parameters"):
        charge(provider, card, "campaign-1", amount=DEPOSIT * 2)
    with pytest.raises(ValueError, match="different parameters"):
        charge(provider, provider.attach_card("tok_mastercard"), "campaign-1")


def test_concurrent_same_key_charges_record_exactly_one_payment(
    provider: SandboxProvider, db: Database
) -> None:
    card = provider.attach_card("tok_visa")
    barrier = threading.Barrier(10)
    results: list[ChargeResult] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker() -> None:
        barrier.wait()
        try:
            r = charge(provider, card, "campaign-race")
        except BaseException as e:
            with lock:
                errors.append(e)
        else:
            with lock:
                results.append(r)

    threads = [threading.Thread(target=worker) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    assert errors == []
    assert len(results) == 10
    assert len(set(results)) == 1
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(SandboxPayment)) == 1


class RacingDatabase(Database):
    """Replays the PostgreSQL race: another transaction inserts the same key after our lookup.

    SQLite serialises writers up front, so real threads never reach the IntegrityError branch there.
    """

    def __init__(self, url: str, winner: SandboxPayment, monkeypatch: pytest.MonkeyPatch) -> None:
        super().__init__(url)
        self._winner: SandboxPayment | None = winner
        self._monkeypatch = monkeypatch

    @contextmanager
    def write(self) -> Iterator[Session]:
        winner, self._winner = self._winner, None
        if winner is None:
            with super().write() as session:
                yield session
            return
        with super().write() as session:  # the other transaction commits first...
            session.add(winner)
        with super().write() as session:  # ...after ours had already looked and found nothing
            self._monkeypatch.setattr(session, "get", lambda *args, **kwargs: None)
            yield session


def test_losing_an_insert_race_returns_the_winners_result(
    db_url: str, clock: MovableClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    winner = SandboxPayment(
        idempotency_key="campaign-pg",
        id="sbx_pay_winner",
        payment_method_ref="tok_visa",
        amount_micros=DEPOSIT,
        currency="usd",
        status="succeeded",
        decline_code=None,
        created_at=clock.now_s(),
    )
    racing = RacingDatabase(db_url, winner, monkeypatch)
    try:
        provider = SandboxProvider(racing, clock)
        result = charge(provider, provider.attach_card("tok_visa"), "campaign-pg")
        assert result == ChargeResult(status="succeeded", provider_ref="sbx_pay_winner", decline_code=None)
        assert len(payment_rows(racing)) == 1
    finally:
        racing.dispose()


def test_refund_marks_the_payment_and_is_repeatable(provider: SandboxProvider, db: Database) -> None:
    card = provider.attach_card("tok_visa")
    result = charge(provider, card, "campaign-1")
    assert result.provider_ref is not None
    provider.refund(provider_ref=result.provider_ref, idempotency_key="refund-campaign-1")
    provider.refund(provider_ref=result.provider_ref, idempotency_key="refund-campaign-1")
    [row] = payment_rows(db)
    assert row.status == "refunded"
    # The charge itself still happened; a retried charge with the same key must not re-charge.
    assert charge(provider, card, "campaign-1") == result
    assert provider.find_charge("campaign-1") == result


def test_refund_of_unknown_or_declined_payment_is_refused(provider: SandboxProvider) -> None:
    with pytest.raises(ValueError, match="no sandbox payment"):
        provider.refund(provider_ref="sbx_pay_missing", idempotency_key="r")
    declined = charge(provider, provider.attach_card("tok_chargeDeclined"), "campaign-d")
    assert declined.provider_ref is not None
    with pytest.raises(ValueError, match="declined"):
        provider.refund(provider_ref=declined.provider_ref, idempotency_key="r2")


def test_find_charge_reports_what_happened(provider: SandboxProvider) -> None:
    assert provider.find_charge("campaign-never") is None
    ok = charge(provider, provider.attach_card("tok_visa"), "campaign-ok")
    declined = charge(provider, provider.attach_card("tok_chargeDeclinedInsufficientFunds"), "campaign-no")
    assert provider.find_charge("campaign-ok") == ok
    assert provider.find_charge("campaign-no") == declined
    assert declined.decline_code == "insufficient_funds"


@pytest.mark.parametrize("amount", [0, -10_000, 10_001, 5_000])
def test_amounts_must_be_positive_whole_cents(provider: SandboxProvider, db: Database, amount: int) -> None:
    with pytest.raises(ValueError):
        charge(provider, provider.attach_card("tok_visa"), "k", amount=amount)
    assert payment_rows(db) == []


def test_minor_unit_conversion() -> None:
    assert to_minor_units(10_000_000, "USD") == 1000
    assert to_minor_units(10_000, "eur") == 1
    assert to_minor_units(5_000_000, "JPY") == 5
    assert to_minor_units(5_120_000, "KWD") == 5120
    for micros, cur in [(1_500_000, "JPY"), (5_124_000, "KWD"), (1, "USD")]:
        with pytest.raises(ValueError):
            to_minor_units(micros, cur)
    with pytest.raises(ValueError):
        to_minor_units(10_000, "US")


def test_idempotency_key_length_is_checked(provider: SandboxProvider) -> None:
    card = provider.attach_card("tok_visa")
    for key in ["", "k" * 256]:
        with pytest.raises(ValueError):
            charge(provider, card, key)


def test_make_provider_selects_by_setting(db: Database, clock: MovableClock, tmp_path: Path) -> None:
    sandbox = make_provider(Settings(data_dir=tmp_path), db, clock)
    assert isinstance(sandbox, SandboxProvider)
    assert sandbox.name == "sandbox"
    stripe_provider = make_provider(
        Settings(data_dir=tmp_path, payment_provider="stripe", stripe_api_key="sk_test_x"), db, clock
    )
    assert isinstance(stripe_provider, StripeProvider)
    assert stripe_provider.name == "stripe"
    with pytest.raises(ValueError, match="STRIPE_API_KEY"):
        make_provider(Settings(data_dir=tmp_path, payment_provider="stripe"), db, clock)
    with pytest.raises(ValueError, match="unknown payment provider"):
        make_provider(Settings(data_dir=tmp_path, payment_provider="paypal"), db, clock)
