"""Request ids, per-route metrics (cached label children), heap settling, the limiter fast path."""

from __future__ import annotations

import gc
import re

from fastapi.testclient import TestClient

from threadline.kit import heap
from threadline.kit.observability import Metrics, new_request_id
from threadline.kit.ratelimit import RateLimiter


def _sample(metrics: Metrics, name: str, labels: dict[str, str]) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def test_request_ids_are_32_hex_and_distinct() -> None:
    ids = {new_request_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)


def test_generated_request_id_is_echoed(client: TestClient) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200
    assert re.fullmatch(r"[0-9a-f]{32}", r.headers["x-request-id"])


def test_observe_counts_each_status_separately() -> None:
    metrics = Metrics()
    for _ in range(3):
        metrics.observe("GET", "/v1/ad_account", 200, 0.001)
    metrics.observe("GET", "/v1/ad_account", 401, 0.002)
    count = "threadline_http_requests_total"
    assert _sample(metrics, count, {"method": "GET", "route": "/v1/ad_account", "status": "200"}) == 3.0
    assert _sample(metrics, count, {"method": "GET", "route": "/v1/ad_account", "status": "401"}) == 1.0
    latency = "threadline_http_request_duration_seconds_count"
    assert _sample(metrics, latency, {"method": "GET", "route": "/v1/ad_account"}) == 4.0


def test_observe_cache_is_bounded_but_still_counts() -> None:
    metrics = Metrics()
    for i in range(4100):  # methods come from clients: more distinct keys than the cache holds
        metrics.observe(f"M{i}", "unmatched", 405, 0.001)
    metrics.observe("M4099", "unmatched", 405, 0.001)  # not cached: counted through labels()
    assert len(metrics._children) == 4096
    count = "threadline_http_requests_total"
    assert _sample(metrics, count, {"method": "M4099", "route": "unmatched", "status": "405"}) == 2.0


def test_settle_heap_runs_once_per_process(client: TestClient) -> None:
    # The client fixture started the app, so the heap is settled already; a second call is a no-op.
    assert heap._heap_settled
    threshold = gc.get_threshold()
    frozen = gc.get_freeze_count()
    heap.settle_heap()
    assert gc.get_threshold() == threshold
    assert threshold[0] == heap.GC_GEN0_THRESHOLD
    assert gc.get_freeze_count() == frozen


def test_limiter_allow_counts_hits_without_reading_back() -> None:
    limiter = RateLimiter()
    item = limiter.per_hour(2)
    assert [limiter.allow(item, "t", "k1") for _ in range(3)] == [True, True, False]
    assert limiter.allow(item, "t", "k2")  # per identifier
    refused = limiter.peek(item, "t", "k1")
    assert (refused.allowed, refused.remaining, refused.limit) == (False, 0, 2)
    assert refused.headers()["Retry-After"] == str(refused.retry_after)


def test_disabled_limiter_always_allows() -> None:
    limiter = RateLimiter(enabled=False)
    item = limiter.per_hour(1)
    assert all(limiter.allow(item, "t", "k") for _ in range(5))
