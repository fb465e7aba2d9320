"""Unit rules of the idempotency store (claims, replays, takeovers) on a real database."""

from __future__ import annotations

import pytest
from fastapi import FastAPI

from tests.factories import ctx_of
from threadline.kit.errors import ApiError
from threadline.kit.idempotency import IdempotencyStore, fingerprint


def test_fingerprint_ignores_key_order_and_whitespace() -> None:
    a = fingerprint("POST", "/v1/x", b'{"a": 1, "b": [1, 2]}')
    assert a == fingerprint("post", "/v1/x", b'{"b":[1,2],"a":1}')
    assert a != fingerprint("POST", "/v1/y", b'{"a": 1, "b": [1, 2]}')
    assert a != fingerprint("POST", "/v1/x", b'{"a": 2, "b": [1, 2]}')
    assert fingerprint("POST", "/v1/x", b"\xff") == fingerprint("POST", "/v1/x", b"\xff")


def test_claim_complete_replay_and_reuse(app: FastAPI) -> None:
    ctx = ctx_of(app)
    store = IdempotencyStore(ctx.db, ctx.clock, lease_seconds=30)
    first = store.claim("org-1", "k1", "POST", "/v1/x", b"{}")
    assert first.replay is None
    with pytest.raises(ApiError) as busy:
        store.claim("org-1", "k1", "POST", "/v1/x", b"{}")
    assert busy.value.code == "idempotency_request_in_progress"
    store.complete(first.record_id, 201, b'{"id":1}', "application/json")
    again = store.claim("org-1", "k1", "POST", "/v1/x", b"{ }")
    assert again.replay is not None
    assert (again.replay.status, again.replay.body) == (201, b'{"id":1}')
    with pytest.raises(ApiError) as reused:
        store.claim("org-1", "k1", "POST", "/v1/x", b'{"other": 1}')
    assert (reused.value.status, reused.value.code) == (409, "idempotency_key_reused")
    # the same key in another org is independent
    assert store.claim("org-2", "k1", "POST", "/v1/x", b'{"other": 1}').replay is None


def test_expired_lease_is_taken_over(app: FastAPI, clock) -> None:  # type: ignore[no-untyped-def]
    ctx = ctx_of(app)
    store = IdempotencyStore(ctx.db, clock, lease_seconds=30)
    first = store.claim("org-1", "k", "POST", "/v1/x", b"{}")
    clock.advance(31)
    resumed = store.claim("org-1", "k", "POST", "/v1/x", b"{}")
    assert resumed.resumed
    assert resumed.record_id == first.record_id
    with pytest.raises(ApiError):
        store.claim("org-1", "k", "POST", "/v1/x", b"{}")


def test_release_lets_a_retry_run_again(app: FastAPI) -> None:
    ctx = ctx_of(app)
    store = IdempotencyStore(ctx.db, ctx.clock, lease_seconds=30)
    first = store.claim("org-1", "k", "POST", "/v1/x", b"{}")
    store.release(first.record_id)
    assert store.claim("org-1", "k", "POST", "/v1/x", b"{}").replay is None


@pytest.mark.parametrize("key", ["", "k" * 256, "caf\u00e9", "line\nbreak"])
def test_bad_keys_refused(app: FastAPI, key: str) -> None:
    ctx = ctx_of(app)
    store = IdempotencyStore(ctx.db, ctx.clock, lease_seconds=30)
    with pytest.raises(ApiError) as exc:
        store.claim("org-1", key, "POST", "/v1/x", b"{}")
    assert exc.value.code == "invalid_value"
