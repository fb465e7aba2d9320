"""Serving wire shapes: the three error renderers and the bid / legacy-ad payloads."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from threadline.context import AppContext
from threadline.kit.errors import ApiError
from threadline.serving.service import Decision, image_data_url, media_url, price_dollars, tracking_urls

LEGACY_API_VERSION = "1.0"
GIF_1X1 = bytes.fromhex(
    "47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b"
)


# JSONResponse's own encoding (same bytes), without building an encoder for every answer.
_encode = json.JSONEncoder(ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")).encode


def json_response(payload: Any, headers: dict[str, str]) -> Response:
    return Response(_encode(payload).encode("utf-8"), media_type="application/json", headers=headers)


def request_id(request: Request) -> str:
    return str(getattr(request.state, "request_id", "") or "")


def render_bid_error(err: ApiError, request: Request) -> Response:
    """`{"status":"error","message","requestId"}` (the bid-request surface)."""
    body = {"status": "error", "message": err.message, "requestId": request_id(request)}
    return JSONResponse(body, status_code=err.status, headers=err.headers)


def render_legacy_error(err: ApiError, request: Request) -> Response:
    """The legacy thrads-sdk shape has no requestId."""
    return JSONResponse(
        {"status": "error", "message": err.message}, status_code=err.status, headers=err.headers
    )


def render_tracking_error(err: ApiError, request: Request) -> Response:
    """Tracking adds the machine-readable `code`."""
    body = {"status": "error", "message": err.message, "requestId": request_id(request), "code": err.code}
    return JSONResponse(body, status_code=err.status, headers=err.headers)


def elapsed_ms(ctx: AppContext, t0: float) -> float:
    return round((ctx.clock.monotonic() - t0) * 1000, 3)


def headline(title: str, limit: int | None) -> str:
    if limit is None or len(title) <= limit:
        return title
    return title[: limit - 1].rstrip() + "…"


def bid_payload(
    ctx: AppContext, decision: Decision, max_chars: int | None, image_enabled: bool, now: int
) -> dict[str, Any] | None:
    served = decision.served
    if served is None:
        return None
    ad = served.ad
    urls = tracking_urls(ctx, served.bid_id, now)
    image = media_url(ctx, ad.file_id) if ad.file_id and image_enabled else None
    bid: dict[str, Any] = {
        "bidId": served.bid_id,
        "ad_format": ad.ad_format,
        "price": price_dollars(served.price_micros),
        "advertiser": ad.advertiser,
        "domain": ad.domain,
        "headline": headline(ad.title, max_chars),
        "description": ad.body,
        "cta_text": ad.cta_text,
        "url": urls["click"] if ad.target_url else None,
        "placement": "image" if image else "text",
        "image_url": image,
        "view_url": urls["view"],
    }
    if ad.ad_format == "sponsored_poll":
        base = ctx.settings.public_base_url.rstrip("/") + "/api/v1/tracking/sponsored-polls"
        bid["poll"] = {
            "question": ad.title,
            "options": [{"id": str(i), "text": t} for i, t in enumerate(ad.poll_options, start=1)],
            "vote_url": f"{base}/vote?token={urls['poll']}",
            "results_url": f"{base}/results?token={urls['poll']}",
        }
    return bid


def legacy_ad(ctx: AppContext, decision: Decision, now: int) -> dict[str, Any] | None:
    if decision.served is None:
        return None
    ad = decision.served.ad
    return {
        "creative": ad.body,
        "prod_name": ad.title,
        "prod_url": tracking_urls(ctx, decision.served.bid_id, now)["click"],
        "img_url": image_data_url(ctx, ad.file_id),
    }
