"""Payment providers: one interface, a durable sandbox and a Stripe adapter.

Amounts inside Threadline are micros (1/1,000,000 of the currency unit); providers speak the
currency's minor unit (cents for USD), so every charge converts and refuses fractions of a cent.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import stripe
from sqlalchemy.exc import IntegrityError

from threadline.config import Settings
from threadline.kit.clock import Clock
from threadline.store.db import Database
from threadline.store.models import SandboxPayment


class InvalidCardToken(Exception):
    """The card token is unknown to the provider or the card cannot be used."""


class ProviderError(Exception):
    """The provider was unreachable or answered unexpectedly; retrying may help."""


@dataclass(frozen=True)
class CardDetails:
    provider_ref: str
    customer_ref: str | None
    brand: str
    last4: str


@dataclass(frozen=True)
class ChargeResult:
    status: Literal["succeeded", "declined"]
    provider_ref: str | None
    decline_code: str | None


class PaymentProvider(Protocol):
    name: str

    def attach_card(self, token: str) -> CardDetails: ...

    def charge(
        self,
        *,
        card: CardDetails,
        amount_micros: int,
        currency: str,
        idempotency_key: str,
        description: str,
    ) -> ChargeResult: ...

    def refund(self, *, provider_ref: str, idempotency_key: str) -> None: ...

    def find_charge(self, idempotency_key: str) -> ChargeResult | None: ...


# Stripe's zero- and three-decimal currencies; everything else has two decimals.
# https://docs.stripe.com/currencies#special-cases
_ZERO_DECIMAL = frozenset(
    {
        "bif",
        "clp",
        "djf",
        "gnf",
        "jpy",
        "kmf",
        "krw",
        "mga",
        "pyg",
        "rwf",
        "ugx",
        "vnd",
        "vuv",
        "xaf",
        "xof",
        "xpf",
    }
)
# Three-decimal amounts must still end in 0 for the card networks, hence a 10,000-micro step.
_THREE_DECIMAL = frozenset({"bhd", "jod", "kwd", "omr", "tnd"})
_MAX_IDEMPOTENCY_KEY = 255  # Stripe's limit, and the width of sandbox_payments.idempotency_key


def to_minor_units(amount_micros: int, currency: str) -> int:
    """Micros → the provider's smallest currency unit; refuses amounts it cannot express exactly."""
    cur = _normalise_currency(currency)
    if amount_micros <= 0:
        raise ValueError(f"amount_micros must be positive, got {amount_micros}")
    per_unit = 1_000_000 if cur in _ZERO_DECIMAL else 1_000 if cur in _THREE_DECIMAL else 10_000
    step = 10_000 if cur in _THREE_DECIMAL else per_unit
    if amount_micros % step:
        raise ValueError(f"{amount_micros} micros is not a whole number of {cur} minor units")
    return amount_micros // per_unit


def _normalise_currency(currency: str) -> str:
    if not re.fullmatch(r"[A-Za-z]{3}", currency):
        raise ValueError(f"currency must be a 3-letter ISO code, got {currency!r}")
    return currency.lower()


def _check_idempotency_key(key: str) -> None:
    if not 1 <= len(key) <= _MAX_IDEMPOTENCY_KEY:
        raise ValueError(f"idempotency_key must be 1-{_MAX_IDEMPOTENCY_KEY} characters")


# ---------------------------------------------------------------------------------------------------
# Sandbox


@dataclass(frozen=True)
class _SandboxCard:
    brand: str
    last4: str
    decline_code: str | None


# Mirrors Stripe's test tokens so a deployment can switch providers without changing fixtures.
_SANDBOX_CARDS: Mapping[str, _SandboxCard] = {
    "tok_visa": _SandboxCard("visa", "4242", None),
    "tok_mastercard": _SandboxCard("mastercard", "4444", None),
    "tok_amex": _SandboxCard("amex", "8431", None),
    "tok_chargeDeclined": _SandboxCard("visa", "0002", "card_declined"),
    "tok_chargeDeclinedInsufficientFunds": _SandboxCard("visa", "9995", "insufficient_funds"),
}
# The test tokens the sandbox accepts (the dashboard offers them as a picker in sandbox mode).
SANDBOX_TOKENS: tuple[str, ...] = tuple(_SANDBOX_CARDS)


