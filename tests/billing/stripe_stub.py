"""A local stand-in for the few Stripe API endpoints the Stripe adapter uses.

It follows Stripe's documented wire protocol (form-encoded bodies with bracket notation, Bearer auth,
JSON objects with `id`/`object`, error bodies under `error`, `Idempotency-Key` replay), so the
official `stripe` library can talk to it unchanged. The adapter is never tested against the network.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

JsonObj = dict[str, Any]


@dataclass(frozen=True)
class StubCard:
    brand: str
    last4: str
    # What a confirmed charge does: None succeeds; otherwise (code, decline_code) of the card error.
    decline: tuple[str, str] | None = None


CARDS: dict[str, StubCard] = {
    "tok_visa": StubCard("visa", "4242"),
    "tok_mastercard": StubCard("mastercard", "4444"),
    "tok_amex": StubCard("amex", "8431"),
    "tok_chargeDeclined": StubCard("visa", "0002", ("card_declined", "generic_decline")),
    "tok_chargeDeclinedInsufficientFunds": StubCard("visa", "9995", ("card_declined", "insufficient_funds")),
    # Stripe answers an off-session charge that needs 3DS with a 402 authentication_required.
    "tok_threeDSecure2Required": StubCard(
        "visa", "3155", ("authentication_required", "authentication_required")
    ),
}


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # lower-cased names
    form: list[tuple[str, str]]  # the raw decoded pairs, e.g. ("card[token]", "tok_visa")
    status: int = 0
    replayed: bool = False

    @property
    def params(self) -> dict[str, str]:
        return dict(self.form)

    @property
    def idempotency_key(self) -> str | None:
        return self.headers.get("idempotency-key")


@dataclass
class _Reply:
    status: int
    body: JsonObj
    headers: dict[str, str] = field(default_factory=dict)


def _new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


def parse_form(pairs: list[tuple[str, str]]) -> JsonObj:
    """Bracket notation (`a[b][c]=v`) → nested dicts, as Stripe's API decodes it."""
    out: JsonObj = {}
    for key, value in pairs:
        parts = re.findall(r"[^\[\]]+", key)
        node = out
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        if parts:
            node[parts[-1]] = value
    return out


def _error(status: int, type_: str, message: str, **extra: Any) -> _Reply:
    return _Reply(status, {"error": {"type": type_, "message": message, **extra}})


def _truthy(value: Any) -> bool:
    return value in ("true", "True", "1")


