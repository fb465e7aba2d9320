"""``<data dir>/demo-keys.json``: the demo's plain keys (the store keeps only hashes), mode 0600."""

from __future__ import annotations

import json
import os
from pathlib import Path

KEYS_FILE = "demo-keys.json"
KEY_NAMES = ("advertiser_key", "event_key", "publisher_key")


def read_keys(path: Path, org_id: str, publisher_id: str) -> dict[str, str] | None:
    """The plain keys, if the file is there, readable and about this org and publisher."""
    try:
        raw = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(raw, dict) or (raw.get("org_id"), raw.get("publisher_id")) != (org_id, publisher_id):
        return None
    if not all(isinstance(raw.get(n), str) for n in KEY_NAMES):
        return None
    return {n: raw[n] for n in KEY_NAMES}


def write_keys(path: Path, org_id: str, publisher_id: str, plain: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump({"org_id": org_id, "publisher_id": publisher_id, **plain}, fh, indent=2)
        fh.write("\n")
    os.replace(tmp, path)


def read_extra(path: Path) -> dict[str, str]:
    """Every string value of the file (the dashboard sign-ins live beside the keys)."""
    try:
        raw = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return {k: v for k, v in raw.items() if isinstance(v, str)} if isinstance(raw, dict) else {}


def merge_keys(path: Path, values: dict[str, str]) -> None:
    """Add or replace some values of the file, keeping the rest (mode 0600, atomic)."""
    current: dict[str, str] = read_extra(path)
    current.update(values)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(current, fh, indent=2)
        fh.write("\n")
    os.replace(tmp, path)
