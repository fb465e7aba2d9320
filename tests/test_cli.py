"""The `threadline` CLI, against a SQLite data dir of its own."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from tests.factories import campaign_body
from threadline import cli
from threadline.app import create_app
from threadline.config import Settings
from threadline.store.migrate import upgrade


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "data"
    monkeypatch.setenv("THREADLINE_DATA_DIR", str(path))
    for name in (
        "THREADLINE_DATABASE_URL",
        "THREADLINE_ADMIN_TOKEN",
        "THREADLINE_AUTO_APPROVE",
        "THREADLINE_REDIS_URL",
    ):
        # setenv first so that monkeypatch restores the variable even if serve sets it later
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    return path


@pytest.fixture
def runner(data_dir: Path) -> CliRunner:
    return CliRunner()


def run(runner: CliRunner, *args: str, ok: bool = True) -> Any:
    result = runner.invoke(cli.app, list(args))
    if ok:
        assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    return result


def run_json(runner: CliRunner, *args: str) -> Any:
    return json.loads(run(runner, *args, "--json").stdout)


@pytest.fixture
def api(data_dir: Path) -> Iterator[TestClient]:
    """The HTTP API over the same data dir, to act as an advertiser would."""
    settings = Settings(log_requests=False, rate_limits_enabled=False)
    upgrade(settings.resolved_database_url)
    app = create_app(settings)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client
    app.state.ctx.db.dispose()


def test_orgs_create_and_list(runner: CliRunner) -> None:
    created = run_json(runner, "orgs", "create", "Acme Inc.", "--url", "https://acme.example.com")
    assert created["name"] == "Acme Inc."
    assert created["url"] == "https://acme.example.com"
    assert created["api_key"].startswith("ak_")
    assert "payment_method" not in created
    second = run_json(runner, "orgs", "create", "Globex", "--card", "tok_mastercard")
    assert second["payment_method"]["brand"] == "mastercard"
    assert second["payment_method"]["is_default"] is True

    listed = run_json(runner, "orgs", "list")
    assert [o["id"] for o in listed["data"]] == [second["id"], created["id"]]
    assert (listed["object"], listed["count"], listed["has_more"]) == ("list", 2, False)
    page = run_json(runner, "orgs", "list", "--limit", "1")
    assert page["has_more"] is True

    table = run(runner, "orgs", "list").stdout
    assert "Acme Inc." in table
    assert "Globex" in table
    assert "ak_" not in table


def test_orgs_create_prints_the_key_in_the_table(runner: CliRunner) -> None:
    out = run(runner, "orgs", "create", "Acme Inc.").stdout
    assert "ak_" in out
    assert "shown only once" in out


def test_rotate_and_revoke_key(runner: CliRunner, api: TestClient) -> None:
    org = run_json(runner, "orgs", "create", "Acme Inc.")
    rotated = run_json(runner, "orgs", "rotate-key", org["id"])
    assert rotated["api_key"].startswith("ak_")
    assert isinstance(rotated["previous_key_expires_at"], int)
    new_headers = {"Authorization": f"Bearer {rotated['api_key']}"}
    assert api.get("/v1/ad_account", headers=new_headers).status_code == 200

    out = run(runner, "orgs", "revoke-key", org["id"]).stdout
    assert out == "advertiser keys revoked\n"
    api.app.state.ctx.keys.clear()  # type: ignore[attr-defined]  # another process: its cache lives ~1 s
    assert api.get("/v1/ad_account", headers=new_headers).status_code == 401


def test_review_list_approve_and_reject(runner: CliRunner, api: TestClient) -> None:
    org = run_json(runner, "orgs", "create", "Acme Inc.", "--card", "tok_visa")
    headers = {"Authorization": f"Bearer {org['api_key']}"}
    ids = []
    for name in ("First", "Second"):
        r = api.post("/v1/campaigns", json=campaign_body(name=name), headers=headers)
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])

    queue = run_json(runner, "review", "list")
    assert [c["id"] for c in queue["data"]] == ids
    assert queue["data"][0]["ad_groups"][0]["ads"][0]["name"] == "Hero card"
    assert "First" in run(runner, "review", "list").stdout

    approved = run_json(runner, "review", "approve", ids[0])
    assert (approved["id"], approved["review_status"], approved["org_id"]) == (ids[0], "approved", org["id"])
    rejected = run_json(runner, "review", "reject", ids[1], "--reason", "Misleading claim")
    assert (rejected["review_status"], rejected["rejection_reason"]) == ("rejected", "Misleading claim")
    assert run_json(runner, "review", "list")["data"] == []

    r = api.post(f"/v1/campaigns/{ids[0]}/activate", headers=headers)
    assert r.json()["status"] == "active"


def test_publishers_and_event_keys(runner: CliRunner) -> None:
    pub = run_json(
        runner,
        "publishers",
        "create",
        "Demo Chat",
        "--supply",
        "partner",
        "--floor-cpm-micros",
        "2500000",
        "--allowed-origin",
        "https://chat.example.com",
        "--allowed-origin",
        "http://localhost:3000",
    )
    assert pub["api_key"].startswith("pk_")
    assert (pub["supply"], pub["floor_cpm_micros"]) == ("partner", 2_500_000)
    assert pub["allowed_origins"] == ["https://chat.example.com", "http://localhost:3000"]
    listed = run_json(runner, "publishers", "list")
    assert [p["id"] for p in listed["data"]] == [pub["id"]]
    assert "Demo Chat" in run(runner, "publishers", "list").stdout

    org = run_json(runner, "orgs", "create", "Acme Inc.")
    key = run_json(runner, "event-keys", "create", org["id"], "--label", "checkout backend")
    assert key["label"] == "checkout backend"
    assert key["api_key"].startswith("ek_")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["orgs", "rotate-key", "no-such-org"], "error: No such organization."),
        (["orgs", "create", "  "], "error: name: must not be blank"),
        (["orgs", "create", "Acme", "--url", "not a url"], "error: url: must be an absolute http(s) URL"),
        (["review", "approve", "00000000-0000-4000-8000-000000000000"], "error: No such campaign."),
        (
            ["publishers", "create", "P", "--floor-cpm-micros", "-5"],
            "error: floor_cpm_micros: Input should be greater than or equal to 0",
        ),
        (["event-keys", "create", "no-such-org", "--label", "x"], "error: No such organization."),
    ],
)
def test_user_errors_are_one_line_on_stderr_with_exit_1(
    runner: CliRunner, args: list[str], message: str
) -> None:
    result = run(runner, *args, ok=False)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == message + "\n"
    assert "Traceback" not in result.output


def test_unusable_card_leaves_no_org_behind(runner: CliRunner) -> None:
    result = run(runner, "orgs", "create", "Acme", "--card", "tok_nope", ok=False)
    assert (result.exit_code, result.stderr) == (1, "error: Unknown or unusable card token.\n")
    assert run_json(runner, "orgs", "list")["data"] == []


def test_unreachable_database_is_a_one_line_error(runner: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THREADLINE_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    result = run(runner, "orgs", "list", ok=False)
    assert result.exit_code == 1
    assert result.stderr.startswith("error: cannot use the database: ")
    assert result.stderr.count("\n") == 1


def test_migrate(runner: CliRunner, data_dir: Path) -> None:
    assert run(runner, "migrate").stdout == "database is up to date\n"
    assert (data_dir / "threadline.db").exists()


def test_demo_is_idempotent(runner: CliRunner, data_dir: Path, api: TestClient) -> None:
    first = run_json(runner, "demo")
    second = run_json(runner, "demo")
    assert first == second

    orgs = run_json(runner, "orgs", "list")["data"]
    assert [o["name"] for o in orgs] == ["Acme Inc."]
    assert [p["name"] for p in run_json(runner, "publishers", "list")["data"]] == ["Demo Chat"]

    keys_file = data_dir / "demo-keys.json"
    assert stat.S_IMODE(keys_file.stat().st_mode) == 0o600
    stored = json.loads(keys_file.read_text())
    assert stored["advertiser_key"] == first["advertiser_key"]
    assert stored["event_key"].startswith("ek_")
    assert stored["publisher_key"].startswith("pk_")

    headers = {"Authorization": f"Bearer {first['advertiser_key']}"}
    campaigns = api.get("/v1/campaigns", headers=headers).json()["data"]
    assert len(campaigns) == 1
    campaign = campaigns[0]
    assert (campaign["id"], campaign["status"], campaign["review_status"]) == (
        first["campaign_id"],
        "active",
        "approved",
    )
    assert campaign["start_time"] <= campaign["created_at"] + 1
    groups = api.get("/v1/ad_groups", params={"campaign_id": campaign["id"]}, headers=headers).json()["data"]
    assert any("marathon training" in g["context_hints"] for g in groups)
    # The deposit went through the real charging path, once.
    admin = {"Authorization": f"Bearer {(data_dir / 'admin-token').read_text().strip()}"}
    charges = api.get(f"/admin/v1/orgs/{first['org_id']}/charges", headers=admin).json()["data"]
    assert [(c["campaign_id"], c["status"]) for c in charges] == [(campaign["id"], "succeeded")]


def test_demo_remints_keys_when_the_keys_file_is_lost(
    runner: CliRunner, data_dir: Path, api: TestClient
) -> None:
    first = run_json(runner, "demo")
    (data_dir / "demo-keys.json").unlink()
    second = run_json(runner, "demo")
    assert (second["org_id"], second["campaign_id"]) == (first["org_id"], first["campaign_id"])
    assert second["advertiser_key"] != first["advertiser_key"]
    assert (
        api.get("/v1/ad_account", headers={"Authorization": f"Bearer {second['advertiser_key']}"}).status_code
        == 200
    )
    assert (
        api.get("/v1/ad_account", headers={"Authorization": f"Bearer {first['advertiser_key']}"}).status_code
        == 401
    )
    assert len(run_json(runner, "orgs", "list")["data"]) == 1


def test_demo_banner_shows_keys_and_curl(runner: CliRunner, data_dir: Path) -> None:
    out = run(runner, "demo").stdout
    keys = json.loads((data_dir / "demo-keys.json").read_text())
    for name in ("advertiser_key", "event_key", "publisher_key"):
        assert keys[name] in out
    assert "curl -s" in out
    assert str(data_dir / "admin-token") in out


def test_serve_migrates_seeds_and_starts_uvicorn(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
    monkeypatch.setattr(cli.uvicorn, "run", lambda *a, **kw: calls.append((a, kw)))
    # serve sets these for its worker processes; undone after the test so later tests in this
    # process (xdist runs many modules in one) see their own settings.
    for name in ("THREADLINE_DATA_DIR", "THREADLINE_AUTO_APPROVE", "THREADLINE_PUBLIC_BASE_URL"):
        monkeypatch.setenv(name, "")  # records the value to restore (or its absence) ...
        monkeypatch.delenv(name)  # ... then starts the test without it
    other_dir = tmp_path / "elsewhere"
    result = run(
        runner,
        "serve",
        "--demo",
        "--data-dir",
        str(other_dir),
        "--port",
        "8123",
        "--host",
        "0.0.0.0",
        "--workers",
        "2",
    )
    assert calls == [
        (("threadline.app:app_factory",), {"factory": True, "host": "0.0.0.0", "port": 8123, "workers": 2})
    ]
    assert (other_dir / "threadline.db").exists()
    assert (other_dir / "admin-token").exists()
    assert (other_dir / "demo-keys.json").exists()
    assert "Threadline demo is ready" in result.stdout
    assert "http://127.0.0.1:8123/v1/campaigns" in result.stdout
    assert os.environ["THREADLINE_DATA_DIR"] == str(other_dir)
    assert os.environ["THREADLINE_AUTO_APPROVE"] == "true"
    assert os.environ["THREADLINE_PUBLIC_BASE_URL"] == "http://127.0.0.1:8123"


def test_billing_reconcile_reports_counts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THREADLINE_DATA_DIR", str(tmp_path / "data"))
    result = CliRunner().invoke(cli.app, ["billing", "reconcile", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "refunded": 0,
        "abandoned": 0,
        "declined": 0,
        "completed": 0,
        "failed": 0,
    }
    bad = CliRunner().invoke(cli.app, ["billing", "reconcile", "--older-than", "5"])
    assert bad.exit_code == 1
    assert "must exceed" in bad.stderr