class StripeStub:
    """In-memory Stripe: payment methods, customers, payment intents, refunds.

    Usage: ``with StripeStub() as stub: StripeProvider(stub.api_key, stub.base_url)``.
    """

    def __init__(self, api_key: str = "sk_test_threadline_stub") -> None:
        self.api_key = api_key
        self.requests: list[RecordedRequest] = []
        self.payment_methods: dict[str, JsonObj] = {}
        self.customers: dict[str, JsonObj] = {}
        self.payment_intents: dict[str, JsonObj] = {}
        self.refunds: dict[str, JsonObj] = {}
        # When set, a confirmed PaymentIntent ends in this status instead of succeeding (e.g. requires_action).
        self.force_intent_status: str | None = None
        self._idempotent: dict[tuple[str, str], tuple[tuple[str, str, str], _Reply]] = {}
        self._faults: list[bool] = []  # queued injected 500s; True = fail after doing the work
        self._lock = threading.RLock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> StripeStub:
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="stripe-stub", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> StripeStub:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- test controls -------------------------------------------------------------------------

    def fail_next(self, count: int = 1, *, after_processing: bool = False) -> None:
        """Answer the next `count` requests with a 500.

        By default the request is refused before anything happens (an outage). With
        `after_processing=True` the request takes effect and only the response is lost — the
        "did my charge go through?" case that find_charge exists for.
        """
        with self._lock:
            self._faults.extend([after_processing] * count)

    def requests_to(self, method: str, path: str) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.method == method and r.path == path]

    # -- HTTP ----------------------------------------------------------------------------------

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._serve("GET")

            def do_POST(self) -> None:
                self._serve("POST")

            def _serve(self, method: str) -> None:
                url = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode() if length else ""
                query = url.query if method == "GET" else raw
                form = parse_qsl(query, keep_blank_values=True)
                headers = {k.lower(): v for k, v in self.headers.items()}
                reply, replayed = stub._dispatch(method, url.path, headers, form, raw)
                with stub._lock:
                    stub.requests.append(
                        RecordedRequest(method, url.path, headers, form, reply.status, replayed)
                    )
                payload = json.dumps(reply.body).encode()
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.send_header("Request-Id", _new_id("req"))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep test output clean

        return Handler

    def _dispatch(
        self, method: str, path: str, headers: dict[str, str], form: list[tuple[str, str]], raw: str
    ) -> tuple[_Reply, bool]:
        with self._lock:
            fault = self._faults.pop(0) if self._faults else None
            if fault is False:
                return _error(500, "api_error", "Injected fault: the stub is unavailable."), False

            if headers.get("authorization") != f"Bearer {self.api_key}":
                key = headers.get("authorization", "").removeprefix("Bearer ")
                return _error(401, "invalid_request_error", f"Invalid API Key provided: {key[:8]}***"), False

            idem = headers.get("idempotency-key") if method == "POST" else None
            replayed = False
            if idem is not None:
                fingerprint = (method, path, raw)
                cached = self._idempotent.get((self.api_key, idem))
                if cached is not None:
                    if cached[0] != fingerprint:
                        reply = _error(
                            400,
                            "idempotency_error",
                            "Keys for idempotent requests can only be used with the same parameters "
                            "they were first used with.",
                        )
                        return reply, False
                    first = cached[1]
                    reply = _Reply(first.status, first.body, {**first.headers, "Idempotent-Replayed": "true"})
                    replayed = True
                else:
                    reply = self._route(method, path, parse_form(form))
                    # Stripe stores the outcome once the endpoint has started executing, errors included.
                    if reply.status != 401 and not (reply.status == 400 and "param" in reply.body["error"]):
                        self._idempotent[(self.api_key, idem)] = (fingerprint, reply)
                reply.headers["Idempotency-Key"] = idem
            else:
                reply = self._route(method, path, parse_form(form))

            if fault is True:
                return _error(500, "api_error", "Injected fault: the response was lost."), replayed
            return reply, replayed

    def _route(self, method: str, path: str, params: JsonObj) -> _Reply:
        if method == "POST" and path == "/v1/payment_methods":
            return self._create_payment_method(params)
        if method == "POST" and path == "/v1/customers":
            return self._create_customer(params)
        m = re.fullmatch(r"/v1/payment_methods/([^/]+)/attach", path)
        if method == "POST" and m:
            return self._attach(m.group(1), params)
        if method == "POST" and path == "/v1/payment_intents":
            return self._create_payment_intent(params)
        if method == "GET" and path == "/v1/payment_intents/search":
            return self._search_payment_intents(params)
        m = re.fullmatch(r"/v1/payment_intents/([^/]+)", path)
        if method == "GET" and m:
            pi = self.payment_intents.get(m.group(1))
            if pi is None:
                return self._missing("payment_intent", m.group(1), "id")
            return _Reply(200, pi)
        if method == "POST" and path == "/v1/refunds":
            return self._create_refund(params)
        return _error(404, "invalid_request_error", f"Unrecognized request URL ({method}: {path}).")

    @staticmethod
    def _missing(kind: str, ident: str, param: str) -> _Reply:
        return _error(
            404 if param == "id" else 400,
            "invalid_request_error",
            f"No such {kind}: '{ident}'",
            code="resource_missing",
            param=param,
        )

    # -- endpoints -----------------------------------------------------------------------------

    def _create_payment_method(self, params: JsonObj) -> _Reply:
        if params.get("type") != "card":
            return _error(400, "invalid_request_error", "Only type=card is supported.", param="type")
        token = (params.get("card") or {}).get("token")
        card = CARDS.get(token or "")
        if card is None:
            return _error(
                400,
                "invalid_request_error",
                f"No such token: '{token}'",
                code="resource_missing",
                param="card[token]",
            )
        pm: JsonObj = {
            "id": _new_id("pm"),
            "object": "payment_method",
            "type": "card",
            "created": int(time.time()),
            "customer": None,
            "livemode": False,
            "metadata": {},
            "billing_details": {"address": None, "email": None, "name": None, "phone": None},
            "card": {
                "brand": card.brand,
                "last4": card.last4,
                "exp_month": 12,
                "exp_year": 2034,
                "funding": "credit",
                "country": "US",
            },
            "_token": token,  # stub bookkeeping; Stripe obviously does not echo this
        }
        self.payment_methods[pm["id"]] = pm
        return _Reply(200, _public(pm))

    def _create_customer(self, params: JsonObj) -> _Reply:
        pm_id = params.get("payment_method")
        if pm_id is not None and pm_id not in self.payment_methods:
            return self._missing("PaymentMethod", pm_id, "payment_method")
        default_pm = (params.get("invoice_settings") or {}).get("default_payment_method")
        if default_pm is not None and default_pm != pm_id:
            return _error(
                400,
                "invalid_request_error",
                "The default payment method must be attached to this customer.",
                param="invoice_settings[default_payment_method]",
            )
        customer: JsonObj = {
            "id": _new_id("cus"),
            "object": "customer",
            "created": int(time.time()),
            "livemode": False,
            "email": params.get("email"),
            "metadata": params.get("metadata") or {},
            "invoice_settings": {"default_payment_method": default_pm},
        }
        self.customers[customer["id"]] = customer
        if pm_id is not None:
            self.payment_methods[pm_id]["customer"] = customer["id"]
        return _Reply(200, customer)

    def _attach(self, pm_id: str, params: JsonObj) -> _Reply:
        pm = self.payment_methods.get(pm_id)
        if pm is None:
            return self._missing("PaymentMethod", pm_id, "id")
        customer = params.get("customer")
        if customer not in self.customers:
            return self._missing("customer", str(customer), "customer")
        pm["customer"] = customer
        return _Reply(200, _public(pm))

    def _create_payment_intent(self, params: JsonObj) -> _Reply:
        try:
            amount = int(params.get("amount", ""))
        except ValueError:
            return _error(400, "invalid_request_error", "Invalid integer: amount", param="amount")
        if amount < 1:
            return _error(400, "invalid_request_error", "Amount must be at least 1", param="amount")
        currency = params.get("currency")
        if not currency:
            return _error(400, "invalid_request_error", "Missing required param: currency.", param="currency")
        customer = params.get("customer")
        if customer is not None and customer not in self.customers:
            return self._missing("customer", customer, "customer")
        pm_id = params.get("payment_method")
        pm = self.payment_methods.get(pm_id or "")
        if pm_id is not None and pm is None:
            return self._missing("payment_method", pm_id, "payment_method")
        if pm is not None and customer is not None and pm["customer"] != customer:
            return _error(
                400,
                "invalid_request_error",
                f"The provided PaymentMethod {pm_id} does not belong to customer {customer}.",
                param="payment_method",
            )
        if pm is not None and customer is None and pm["customer"] is not None:
            return _error(
                400,
                "invalid_request_error",
                "A PaymentMethod attached to a customer requires the customer param.",
                param="customer",
            )
        off_session = _truthy(params.get("off_session"))
        pi: JsonObj = {
            "id": _new_id("pi"),
            "object": "payment_intent",
            "amount": amount,
            "amount_received": 0,
            "currency": currency,
            "customer": customer,
            "payment_method": pm_id,
            "description": params.get("description"),
            "metadata": params.get("metadata") or {},
            "status": "requires_payment_method" if pm is None else "requires_confirmation",
            "capture_method": "automatic",
            "confirmation_method": "automatic",
            "created": int(time.time()),
            "livemode": False,
            "latest_charge": None,
            "last_payment_error": None,
            "setup_future_usage": None,
            "payment_method_types": ["card"],
        }
        self.payment_intents[pi["id"]] = pi
        if not _truthy(params.get("confirm")) or pm is None:
            return _Reply(200, pi)

        card = CARDS[pm["_token"]]
        charge_id = _new_id("ch")
        if self.force_intent_status is not None:
            pi["status"] = self.force_intent_status
            return _Reply(200, pi)
        if card.decline is None:
            pi.update(status="succeeded", amount_received=amount, latest_charge=charge_id)
            return _Reply(200, pi)
        code, decline_code = card.decline
        if code == "authentication_required" and not off_session:
            pi["status"] = "requires_action"
            return _Reply(200, pi)
        message = (
            "Your card was declined."
            if code == "card_declined"
            else "Your card was declined. This transaction requires authentication."
        )
        err: JsonObj = {
            "type": "card_error",
            "code": code,
            "decline_code": decline_code,
            "message": message,
            "charge": charge_id,
            "doc_url": f"https://stripe.com/docs/error-codes/{code}",
            "payment_method": _public(pm),
        }
        pi.update(status="requires_payment_method", latest_charge=charge_id, last_payment_error=dict(err))
        err["payment_intent"] = pi
        return _Reply(402, {"error": err})

    def _search_payment_intents(self, params: JsonObj) -> _Reply:
        query = params.get("query") or ""
        m = re.fullmatch(r"\s*metadata\['((?:[^'\\]|\\.)*)'\]\s*:\s*'((?:[^'\\]|\\.)*)'\s*", query)
        if m is None:
            return _error(
                400,
                "invalid_request_error",
                f"The stub only supports metadata['k']:'v' queries: {query}",
                param="query",
            )
        key, value = (re.sub(r"\\(.)", r"\1", g) for g in m.groups())
        limit = int(params.get("limit") or 10)
        hits = [pi for pi in self.payment_intents.values() if pi["metadata"].get(key) == value]
        hits.sort(key=lambda pi: pi["created"], reverse=True)
        return _Reply(
            200,
            {
                "object": "search_result",
                "url": "/v1/payment_intents/search",
                "has_more": len(hits) > limit,
                "next_page": None,
                "data": hits[:limit],
            },
        )

    def _create_refund(self, params: JsonObj) -> _Reply:
        pi_id = params.get("payment_intent")
        pi = self.payment_intents.get(pi_id or "")
        if pi is None:
            return self._missing("payment_intent", str(pi_id), "payment_intent")
        if pi["status"] != "succeeded":
            return _error(
                400,
                "invalid_request_error",
                f"This PaymentIntent ({pi_id}) does not have a successful charge to refund.",
                param="payment_intent",
            )
        if any(r["payment_intent"] == pi_id for r in self.refunds.values()):
            return _error(
                400,
                "invalid_request_error",
                f"Charge {pi['latest_charge']} has already been refunded.",
                code="charge_already_refunded",
            )
        refund: JsonObj = {
            "id": _new_id("re"),
            "object": "refund",
            "amount": pi["amount"],
            "currency": pi["currency"],
            "charge": pi["latest_charge"],
            "payment_intent": pi_id,
            "status": "succeeded",
            "reason": params.get("reason"),
            "metadata": params.get("metadata") or {},
            "created": int(time.time()),
        }
        self.refunds[refund["id"]] = refund
        return _Reply(200, refund)


def _public(obj: JsonObj) -> JsonObj:
    return {k: v for k, v in obj.items() if not k.startswith("_")}
