"""Encryption at rest for upstream secrets (platform access tokens), keyed from the server secret."""

from __future__ import annotations

import base64
import functools

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


@functools.lru_cache(maxsize=16)
def _fernet(server_secret: str, purpose: str) -> Fernet:
    # One derived key per purpose: a token encrypted for one use cannot be decrypted as another.
    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode()).derive(
        server_secret.encode()
    )
    return Fernet(base64.urlsafe_b64encode(raw))


def encrypt(server_secret: str, purpose: str, plain: str) -> str:
    return _fernet(server_secret, purpose).encrypt(plain.encode()).decode()


def decrypt(server_secret: str, purpose: str, token: str) -> str | None:
    """The plain text, or None if the token was not made with this secret and purpose."""
    try:
        return _fernet(server_secret, purpose).decrypt(token.encode()).decode()
    except (InvalidToken, ValueError):
        return None
