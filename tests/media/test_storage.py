"""Storage backends: local files (atomic writes) and S3 against a local S3-protocol server (moto)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from threadline.config import Settings
from threadline.media.storage import CHUNK_BYTES, LocalStorage, S3Storage, make_storage

FILE_ID = "uploads/2026/11/" + "a" * 32 + ".png"


def test_local_put_get_delete(tmp_path: Path) -> None:
    store = LocalStorage(tmp_path)
    assert store.get(FILE_ID) is None
    store.put(FILE_ID, b"bytes", "image/png")
    assert store.get(FILE_ID) == b"bytes"
    assert not [p for p in (tmp_path / "uploads/2026/11").iterdir() if p.name.startswith(".tmp")]
    store.delete(FILE_ID)
    assert store.get(FILE_ID) is None


def test_local_put_file_copies_atomically_and_keeps_the_source(tmp_path: Path) -> None:
    store = LocalStorage(tmp_path / "media")
    source = tmp_path / "video.mp4"
    source.write_bytes(os.urandom(3 * 1024 * 1024 + 5))
    store.put_file("threads/v.mp4", source, "video/mp4")
    assert store.get("threads/v.mp4") == source.read_bytes()
    assert source.exists()
    assert [p.name for p in (tmp_path / "media/threads").iterdir()] == ["v.mp4"]
    with pytest.raises(ValueError, match="escapes"):
        store.put_file("../evil", source, "video/mp4")


def test_local_put_file_failure_leaves_no_partial_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = LocalStorage(tmp_path)
    source = tmp_path / "v.mp4"
    source.write_bytes(b"x" * 1000)

    def boom(*_a: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", boom)
    with pytest.raises(OSError, match="disk full"):
        store.put_file("threads/v.mp4", source, "video/mp4")
    assert list((tmp_path / "threads").iterdir()) == []


def _ranges(store: Any, file_id: str, data: bytes) -> None:
    """``size`` and ``read_range`` of any backend: bounded chunks, inclusive ends, clipped at the end."""
    assert store.size(file_id) == len(data)
    assert b"".join(store.read_range(file_id, 0, len(data) - 1)) == data
    assert b"".join(store.read_range(file_id, 10, 19)) == data[10:20]
    assert b"".join(store.read_range(file_id, len(data) - 5, len(data) + 100)) == data[-5:]
    chunks = list(store.read_range(file_id, 0, len(data) - 1))
    assert max(len(c) for c in chunks) <= CHUNK_BYTES
    assert len(chunks) == -(-len(data) // CHUNK_BYTES)
    assert store.size("threads/2026/12/" + "0" * 32 + ".mp4") is None


def test_local_size_and_ranges_stream_in_chunks(tmp_path: Path) -> None:
    store = LocalStorage(tmp_path)
    data = os.urandom(2 * CHUNK_BYTES + 123)
    store.put("threads/v.mp4", data, "video/mp4")
    _ranges(store, "threads/v.mp4", data)
    assert store.size("threads") is None  # a directory is not a file
    assert store.size("../outside") is None


def test_local_refuses_paths_outside_root(tmp_path: Path) -> None:
    store = LocalStorage(tmp_path / "media")
    (tmp_path / "secret").write_text("s")
    assert store.get("../secret") is None
    with pytest.raises(ValueError, match="escapes"):
        store.put("../evil", b"x", "image/png")


def test_local_failed_write_leaves_no_partial_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = LocalStorage(tmp_path)

    def boom(*_a: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", boom)
    with pytest.raises(OSError, match="disk full"):
        store.put(FILE_ID, b"x" * 1000, "image/png")
    assert store.get(FILE_ID) is None
    assert list((tmp_path / "uploads/2026/11").iterdir()) == []


@pytest.fixture
def s3_endpoint() -> Iterator[str]:
    moto_server = pytest.importorskip("moto.server")
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def test_s3_backend_roundtrip(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import boto3

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    client.create_bucket(Bucket="media")
    settings = Settings(
        storage_backend="s3",
        s3_bucket="media",
        s3_endpoint_url=s3_endpoint,
        s3_region="us-east-1",
        s3_prefix="tl",
    )
    store = make_storage(settings)
    assert isinstance(store, S3Storage)
    assert store.get(FILE_ID) is None
    store.put(FILE_ID, b"png-bytes", "image/png")
    assert store.get(FILE_ID) == b"png-bytes"
    head = client.head_object(Bucket="media", Key=f"tl/{FILE_ID}")
    assert head["ContentType"] == "image/png"
    store.delete(FILE_ID)
    assert store.get(FILE_ID) is None
    source = tmp_path / "v.mp4"
    source.write_bytes(b"\x00\x00\x00\x18ftypisom" + os.urandom(1024))
    store.put_file("threads/v.mp4", source, "video/mp4")
    assert store.get("threads/v.mp4") == source.read_bytes()
    assert client.head_object(Bucket="media", Key="tl/threads/v.mp4")["ContentType"] == "video/mp4"
    big = tmp_path / "big.mp4"
    big.write_bytes(os.urandom(2 * CHUNK_BYTES + 7))
    store.put_file("threads/big.mp4", big, "video/mp4")
    _ranges(store, "threads/big.mp4", big.read_bytes())


def test_make_storage_rejects_bad_settings() -> None:
    with pytest.raises(ValueError, match="S3_BUCKET"):
        make_storage(Settings(storage_backend="s3"))
    with pytest.raises(ValueError, match="unknown storage backend"):
        make_storage(Settings(storage_backend="ftp"))
