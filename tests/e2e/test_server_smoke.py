"""The real server process: migrations, health, metrics, JSON logs, and the seed-001 advertiser flow over HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.server import ServerProcess
from tests.factories import seed_org
from threadline.config import Settings
from threadline.context import build_context
from threadline.store.migrate import upgrade

pytestmark = pytest.mark.e2e


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[ServerProcess, str]]:
    data = tmp_path / "data"
    settings = Settings(data_dir=data, admin_token="adm_e2e")
    upgrade(settings.resolved_database_url)
    ctx = build_context(settings)
    new = seed_org(ctx, "Acme Inc.", "https://acme.example.com")
    ctx.db.dispose()
    proc = ServerProcess(data, {"THREADLINE_ADMIN_TOKEN": "adm_e2e", "THREADLINE_AUTO_APPROVE": "false"})
    proc.start()
    yield proc, new.api_key
    proc.stop()


def test_health_metrics_logs_and_account(server: tuple[ServerProcess, str]) -> None:
    proc, key = server
    with httpx.Client(base_url=proc.base_url, timeout=10) as http:
        assert http.get("/healthz").json() == {"status": "ok", "store": "ok"}
        r = http.get(
            "/v1/ad_account", headers={"Authorization": f"Bearer {key}", "X-Request-Id": "req-e2e-1"}
        )
        assert r.status_code == 200
        assert r.headers["x-request-id"] == "req-e2e-1"
        assert r.json()["currency_code"] == "USD"
        assert http.get("/v1/ad_account").status_code == 401
        metrics = http.get("/metrics").text
        assert (
            'threadline_http_requests_total{method="GET",route="/v1/ad_account",status="200"} 1.0' in metrics
        )
        assert "threadline_http_request_duration_seconds_bucket" in metrics
        assert http.get("/openapi.json").json()["openapi"].startswith("3.")
    proc.stop()
    lines = [json.loads(line) for line in proc.log_path.read_text().splitlines() if line.startswith("{")]
    requests = [line for line in lines if line.get("event") == "request"]
    ours = [line for line in requests if line.get("request_id") == "req-e2e-1"]
    assert len(ours) == 1
    assert ours[0]["status"] == 200
    assert ours[0]["route"] == "/v1/ad_account"
    # never a secret in the logs
    assert key not in proc.log_path.read_text()
