"""`threadline simulate` refuses to start without a server or keys: one line on stderr, exit code 1."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.e2e.server import free_port
from threadline.cli import app as cli

pytestmark = pytest.mark.e2e


def _keys(data_dir: Path) -> None:
    data_dir.mkdir(parents=True)
    keys = {
        "org_id": "o",
        "publisher_id": "p",
        "publisher_key": "pk_x",
        "event_key": "ek_x",
        "advertiser_key": "a",
    }
    (data_dir / "demo-keys.json").write_text(json.dumps(keys))


def test_unreachable_server_is_one_line_and_exit_1(tmp_path: Path) -> None:
    _keys(tmp_path / "data")
    base = f"http://127.0.0.1:{free_port()}"
    result = CliRunner().invoke(
        cli,
        ["simulate", "--conversations", "3", "--base-url", base],
        env={"THREADLINE_DATA_DIR": str(tmp_path / "data")},
    )
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == f"error: cannot reach the server at {base}: [Errno 111] Connection refused\n"


def test_missing_demo_keys_says_how_to_get_them(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["simulate", "--base-url", "http://127.0.0.1:9"], env={"THREADLINE_DATA_DIR": str(tmp_path)}
    )
    assert result.exit_code == 1
    assert result.stderr == (
        f"error: no demo keys in {tmp_path / 'demo-keys.json'}: run `threadline demo` first, "
        "or pass --publisher-key and --event-key\n"
    )


def test_keys_given_as_flags_need_no_keys_file(tmp_path: Path) -> None:
    base = f"http://127.0.0.1:{free_port()}"
    args = ["simulate", "--base-url", base, "--publisher-key", "pk_x", "--event-key", "ek_x"]
    result = CliRunner().invoke(cli, args, env={"THREADLINE_DATA_DIR": str(tmp_path)})
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: cannot reach the server at {base}")  # got past the keys


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--conversations", "0"], "Invalid value for '--conversations'"),
        (["--conversion-rate", "1.5"], "Invalid value for '--conversion-rate'"),
        (["--concurrency", "0"], "Invalid value for '--concurrency'"),
    ],
)
def test_out_of_range_options_are_usage_errors(tmp_path: Path, args: list[str], message: str) -> None:
    result = CliRunner().invoke(cli, ["simulate", *args], env={"THREADLINE_DATA_DIR": str(tmp_path)})
    assert result.exit_code == 2
    assert message in result.stderr
