"""`threadline profiles follow/unfollow` through the operator services."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.publishing.helpers import cli_json
from threadline import cli


def test_cli_follow_and_unfollow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run = cli_json(tmp_path, monkeypatch)
    runner = CliRunner()

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
