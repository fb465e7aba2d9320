"""`threadline profiles follow/unfollow` through the operator services."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from threadline import cli


def test_cli_follow_and_unfollow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THREADLINE_DATA_DIR", str(tmp_path / "cli"))
    for name in ("THREADLINE_DATABASE_URL", "THREADLINE_ADMIN_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    runner = CliRunner()

    def run(*args: str) -> Any:
        result = runner.invoke(cli.app, [*args, "--json"])
        assert result.exit_code == 0, (result.stdout, result.stderr)
        return json.loads(result.stdout)

    org = run("orgs", "create", "Acme")
    a = run("profiles", "create", org["id"], "ann")
    b = run("profiles", "create", org["id"], "ben")
    made = run("profiles", "follow", "ann", b["id"])
    assert (made["follower_id"], made["followed_id"]) == (a["id"], b["id"])
    gone = runner.invoke(cli.app, ["profiles", "unfollow", "ann", "ben"])
    assert gone.exit_code == 0
    assert gone.stdout.strip() == "@ann no longer follows @ben"
    again = runner.invoke(cli.app, ["profiles", "unfollow", "ann", "ben"])
    assert again.exit_code == 1
    assert "No such follow" in again.stderr
    self_follow = runner.invoke(cli.app, ["profiles", "follow", "ann", "ann"])
    assert self_follow.exit_code == 1
    assert "cannot follow itself" in self_follow.stderr