class SandboxProvider:
    """A stand-in for Stripe's servers, so it keeps its own durable ledger in `sandbox_payments`.

    Idempotency is enforced by the primary key on the idempotency key, so it holds across
    processes and restarts, exactly the property crash reconciliation relies on.
    """

    name = "sandbox"

    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    def attach_card(self, token: str) -> CardDetails:
        spec = _SANDBOX_CARDS.get(token)
        if spec is None:
            raise InvalidCardToken(f"unknown card token {token!r}")
        return CardDetails(provider_ref=token, customer_ref=None, brand=spec.brand, last4=spec.last4)

    def charge(
        self,
        *,
        card: CardDetails,
        amount_micros: int,
        currency: str,
        idempotency_key: str,
        description: str,
    ) -> ChargeResult:
        to_minor_units(amount_micros, currency)  # same validation as Stripe, so sandbox tests catch it
        cur = _normalise_currency(currency)
        _check_idempotency_key(idempotency_key)
        spec = _SANDBOX_CARDS.get(card.provider_ref)
        if spec is None:
            raise InvalidCardToken(f"unknown card token {card.provider_ref!r}")

        try:
            with self._db.write() as session:
                row = session.get(SandboxPayment, idempotency_key)
                if row is None:
                    row = SandboxPayment(
                        idempotency_key=idempotency_key,
                        id=f"sbx_pay_{uuid.uuid4().hex}",
                        payment_method_ref=card.provider_ref,
                        amount_micros=amount_micros,
                        currency=cur,
                        status="declined" if spec.decline_code else "succeeded",
                        decline_code=spec.decline_code,
                        created_at=self._clock.now_s(),
                    )
                    session.add(row)
                else:
                    _check_same_request(row, card.provider_ref, amount_micros, cur)
                return _sandbox_result(row)
        except IntegrityError:
            # A concurrent charge with the same key won the insert (PostgreSQL; SQLite serialises
            # writers up front). Its row is now the answer, as Stripe would replay it.
            with self._db.read() as session:
                row = session.get(SandboxPayment, idempotency_key)
            if row is None:
                raise ProviderError("sandbox idempotency conflict without a stored payment") from None
            _check_same_request(row, card.provider_ref, amount_micros, cur)
            return _sandbox_result(row)

    def refund(self, *, provider_ref: str, idempotency_key: str) -> None:
        # Refunding is a state change on one row, so a repeat is naturally a no-op; the key is
        # only checked for shape to keep the contract identical to Stripe's.
        _check_idempotency_key(idempotency_key)
        with self._db.write() as session:
            row = session.query(SandboxPayment).filter(SandboxPayment.id == provider_ref).one_or_none()
            if row is None:
                raise ValueError(f"no sandbox payment {provider_ref!r}")
            if row.status == "declined":
                raise ValueError(f"sandbox payment {provider_ref!r} was declined; nothing to refund")
            row.status = "refunded"

    def find_charge(self, idempotency_key: str) -> ChargeResult | None:
        with self._db.read() as session:
            row = session.get(SandboxPayment, idempotency_key)
            return None if row is None else _sandbox_result(row)


def _check_same_request(row: SandboxPayment, card_ref: str, amount_micros: int, currency: str) -> None:
    # Stripe rejects a reused key with different parameters rather than silently replaying.
    if (row.payment_method_ref, row.amount_micros, row.currency) != (card_ref, amount_micros, currency):
        raise ValueError("idempotency_key was already used for a charge with different parameters")


def _sandbox_result(row: SandboxPayment) -> ChargeResult:
    if row.status == "declined":
        return ChargeResult(status="declined", provider_ref=row.id, decline_code=row.decline_code)
    # A refunded payment still succeeded as a charge; the refund is a separate fact.
    return ChargeResult(status="succeeded", provider_ref=row.id, decline_code=None)


# ---------------------------------------------------------------------------------------------------
# Stripe

_METADATA_KEY = "threadline_idempotency_key"


