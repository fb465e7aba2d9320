"""Request ids, one JSON log line per request, and Prometheus metrics — as one ASGI middleware."""

from __future__ import annotations

import logging
import random
import sys
import time
from typing import Any

import structlog
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send


def configure_logging() -> None:
    logging.basicConfig(format="%(message)s", stream=sys.stdout, level=logging.INFO)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.JSONRenderer(),
        ],
        logger_factory=structlog.PrintLoggerFactory(sys.stdout),
        cache_logger_on_first_use=True,
    )


log = structlog.get_logger("threadline")

_MAX_CACHED_LABELS = 4096
# Request ids need uniqueness, not secrecy. uuid4() reads os.urandom per call, and that syscall drops the
# GIL: under load the event loop then waits for the event writer thread to hand the GIL back.
_ids = random.Random()


def new_request_id() -> str:
    return f"{_ids.getrandbits(128):032x}"


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "threadline_http_requests_total",
            "HTTP requests by route and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "threadline_http_request_duration_seconds",
            "HTTP request latency by route.",
            ["method", "route"],
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        self.jobs = Counter(
            "threadline_jobs_total",
            "Durable jobs run by this process's worker, by kind and outcome (done, retry, dead, lost).",
            ["kind", "outcome"],
            registry=self.registry,
        )
        self.job_duration = Histogram(
            "threadline_job_duration_seconds",
            "Handler run time of durable jobs by kind.",
            ["kind"],
            buckets=(0.001, 0.005, 0.025, 0.1, 0.5, 1, 5, 30, 120, 600),
            registry=self.registry,
        )
        # labels() hashes and validates its arguments under a lock on every call; the children never change.
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def observe(self, method: str, route: str, status: int, elapsed: float) -> None:
        """Count one request; label children are looked up once per (method, route, status)."""
        key = (method, route, status)
        children = self._children.get(key)
        if children is None:
            children = (self.requests.labels(method, route, str(status)), self.latency.labels(method, route))
            if len(self._children) < _MAX_CACHED_LABELS:  # methods come from clients: stay bounded
                self._children[key] = children
        children[0].inc()
        children[1].observe(elapsed)

    def observe_job(self, kind: str, outcome: str, seconds: float) -> None:
        # Kinds are registered in code, so the label set stays bounded.
        self.jobs.labels(kind, outcome).inc()
        self.job_duration.labels(kind).observe(seconds)

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class ObservabilityMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics, log_requests: bool = True) -> None:
        self.app = app
        self.metrics = metrics
        self.log_requests = log_requests

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        request_id = _incoming_request_id(scope) or new_request_id()
        scope.setdefault("state", {})["request_id"] = request_id
        status_holder = [500]
        header = (b"x-request-id", request_id.encode())

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder[0] = message["status"]
                message["headers"] = [*message.get("headers", []), header]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            elapsed = time.perf_counter() - start
            route = scope.get("route")
            route_path = getattr(route, "path", None) or "unmatched"
            method = scope["method"]
            self.metrics.observe(method, route_path, status_holder[0], elapsed)
            if self.log_requests:
                state: dict[str, Any] = scope.get("state", {})
                log.info(
                    "request",
                    request_id=request_id,
                    method=method,
                    path=scope["path"],
                    route=route_path,
                    status=status_holder[0],
                    duration_ms=round(elapsed * 1000, 3),
                    org_id=state.get("org_id"),
                )


def _incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"x-request-id":
            text = str(value.decode("latin-1"))
            if 0 < len(text) <= 128 and text.isprintable():
                return text
    return None
