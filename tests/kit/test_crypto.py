"""kit/crypto: upstream secrets round-trip; a token made for another purpose or secret reads as None."""

from __future__ import annotations

from threadline.kit import crypto


def test_round_trip_and_ciphertext_hides_the_plain_text() -> None:
    token = crypto.encrypt("server-secret", "threads_token", "plain-access-token")
    assert "plain-access-token" not in token
    assert crypto.decrypt("server-secret", "threads_token", token) == "plain-access-token"


def test_other_purpose_or_secret_cannot_decrypt() -> None:
    token = crypto.encrypt("server-secret", "threads_token", "plain-access-token")
    assert crypto.decrypt("server-secret", "app_secret", token) is None
    assert crypto.decrypt("another-secret", "threads_token", token) is None


def test_garbage_token_is_none_not_an_exception() -> None:
    assert crypto.decrypt("server-secret", "threads_token", "not-a-fernet-token") is None
    assert crypto.decrypt("server-secret", "threads_token", "") is None
    assert crypto.decrypt("server-secret", "threads_token", "é") is None
