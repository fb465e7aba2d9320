"""Key hashing, signed tokens, and rate limits (memory and shared Redis)."""

from __future__ import annotations

import os
import threading
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


class _Clock:
    def __init__(self) -> None:
        self.t = 1_800_000_000.0

    def __call__(self) -> float:
        return self.t


def test_memory_limiter_refills_one_slot_per_interval() -> None:
    clock = _Clock()
    limiter = RateLimiter(now=clock)
    item = limiter.per_hour(60)  # one slot a minute, bursts of 60
    assert all(limiter.allow(item, "k") for _ in range(60))
    refused = limiter.hit(item, "k")
    assert not refused.allowed
    assert (refused.remaining, refused.reset_at) == (0, int(clock.t) + 60)
    clock.t += 59.9
    assert not limiter.allow(item, "k")
    clock.t += 0.2
    first = limiter.hit(item, "k")
    assert first.allowed
    assert first.remaining == 0
    clock.t += 3600
    assert limiter.peek(item, "k").remaining == 60  # a full bucket again, and peek counts nothing
    assert limiter.hit(item, "k").remaining == 59


def test_memory_limiter_starts_no_thread() -> None:
    before = threading.active_count()
    limiter = RateLimiter()
    item = limiter.per_second(5)
    for i in range(200):
        limiter.hit(item, "k", str(i))
    assert threading.active_count() == before


def test_limits_are_per_item_and_per_identifier() -> None:
    limiter = RateLimiter(now=_Clock())
    hourly, per_second = limiter.per_hour(1), limiter.per_second(1)
    assert limiter.allow(hourly, "adv", "k")
    assert not limiter.allow(hourly, "adv", "k")
    assert limiter.allow(per_second, "adv", "k")  # another limit on the same key has its own bucket
    assert limiter.allow(hourly, "adv-create", "k")


@pytest.mark.redis
def test_redis_and_memory_give_the_same_decisions() -> None:
    url = os.environ["THREADLINE_TEST_REDIS_URL"]
    redis_limiter, memory = RateLimiter(url), RateLimiter()
    item = memory.per_hour(5)
    key = uuid.uuid4().hex
    got_redis = [redis_limiter.hit(item, key) for _ in range(7)]
    got_memory = [memory.hit(item, key) for _ in range(7)]
    assert [(d.allowed, d.remaining, d.limit) for d in got_redis] == [
        (d.allowed, d.remaining, d.limit) for d in got_memory
    ]
    assert abs(got_redis[-1].reset_at - got_memory[-1].reset_at) <= 2
    assert redis_limiter.peek(item, key).remaining == 0
