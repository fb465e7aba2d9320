"""`threadline demo` also seeds a Threads profile and a long-lived token that work against the API."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from threadline import cli
from threadline.app import create_app
from threadline.config import Settings


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "data"
    monkeypatch.setenv("THREADLINE_DATA_DIR", str(path))
    for name in ("THREADLINE_DATABASE_URL", "THREADLINE_ADMIN_TOKEN", "THREADLINE_AUTO_APPROVE"):
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    return path


def demo(runner: CliRunner) -> dict[str, str]:
    result = runner.invoke(cli.app, ["demo", "--json"])
    assert result.exit_code == 0, (result.stdout, result.stderr)
    out: dict[str, str] = json.loads(result.stdout)
    return out


def test_demo_threads_profile_and_token(data_dir: Path) -> None:
    runner = CliRunner()
    first = demo(runner)
    assert first["threads_username"] == "acme"
    assert first["threads_token"].startswith("TH")
    assert demo(runner) == first  # idempotent
    (data_dir / "demo-threads.json").unlink()
    third = demo(runner)
    assert third["threads_profile_id"] == first["threads_profile_id"]
    assert third["threads_token"] != first["threads_token"]
    banner = runner.invoke(cli.app, ["demo"]).stdout
    assert third["threads_token"] in banner
    assert "/v1.0/me/threads" in banner

    app = create_app(Settings(log_requests=False, rate_limits_enabled=False, jobs_worker_enabled=False))
    with TestClient(app) as client:
        me = client.get("/v1.0/me", params={"access_token": third["threads_token"], "fields": "username"})
        assert me.json() == {"username": "acme", "id": third["threads_profile_id"]}
        r = client.post(
            "/v1.0/me/threads",
            data={
                "media_type": "TEXT",
                "text": "Hello",
                "auto_publish_text": "true",
                "access_token": third["threads_token"],
            },
        )
        assert r.status_code == 200
        # The conversation: a poll post of @acme, a reply of @ada (they follow each other), acme's answer.
        convo = client.get(
            f"/v1.0/{third['threads_post_id']}/conversation",
            params={"access_token": third["threads_token"], "fields": "username,text", "reverse": "false"},
        ).json()["data"]
        assert [d["username"] for d in convo] == ["ada", "acme"]
        poll = client.get(
            f"/v1.0/{third['threads_post_id']}",
            params={
                "access_token": third["threads_token"],
                "fields": "poll_attachment,reply_audience,permalink",
            },
        ).json()
        assert poll["reply_audience"] == "ACCOUNTS_YOU_FOLLOW"
        assert poll["poll_attachment"]["total_votes"] == 0
        page = client.get(poll["permalink"].replace("http://127.0.0.1:8000", ""))
        assert 'name="option" value="option_a"' in page.text
    assert third["threads_post_id"] == first["threads_post_id"]
    app.state.ctx.db.dispose()
