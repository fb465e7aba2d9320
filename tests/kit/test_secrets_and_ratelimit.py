"""Key hashing, signed tokens, and rate limits (memory and shared Redis)."""

from __future__ import annotations

import os
import uuid

import pytest

from threadline.kit.ratelimit import RateLimiter
from threadline.kit.secrets import generate_key, hash_key, sign, unsign


def test_keys_are_prefixed_random_and_hashed() -> None:
    a, b = generate_key("ak"), generate_key("ak")
    assert a.startswith("ak_") and a != b  # noqa: PT018
    assert len(hash_key(a)) == 64
    assert hash_key(a) != hash_key(b)


def test_signed_tokens_detect_tampering() -> None:
    token = sign("secret", b"payload")
    assert unsign("secret", token) == b"payload"
    assert unsign("other", token) is None
    body, mac = token.split(".")
    assert unsign("secret", ("A" if body[0] != "A" else "B") + body[1:] + "." + mac) is None
    assert unsign("secret", sign("secret", b"other").split(".")[0] + "." + mac) is None
    for junk in ["", "...", "abc", "a.b.c", "\u00ff.\u00ff"]:
        assert unsign("secret", junk) is None


def test_memory_limiter_counts_and_headers() -> None:
    limiter = RateLimiter()
    item = limiter.per_hour(3)
    decisions = [limiter.hit(item, "k") for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert decisions[0].headers()["X-RateLimit-Remaining"] == "2"
    assert "Retry-After" in decisions[3].headers()
    assert limiter.hit(item, "other").allowed


def test_disabled_limiter_always_allows() -> None:
    limiter = RateLimiter(enabled=False)
    item = limiter.per_hour(1)
    assert all(limiter.hit(item, "k").allowed for _ in range(5))


@pytest.mark.redis
def test_redis_limiter_is_shared_between_processes() -> None:
    url = os.environ["THREADLINE_TEST_REDIS_URL"]
    a, b = RateLimiter(url), RateLimiter(url)  # two server processes
    item = a.per_hour(4)
    key = uuid.uuid4().hex
    results = [
        a.hit(item, key).allowed,
        b.hit(item, key).allowed,
        a.hit(item, key).allowed,
        b.hit(item, key).allowed,
    ]
    assert results == [True, True, True, True]
    assert not a.hit(item, key).allowed
    assert not b.hit(item, key).allowed
