"""Where media bytes live: the local data directory (default) or an S3-compatible bucket."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from threadline.config import Settings


class MediaStorage(Protocol):
    def put(self, file_id: str, data: bytes, content_type: str) -> None:
        """Store atomically: readers see the whole file or nothing."""

    def put_file(self, file_id: str, source: Path, content_type: str) -> None:
        """``put`` from a file, streamed (a 1 GB video is never held in memory); ``source`` is kept."""

    def get(self, file_id: str) -> bytes | None: ...

    def size(self, file_id: str) -> int | None:
        """Bytes stored under ``file_id``; None when there is no such file."""

    def read_range(self, file_id: str, start: int, end: int) -> Iterator[bytes]:
        """Bytes ``start`` to ``end`` (inclusive) in bounded chunks: serving a video never holds it whole."""

    def delete(self, file_id: str) -> None: ...


CHUNK_BYTES = 1024 * 1024


class LocalStorage:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def _path(self, file_id: str) -> Path:
        path = (self.root / file_id).resolve()
        if not path.is_relative_to(self.root):
            raise ValueError("file id escapes the media root")
        return path

    def _write_atomically(self, file_id: str, write: Callable[[BinaryIO], object]) -> None:
        path = self._path(file_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                write(fh)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)  # atomic on POSIX: never a partial file under the real name
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    def put(self, file_id: str, data: bytes, content_type: str) -> None:
        self._write_atomically(file_id, lambda fh: fh.write(data))

    def put_file(self, file_id: str, source: Path, content_type: str) -> None:
        def copy(fh: BinaryIO) -> None:
            with source.open("rb") as src:
                shutil.copyfileobj(src, fh, 1024 * 1024)

        self._write_atomically(file_id, copy)

    def get(self, file_id: str) -> bytes | None:
        try:
            return self._path(file_id).read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError, ValueError):
            return None

    def size(self, file_id: str) -> int | None:
        try:
            path = self._path(file_id)
            return path.stat().st_size if path.is_file() else None
        except (FileNotFoundError, NotADirectoryError, ValueError):
            return None

    def read_range(self, file_id: str, start: int, end: int) -> Iterator[bytes]:
        with self._path(file_id).open("rb") as fh:
            fh.seek(start)
            left = end - start + 1
            while left > 0:
                chunk = fh.read(min(CHUNK_BYTES, left))
                if not chunk:
                    return
                left -= len(chunk)
                yield chunk

    def delete(self, file_id: str) -> None:
        with contextlib.suppress(FileNotFoundError, ValueError):
            self._path(file_id).unlink()


class S3Storage:
    """S3-compatible object storage (AWS, MinIO, ...). A PUT is atomic: objects appear whole."""

    def __init__(
        self,
        bucket: str,
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        prefix: str = "",
        client: Any = None,
    ) -> None:
        if client is None:
            import boto3  # the `s3` extra

            client = boto3.client("s3", endpoint_url=endpoint_url, region_name=region)
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""

    def put(self, file_id: str, data: bytes, content_type: str) -> None:
        self.client.put_object(
            Bucket=self.bucket, Key=self.prefix + file_id, Body=data, ContentType=content_type
        )

    def put_file(self, file_id: str, source: Path, content_type: str) -> None:
        # boto3's managed transfer: multipart in bounded chunks above its threshold; an object only
        # appears when the last part is committed.
        self.client.upload_file(
            str(source), self.bucket, self.prefix + file_id, ExtraArgs={"ContentType": content_type}
        )

    def get(self, file_id: str) -> bytes | None:
        try:
            obj = self.client.get_object(Bucket=self.bucket, Key=self.prefix + file_id)
        except self.client.exceptions.NoSuchKey:
            return None
        body: bytes = obj["Body"].read()
        return body

    def size(self, file_id: str) -> int | None:
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=self.prefix + file_id)
        except self.client.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        return int(head["ContentLength"])

    def read_range(self, file_id: str, start: int, end: int) -> Iterator[bytes]:
        obj = self.client.get_object(
            Bucket=self.bucket, Key=self.prefix + file_id, Range=f"bytes={start}-{end}"
        )
        body = obj["Body"]
        try:
            yield from body.iter_chunks(CHUNK_BYTES)
        finally:
            body.close()

    def delete(self, file_id: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self.prefix + file_id)


def make_storage(settings: Settings) -> MediaStorage:
    if settings.storage_backend == "s3":
        if not settings.s3_bucket:
            raise ValueError("THREADLINE_S3_BUCKET is required when THREADLINE_STORAGE_BACKEND=s3")
        return S3Storage(
            settings.s3_bucket,
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
            prefix=settings.s3_prefix,
        )
    if settings.storage_backend != "local":
        raise ValueError(f"unknown storage backend {settings.storage_backend!r} (local or s3)")
    return LocalStorage(Path(settings.data_dir) / "media")
