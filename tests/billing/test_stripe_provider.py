"""The Stripe adapter, driven through the official library against a local stub of Stripe's API."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from threadline.billing.providers import (
    CardDetails,
    ChargeResult,
    InvalidCardToken,
    ProviderError,
    StripeProvider,
)

from .stripe_stub import StripeStub

DEPOSIT = 10_000_000  # $10 in micros → 1000 cents


@pytest.fixture
def stub() -> Iterator[StripeStub]:
    with StripeStub() as s:
        yield s


@pytest.fixture
def provider(stub: StripeStub) -> StripeProvider:
    # No library retries by default here, so each test sees exactly the requests it caused.
    return StripeProvider(stub.api_key, stub.base_url, max_network_retries=0)


def charge(provider: StripeProvider, card: CardDetails, key: str, amount: int = DEPOSIT) -> ChargeResult:
    return provider.charge(
        card=card, amount_micros=amount, currency="USD", idempotency_key=key, description="Threadline deposit"
    )


def test_attach_creates_payment_method_and_customer_with_it_as_default(
    provider: StripeProvider, stub: StripeStub
) -> None:
    card = provider.attach_card("tok_mastercard")

    assert card.provider_ref.startswith("pm_")
    assert card.customer_ref is not None
    assert card.customer_ref.startswith("cus_")
    assert (card.brand, card.last4) == ("mastercard", "4444")
    assert stub.payment_methods[card.provider_ref]["customer"] == card.customer_ref
    assert (
        stub.customers[card.customer_ref]["invoice_settings"]["default_payment_method"] == card.provider_ref
    )
    [pm_request] = stub.requests_to("POST", "/v1/payment_methods")
    assert pm_request.params == {"type": "card", "card[token]": "tok_mastercard"}
    assert pm_request.headers["authorization"] == f"Bearer {stub.api_key}"


def test_unknown_token_is_invalid(provider: StripeProvider, stub: StripeStub) -> None:
    with pytest.raises(InvalidCardToken):
        provider.attach_card("tok_bogus")
    assert stub.customers == {}


def test_charge_succeeds_off_session_with_idempotency_key(provider: StripeProvider, stub: StripeStub) -> None:
    card = provider.attach_card("tok_visa")

    result = charge(provider, card, "campaign-1-deposit")

    assert result.status == "succeeded"
    assert result.decline_code is None
    assert result.provider_ref is not None
    intent = stub.payment_intents[result.provider_ref]
    assert intent["object"] == "payment_intent"
    assert (intent["amount"], intent["currency"], intent["status"]) == (1000, "usd", "succeeded")
    assert intent["latest_charge"].startswith("ch_")
    [req] = stub.requests_to("POST", "/v1/payment_intents")
    assert req.idempotency_key == "campaign-1-deposit"
    assert req.params == {
        "amount": "1000",
        "currency": "usd",
        "customer": card.customer_ref,
        "payment_method": card.provider_ref,
        "off_session": "true",
        "confirm": "true",
        "description": "Threadline deposit",
        "metadata[threadline_idempotency_key]": "campaign-1-deposit",
    }


@pytest.mark.parametrize(
    ("token", "decline_code"),
    [
        ("tok_chargeDeclined", "card_declined"),
        ("tok_chargeDeclinedInsufficientFunds", "insufficient_funds"),
        ("tok_threeDSecure2Required", "authentication_required"),
    ],
)
def test_card_error_is_a_declined_result(
    provider: StripeProvider, stub: StripeStub, token: str, decline_code: str
) -> None:
    card = provider.attach_card(token)

    result = charge(provider, card, f"campaign-{token}")

    assert result.status == "declined"
    assert result.decline_code == decline_code
    assert result.provider_ref in stub.payment_intents
    [req] = stub.requests_to("POST", "/v1/payment_intents")
    assert req.status == 402


def test_intent_left_needing_action_counts_as_declined(provider: StripeProvider, stub: StripeStub) -> None:
    card = provider.attach_card("tok_visa")
    stub.force_intent_status = "requires_action"
    result = charge(provider, card, "campaign-3ds")
    assert result.status == "declined"
    assert result.decline_code == "authentication_required"


def test_retry_with_same_key_replays_and_creates_one_intent(
    provider: StripeProvider, stub: StripeStub
) -> None:
    card = provider.attach_card("tok_visa")
    first = charge(provider, card, "campaign-2-deposit")
    second = charge(provider, card, "campaign-2-deposit")
    assert second == first
    assert len(stub.payment_intents) == 1
    assert [r.replayed for r in stub.requests_to("POST", "/v1/payment_intents")] == [False, True]

    declined_card = provider.attach_card("tok_chargeDeclined")
    d1 = charge(provider, declined_card, "campaign-3-deposit")
    d2 = charge(provider, declined_card, "campaign-3-deposit")
    assert d1 == d2
    assert d1.status == "declined"
    assert len(stub.payment_intents) == 2


def test_lost_response_then_find_charge_and_retry_do_not_charge_twice(
    provider: StripeProvider, stub: StripeStub
) -> None:
    card = provider.attach_card("tok_visa")
    stub.fail_next(after_processing=True)
    with pytest.raises(ProviderError):
        charge(provider, card, "campaign-4-deposit")  # charged at Stripe; we never heard back

    # After the "crash", reconciliation asks what happened under that key.
    found = provider.find_charge("campaign-4-deposit")
    assert found is not None
    assert found.status == "succeeded"
    [intent_id] = stub.payment_intents
    assert found.provider_ref == intent_id
    [search] = stub.requests_to("GET", "/v1/payment_intents/search")
    assert search.params["query"] == "metadata['threadline_idempotency_key']:'campaign-4-deposit'"

    # Re-issuing with the same key is also safe: Stripe replays the original.
    assert charge(provider, card, "campaign-4-deposit") == found
    assert len(stub.payment_intents) == 1


def test_find_charge_unknown_key_and_declined(provider: StripeProvider) -> None:
    assert provider.find_charge("campaign-never") is None
    assert provider.find_charge("it's got 'quotes' \\ and backslashes") is None
    card = provider.attach_card("tok_chargeDeclinedInsufficientFunds")
    declined = charge(provider, card, "campaign-5-deposit")
    assert provider.find_charge("campaign-5-deposit") == declined


def test_refund_by_payment_intent_with_idempotency_key(provider: StripeProvider, stub: StripeStub) -> None:
    card = provider.attach_card("tok_visa")
    result = charge(provider, card, "campaign-6-deposit")
    assert result.provider_ref is not None

    provider.refund(provider_ref=result.provider_ref, idempotency_key="campaign-6-refund")
    # A retry (same key: replayed) and a late duplicate (new key: already refunded) are both fine.
    provider.refund(provider_ref=result.provider_ref, idempotency_key="campaign-6-refund")
    provider.refund(provider_ref=result.provider_ref, idempotency_key="campaign-6-refund-again")

    [refund] = stub.refunds.values()
    assert (refund["payment_intent"], refund["amount"]) == (result.provider_ref, 1000)
    requests = stub.requests_to("POST", "/v1/refunds")
    assert [r.idempotency_key for r in requests] == ["campaign-6-refund"] * 2 + ["campaign-6-refund-again"]
    assert requests[0].params == {"payment_intent": result.provider_ref}

    with pytest.raises(ValueError, match="no payment intent"):
        provider.refund(provider_ref="pi_missing", idempotency_key="r")


def test_stub_500_is_a_provider_error(provider: StripeProvider, stub: StripeStub) -> None:
    card = provider.attach_card("tok_visa")
    stub.fail_next()
    with pytest.raises(ProviderError):
        charge(provider, card, "campaign-7-deposit")
    assert stub.payment_intents == {}
    stub.fail_next()
    with pytest.raises(ProviderError):
        provider.attach_card("tok_visa")
    stub.fail_next()
    with pytest.raises(ProviderError):
        provider.find_charge("campaign-7-deposit")
    # Nothing was charged, so the caller's retry with the same key goes through normally.
    assert charge(provider, card, "campaign-7-deposit").status == "succeeded"


def test_library_retries_a_transient_500_under_the_same_key(stub: StripeStub) -> None:
    provider = StripeProvider(stub.api_key, stub.base_url, max_network_retries=1)
    card = provider.attach_card("tok_visa")
    stub.fail_next(after_processing=True)
    result = charge(provider, card, "campaign-8-deposit")
    assert result.status == "succeeded"
    assert len(stub.payment_intents) == 1
    requests = stub.requests_to("POST", "/v1/payment_intents")
    assert [(r.status, r.idempotency_key) for r in requests] == [
        (500, "campaign-8-deposit"),
        (200, "campaign-8-deposit"),
    ]


def test_wrong_api_key_is_a_provider_error(stub: StripeStub) -> None:
    provider = StripeProvider("sk_test_wrong", stub.base_url, max_network_retries=0)
    with pytest.raises(ProviderError):
        provider.attach_card("tok_visa")
    assert stub.requests[0].status == 401
    assert stub.payment_methods == {}


def test_unreachable_stripe_is_a_provider_error(stub: StripeStub) -> None:
    base = stub.base_url
    stub.stop()
    provider = StripeProvider(stub.api_key, base, max_network_retries=0)
    card = CardDetails(provider_ref="pm_x", customer_ref="cus_x", brand="visa", last4="4242")
    with pytest.raises(ProviderError):
        charge(provider, card, "campaign-9-deposit")


def test_card_without_customer_cannot_be_charged(provider: StripeProvider) -> None:
    card = CardDetails(provider_ref="tok_visa", customer_ref=None, brand="visa", last4="4242")
    with pytest.raises(ValueError, match="customer_ref"):
        charge(provider, card, "k")
