"""API keys (random, shown once, stored as SHA-256) and HMAC-signed tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets as _secrets


def generate_key(prefix: str) -> str:
    """A new secret like ``ak_<43 url-safe chars>`` (256 bits of entropy)."""
    return f"{prefix}_{_secrets.token_urlsafe(32)}"


def hash_key(key: str) -> str:
    # Keys are 256-bit random values, so a fast hash is enough: no dictionary to guess from.
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def constant_time_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(secret: str, payload: bytes) -> str:
    """``<b64 payload>.<b64 hmac>``: a tamper-evident token carrying ``payload``."""
    mac = hmac.digest(secret.encode(), payload, "sha256")[:16]  # one-shot: no HMAC object per token
    return f"{_b64(payload)}.{_b64(mac)}"


def unsign(secret: str, token: str) -> bytes | None:
    """The payload of a token made by :func:`sign`, or None if forged or altered."""
    try:
        body, mac_text = token.split(".", 1)
        payload = _unb64(body)
        mac = _unb64(mac_text)
    except (ValueError, TypeError):
        return None
    expected = hmac.digest(secret.encode(), payload, "sha256")[:16]
    if not hmac.compare_digest(mac, expected):
        return None
    return payload


def hmac_hex(secret: str, message: str) -> str:
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()
