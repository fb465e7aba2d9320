"""Events rules: tag derivation, params stamping, extra sanitizing, dedupe keys, and storing a batch."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from json.encoder import encode_basestring_ascii as _quote
from typing import Any, Literal
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from threadline.auth.keys import KeyPrincipal
from threadline.events import repository
from threadline.events.schemas import CollectFast, CollectIn, ConversionIn, encodable
from threadline.insights import rollups
from threadline.kit.batch_writer import unavailable
from threadline.kit.errors import ApiError
from threadline.kit.ids import new_id
from threadline.serving import clicks as serving_clicks

Kind = Literal["collect", "conversion"]
Outcome = Literal["ok", "duplicate"] | ApiError

DEFAULT_EVENT_TYPE = "purchase_completed"
MAX_DEDUPE_KEY = 600  # the column width; longer keys are stored as their SHA-256
MAX_EXTRA_BYTES = 8192
_EXTRA_KEY = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_SCALARS = (str, int, float, bool, type(None))
COLLECT_DATA_FIELDS = (
    "page_url",
    "referrer",
    "user_agent",
    "session_id",
    "client_id",
    "attribution_type",
    "impression_id",
    "click_id",
    "bid_id",
    "impression_state",
    "view_time_ms",
    "consent",
)
CONVERSION_DATA_FIELDS = ("page_url", "referrer", "user_agent", "session_id", "client_id", "tag_id")


@dataclass(slots=True)
class PendingEvent:
    """A validated event waiting for the writer: the table row, complete except for attribution."""

    kind: Kind
    row: dict[str, Any]


def click_not_found() -> ApiError:
    return ApiError(404, "click_not_found", "No click with this click_id for this organization.", "click_id")


# ---- request-side rules (cheap, run in the event loop) ----


def _host(url: str | None) -> str | None:
    if not url:
        return None
    try:
        host = urlsplit(url.strip()).hostname
    except ValueError:
        return None
    if not host or len(host) > 253:  # longer is not a DNS name
        return None
    return host


def derive_tag_id(tag_id: str | None, page_url: str | None, origin: str | None, referer: str | None) -> str:
    """A blank tag becomes ``site:<host>`` of page_url, else Origin, else Referer; else ``site:unknown``."""
    if tag_id and tag_id.strip():
        return tag_id
    for candidate in (page_url, origin, referer):
        host = _host(candidate)
        if host:
            return f"site:{host}"
    return "site:unknown"


def stamped_params(params: Mapping[str, Any] | None, principal: KeyPrincipal) -> dict[str, Any]:
    out = dict(params or {})
    out["integration"] = "partner_s2s"
    out["partner_id"] = principal.org_id
    out["api_key_label"] = principal.label
    return out


def _scalar_ok(value: Any) -> bool:
    if isinstance(value, str):
        return encodable(value)
    return isinstance(value, _SCALARS)


def _shallow_ok(value: Any) -> bool:
    if isinstance(value, list):
        return all(_scalar_ok(v) for v in value)
    if isinstance(value, dict):
        return all(_EXTRA_KEY.fullmatch(k) and _scalar_ok(v) for k, v in value.items())
    return _scalar_ok(value)


def sanitize_extra(extra: Mapping[str, Any] | None) -> dict[str, Any]:
    """Keep well-named scalar or one-level fields while the total stays within 8 KB; drop the rest."""
    out: dict[str, Any] = {}
    if not extra:
        return out
    size = 2  # "{}"
    for key, value in extra.items():
        if not _EXTRA_KEY.fullmatch(key) or not _shallow_ok(value):
            continue
        cost = len(key) + 4 + len(json.dumps(value))  # "key": value,
        if size + cost > MAX_EXTRA_BYTES:
            continue
        out[key] = value
        size += cost
    return out


def _dedupe(kind: str, *parts: str) -> str:
    # The text of json.dumps(parts, separators=(",", ":")) (stored keys depend on it), built from the
    # encoder's own C string escaper without an encoder's Python-level setup per call.
    readable = f"{kind}:{parts[0]}" if len(parts) == 1 else f"{kind}:[{','.join(map(_quote, parts))}]"
    if len(readable) <= MAX_DEDUPE_KEY:
        return readable
    return "sha256:" + hashlib.sha256(readable.encode("utf-8", "surrogatepass")).hexdigest()


def collect_dedupe_key(tag_id: str, event_id: str | None) -> str | None:
    return _dedupe("event", tag_id, event_id) if event_id else None


def conversion_explicit_key(idempotency_key: str | None, event_id: str | None) -> str | None:
    """The Idempotency-Key header, else event_id: the header wins when both are sent."""
    if idempotency_key and idempotency_key.strip():
        return _dedupe("idem", idempotency_key)
    if event_id:
        return _dedupe("event_id", event_id)
    return None


def conversion_order_key(click_id: str, event_type: str, order_id: str | None) -> str | None:
    """(click_id, event_type, order_id) when there is an order: held alongside the explicit key."""
    return _dedupe("order", click_id, event_type, order_id) if order_id else None


def to_micros(value: float) -> int:
    # Through the decimal repr so 49.99 is exactly 49_990_000, not 49_989_999.
    return int((Decimal(repr(value)) * 1_000_000).to_integral_value())


def collect_event(
    principal: KeyPrincipal,
    event: CollectIn | CollectFast,
    origin: str | None,
    referer: str | None,
    now: float,
) -> PendingEvent:
    tag_id = derive_tag_id(event.tag_id, event.page_url, origin, referer)
    data: dict[str, Any] = {}
    for name in COLLECT_DATA_FIELDS:
        value = getattr(event, name)
        if value is not None:
            data[name] = value
    data["channel"] = "server"
    params = stamped_params(event.params, principal)
    # CollectFast refuses unknown fields, so only the Pydantic model can carry extra ones.
    extra = sanitize_extra(event.model_extra) if isinstance(event, CollectIn) else None
    if extra:
        params["extra"] = extra
    data["params"] = params
    return PendingEvent(
        "collect",
        {
            "id": new_id(),
            "org_id": principal.org_id,
            "key_id": principal.key_id,
            "dedupe_key": collect_dedupe_key(tag_id, event.event_id),
            "event_name": event.event_name,
            "tag_id": tag_id,
            "event_id": event.event_id,
            "timestamp": event.timestamp if event.timestamp is not None else int(now),
            "data": data,
            "received_at": now,
        },
    )


def conversion_event(
    principal: KeyPrincipal, conv: ConversionIn, idempotency_key: str | None, now: float
) -> PendingEvent:
    event_type = conv.event_type or DEFAULT_EVENT_TYPE
    data: dict[str, Any] = {}
    for name in CONVERSION_DATA_FIELDS:
        value = getattr(conv, name)
        if value is not None:
            data[name] = value
    data["channel"] = conv.channel if conv.channel is not None else "server"
    params = stamped_params(None, principal)
    extra = sanitize_extra(conv.model_extra)
    if extra:
        params["extra"] = extra
    data["params"] = params
    return PendingEvent(
        "conversion",
        {
            "id": new_id(),
            "org_id": principal.org_id,
            "key_id": principal.key_id,
            "dedupe_key": conversion_explicit_key(idempotency_key, conv.event_id),
            "order_key": conversion_order_key(conv.click_id, event_type, conv.order_id),
            "click_id": conv.click_id,
            "event_type": event_type,
            "conversion_time": conv.conversion_ts,
            "conversion_value_micros": to_micros(conv.conversion_value),
            "currency": conv.currency,
            "order_id": conv.order_id,
            "event_id": conv.event_id,
            "data": data,
            "received_at": now,
        },
    )


# ---- the writer's side: one transaction for a whole batch ----


def store_failed() -> ApiError:
    """The answer to an event the writer could not store (the store is down): retry later."""
    err = unavailable("The event could not be stored. Retry later.")
    err.type = "api_error"
    return err


def store_batch(session: Session, batch: Sequence[PendingEvent]) -> list[Outcome]:
    """Insert a batch; each event gets ``ok``, ``duplicate`` or click_not_found. The caller commits."""
    outcomes: list[Outcome] = ["duplicate"] * len(batch)
    collect = [i for i, e in enumerate(batch) if e.kind == "collect"]
    if collect:
        inserted = repository.insert_deduped(session, "collect", [batch[i].row for i in collect])
        for i, ok in zip(collect, inserted, strict=True):
            outcomes[i] = "ok" if ok else "duplicate"
    conversions = [i for i, e in enumerate(batch) if e.kind == "conversion"]
    if conversions:
        _store_conversions(session, batch, conversions, outcomes)
    return outcomes


def _store_conversions(
    session: Session, batch: Sequence[PendingEvent], indexes: list[int], outcomes: list[Outcome]
) -> None:
    clicks = serving_clicks.find_clicks(session, {batch[i].row["click_id"] for i in indexes})
    attributed: list[int] = []
    for i in indexes:
        row = batch[i].row
        click = clicks.get(row["click_id"])
        if click is None or click.org_id != row["org_id"]:
            outcomes[i] = click_not_found()
            continue
        row["campaign_id"] = click.campaign_id
        row["ad_group_id"] = click.ad_group_id
        row["ad_id"] = click.ad_id
        attributed.append(i)
    if not attributed:
        return
    inserted = repository.insert_deduped(session, "conversion", [batch[i].row for i in attributed])
    deltas = []
    for i, ok in zip(attributed, inserted, strict=True):
        outcomes[i] = "ok" if ok else "duplicate"
        if not ok:
            continue
        row = batch[i].row
        click = clicks[row["click_id"]]
        deltas.append(
            rollups.RollupDelta(
                org_id=click.org_id,
                campaign_id=click.campaign_id,
                ad_group_id=click.ad_group_id,
                ad_id=click.ad_id,
                ts=row["conversion_time"],
                supply=click.supply,
                country=click.country,
                conversions=1,
                # Insights sum conversion value in the account currency (USD) only.
                conversion_value_micros=row["conversion_value_micros"] if row["currency"] == "USD" else 0,
            )
        )
    rollups.bump_many(session, deltas)
