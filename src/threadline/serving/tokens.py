"""Signed tracking tokens (click, view, poll) and the signed click id appended to landing URLs.

A token is `kit.secrets.sign` over `<kind>|<bid_id>|<expires_at>`: the kind keeps a view token from
being replayed as a click or a vote, the expiry bounds how long an old impression can be clicked.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit, urlunsplit

from threadline.kit.secrets import hmac_hex, sign, unsign

TOKEN_TTL_SECONDS = 30 * 86_400
CLICK_ID_TTL_SECONDS = 30 * 86_400  # thrad_exp: how long the click id is offered for attribution
KINDS = ("c", "v", "p")


@dataclass(frozen=True)
class TokenClaims:
    kind: str
    bid_id: str
    expires_at: int


def make_token(secret: str, kind: str, bid_id: str, now: int) -> str:
    return sign(secret, f"{kind}|{bid_id}|{now + TOKEN_TTL_SECONDS}".encode())


def read_token(secret: str, token: str, kind: str, now: float) -> TokenClaims | None:
    """The claims of a genuine, unexpired token of ``kind``; None for anything else."""
    if not token or len(token) > 512:
        return None
    payload = unsign(secret, token)
    if payload is None:
        return None
    try:
        got_kind, bid_id, exp_text = payload.decode().split("|")
        expires_at = int(exp_text)
    except (UnicodeDecodeError, ValueError):
        return None
    if got_kind != kind or now >= expires_at:
        return None
    return TokenClaims(got_kind, bid_id, expires_at)


def click_signature(secret: str, click_id: str, expires_at: int) -> str:
    """``thrad_sig``: HMAC-SHA256 hex over ``<click_id>.<thrad_exp>`` with the server secret."""
    return hmac_hex(secret, f"{click_id}.{expires_at}")


def landing_url(target_url: str, *, secret: str, click_id: str, bid_id: str, now: int) -> str:
    """``target_url`` with thrad_click_id, thrad_exp, thrad_sig and thrad_bid_id appended (query kept)."""
    exp = now + CLICK_ID_TTL_SECONDS
    parts = urlsplit(target_url)
    ours = urlencode(
        [
            ("thrad_click_id", click_id),
            ("thrad_exp", str(exp)),
            ("thrad_sig", click_signature(secret, click_id, exp)),
            ("thrad_bid_id", bid_id),
        ]
    )
    # The advertiser's own query string is kept byte for byte; ours goes after it.
    query = f"{parts.query}&{ours}" if parts.query else ours
    return urlunsplit(parts._replace(query=query))