class StripeProvider:
    """PaymentIntents confirmed off-session against a Customer's saved PaymentMethod.

    Uses its own `StripeClient` (no module-level `stripe.api_key`), so several providers with
    different keys or API bases can coexist in one process.
    """

    name = "stripe"

    def __init__(self, api_key: str, api_base: str | None = None, *, max_network_retries: int = 2) -> None:
        self._client = stripe.StripeClient(
            api_key,
            base_addresses={"api": api_base} if api_base else None,
            max_network_retries=max_network_retries,
        )

    def attach_card(self, token: str) -> CardDetails:
        try:
            pm = self._client.v1.payment_methods.create(params={"type": "card", "card": {"token": token}})
        except (stripe.InvalidRequestError, stripe.CardError) as e:
            raise InvalidCardToken(f"card token {token!r} rejected: {e.user_message or e}") from e
        except stripe.StripeError as e:
            raise ProviderError(f"stripe: creating payment method failed: {e}") from e
        card = pm.card
        if card is None:
            raise ProviderError(f"stripe: payment method {pm.id} has no card details")
        try:
            # Creating the customer with the PM attaches it and makes it the default in one call,
            # so a failure cannot leave a customer without a card.
            customer = self._client.v1.customers.create(
                params={
                    "payment_method": pm.id,
                    "invoice_settings": {"default_payment_method": pm.id},
                }
            )
        except stripe.CardError as e:
            raise InvalidCardToken(f"card token {token!r} rejected: {e.user_message or e}") from e
        except stripe.StripeError as e:
            raise ProviderError(f"stripe: creating customer failed: {e}") from e
        return CardDetails(provider_ref=pm.id, customer_ref=customer.id, brand=card.brand, last4=card.last4)

    def charge(
        self,
        *,
        card: CardDetails,
        amount_micros: int,
        currency: str,
        idempotency_key: str,
        description: str,
    ) -> ChargeResult:
        amount = to_minor_units(amount_micros, currency)
        _check_idempotency_key(idempotency_key)
        if card.customer_ref is None:
            raise ValueError("a Stripe card needs its customer_ref to be charged off-session")
        try:
            intent = self._client.v1.payment_intents.create(
                params={
                    "amount": amount,
                    "currency": _normalise_currency(currency),
                    "customer": card.customer_ref,
                    "payment_method": card.provider_ref,
                    "off_session": True,
                    "confirm": True,
                    "description": description,
                    "metadata": {_METADATA_KEY: idempotency_key},
                },
                options={"idempotency_key": idempotency_key},
            )
        except stripe.CardError as e:
            error = _error_body(e)
            intent_body = error.get("payment_intent")
            intent_id = intent_body.get("id") if isinstance(intent_body, dict) else None
            return ChargeResult(
                status="declined",
                provider_ref=intent_id if isinstance(intent_id, str) else None,
                decline_code=_decline_code(error),
            )
        except stripe.StripeError as e:
            raise ProviderError(f"stripe: creating payment intent failed: {e}") from e
        return _intent_result(intent.to_dict())

    def refund(self, *, provider_ref: str, idempotency_key: str) -> None:
        _check_idempotency_key(idempotency_key)
        try:
            self._client.v1.refunds.create(
                params={"payment_intent": provider_ref}, options={"idempotency_key": idempotency_key}
            )
        except stripe.InvalidRequestError as e:
            if e.code == "charge_already_refunded":
                return  # the outcome the caller wants already holds
            if e.code == "resource_missing":
                raise ValueError(f"stripe: no payment intent {provider_ref!r}") from e
            raise ProviderError(f"stripe: refund failed: {e}") from e
        except stripe.StripeError as e:
            raise ProviderError(f"stripe: refund failed: {e}") from e

    def find_charge(self, idempotency_key: str) -> ChargeResult | None:
        # Search is eventually consistent at Stripe (about a minute), so None is not proof the
        # charge never happened; reconciliation must re-issue the charge with the SAME key, which
        # Stripe deduplicates for 24 hours, rather than a fresh one.
        escaped = idempotency_key.replace("\\", "\\\\").replace("'", "\\'")
        try:
            found = self._client.v1.payment_intents.search(
                params={"query": f"metadata['{_METADATA_KEY}']:'{escaped}'", "limit": 10}
            )
        except stripe.StripeError as e:
            raise ProviderError(f"stripe: searching payment intents failed: {e}") from e
        results = [_intent_result(pi.to_dict()) for pi in found.data]
        if not results:
            return None
        # Idempotency makes more than one match unexpected; if it happens, money moved once.
        return next((r for r in results if r.status == "succeeded"), results[0])


def _error_body(e: stripe.StripeError) -> dict[str, Any]:
    body = e.json_body
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            return error
    return {}


def _decline_code(error: Mapping[str, Any]) -> str:
    # Stripe reports a plain decline as code=card_declined, decline_code=generic_decline; keep the
    # specific reason when there is one and otherwise the code, matching the sandbox's vocabulary.
    decline = error.get("decline_code")
    if isinstance(decline, str) and decline and decline != "generic_decline":
        return decline
    code = error.get("code")
    return code if isinstance(code, str) and code else "card_declined"


def _intent_result(intent: Mapping[str, Any]) -> ChargeResult:
    intent_id = intent.get("id")
    ref = intent_id if isinstance(intent_id, str) else None
    status = intent.get("status")
    if status == "succeeded":
        return ChargeResult(status="succeeded", provider_ref=ref, decline_code=None)
    last_error = intent.get("last_payment_error")
    if isinstance(last_error, dict) and (last_error.get("decline_code") or last_error.get("code")):
        return ChargeResult(status="declined", provider_ref=ref, decline_code=_decline_code(last_error))
    # requires_action and friends: off-session there is no customer to complete it, so it is a
    # decline for our purposes.
    return ChargeResult(status="declined", provider_ref=ref, decline_code="authentication_required")


def make_provider(settings: Settings, db: Database, clock: Clock) -> PaymentProvider:
    if settings.payment_provider == "sandbox":
        return SandboxProvider(db, clock)
    if settings.payment_provider == "stripe":
        if not settings.stripe_api_key:
            raise ValueError("THREADLINE_PAYMENT_PROVIDER=stripe needs THREADLINE_STRIPE_API_KEY")
        return StripeProvider(settings.stripe_api_key, settings.stripe_api_base)
    raise ValueError(f"unknown payment provider {settings.payment_provider!r} (use 'sandbox' or 'stripe')")
