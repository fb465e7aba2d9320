"""POST /v1/upload and GET /media/<file_id> through the ASGI app."""

from __future__ import annotations

import http.server
import io
import threading
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import func, select

from tests.factories import TestOrg, ctx_of, make_org
from threadline.store.models import Upload

FILE_ID_RE = r"^uploads/\d{4}/\d{2}/[0-9a-f]{32}\.(png|jpg|webp)$"


def image_bytes(fmt: str = "PNG", size: tuple[int, int] = (32, 16)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buf, fmt)
    return buf.getvalue()


@pytest.fixture
def org(app: FastAPI) -> TestOrg:
    return make_org(app)


def err(code: str, param: str | None, status: int = 400) -> tuple[int, str, str | None]:
    return status, code, param


def upload_file(client: TestClient, org: TestOrg, data: bytes, name: str = "x.png", ctype: str = "image/png"):  # type: ignore[no-untyped-def]
    return client.post("/v1/upload", headers=org.headers, files={"file": (name, data, ctype)})


@pytest.mark.parametrize(
    ("fmt", "ext", "ctype"),
    [("PNG", "png", "image/png"), ("JPEG", "jpg", "image/jpeg"), ("WEBP", "webp", "image/webp")],
)
def test_upload_each_format_and_serve_it(
    client: TestClient, org: TestOrg, fmt: str, ext: str, ctype: str
) -> None:
    data = image_bytes(fmt)
    r = upload_file(client, org, data, name="whatever.gif", ctype="application/pdf")
    assert r.status_code == 201
    file_id = r.json()["file_id"]
    assert list(r.json()) == ["file_id"]
    assert file_id.endswith(f".{ext}")
    import re

    assert re.match(FILE_ID_RE, file_id)
    media = client.get(f"/media/{file_id}")
    assert media.status_code == 200
    assert media.content == data
    assert media.headers["content-type"] == ctype
    assert media.headers["cache-control"] == "public, max-age=31536000, immutable"
    etag = media.headers["etag"]
    assert etag.startswith('"')
    assert etag.endswith('"')
    again = client.get(f"/media/{file_id}", headers={"If-None-Match": etag})
    assert again.status_code == 304


def test_upload_records_owner_and_metadata(app: FastAPI, client: TestClient, org: TestOrg) -> None:
    file_id = upload_file(client, org, image_bytes(size=(40, 30))).json()["file_id"]
    with ctx_of(app).db.read() as s:
        row = s.get(Upload, file_id)
        assert row is not None
        assert (row.org_id, row.width, row.height, row.content_type) == (org.id, 40, 30, "image/png")


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "invalid_file"),
        (b"not an image at all", "invalid_file"),
        (image_bytes()[:40], "invalid_file"),
        (image_bytes("GIF"), "unsupported_mimetype"),
        (b"x" * (5 * 1024 * 1024 + 1), "file_too_large"),
    ],
)
def test_upload_rejects_bad_files(client: TestClient, org: TestOrg, data: bytes, code: str) -> None:
    r = upload_file(client, org, data)
    assert r.status_code == 400
    body = r.json()["error"]
    assert (body["type"], body["code"]) == ("invalid_request_error", code)


def test_neither_file_nor_url_is_invalid_value(client: TestClient, org: TestOrg) -> None:
    for kwargs in (
        {"json": {}},
        {"content": b""},
        {"data": {"other": "x"}},
        {"content": b"abc", "headers": {"Content-Type": "text/plain"}},
    ):
        headers = {**org.headers, **kwargs.pop("headers", {})}  # type: ignore[dict-item]
        r = client.post("/v1/upload", headers=headers, **kwargs)  # type: ignore[arg-type]
        assert r.status_code == 400, kwargs
        assert r.json()["error"]["code"] in {"invalid_value", "unknown_param"}
    r = client.post("/v1/upload", headers=org.headers, json={})
    assert r.json() == {
        "error": {
            "message": "Send a multipart `file` part or a JSON `image_url`.",
            "type": "invalid_request_error",
            "param": None,
            "code": "invalid_value",
        }
    }


def test_json_unknown_field_and_bad_json(client: TestClient, org: TestOrg) -> None:
    r = client.post(
        "/v1/upload", headers=org.headers, json={"image_url": "https://example.com/a.png", "x": 1}
    )
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "unknown_param"
    r = client.post(
        "/v1/upload", headers={**org.headers, "Content-Type": "application/json"}, content=b"{nope"
    )
    assert r.json()["error"]["code"] == "invalid_json"
    r = client.post("/v1/upload", headers=org.headers, json={"image_url": ""})
    assert r.json()["error"]["code"] == "invalid_image_url"
    r = client.post("/v1/upload", headers=org.headers, json={"image_url": 5})
    assert r.json()["error"]["code"] == "invalid_image_url"


def test_both_file_and_url_is_invalid_value(client: TestClient, org: TestOrg) -> None:
    r = client.post(
        "/v1/upload",
        headers=org.headers,
        files={"file": ("x.png", image_bytes(), "image/png")},
        data={"image_url": "https://example.com/x.png"},
    )
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "invalid_value"


def test_upload_requires_auth(client: TestClient) -> None:
    r = client.post("/v1/upload", files={"file": ("x.png", image_bytes(), "image/png")})
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "auth_required"


class _ImageHandler(http.server.BaseHTTPRequestHandler):
    payloads: dict[str, tuple[int, bytes, dict[str, str]]] = {}

    def do_GET(self) -> None:
        status, body, headers = self.payloads.get(self.path, (404, b"missing", {}))
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def image_server() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _ImageHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_upload_by_url_from_allow_listed_host(client: TestClient, org: TestOrg, image_server: str) -> None:
    data = image_bytes("JPEG")
    _ImageHandler.payloads = {
        "/ok.jpg": (200, data, {"Content-Type": "image/png"}),
        "/moved": (302, b"", {"Location": "http://169.254.169.254/"}),
        "/gone": (404, b"", {}),
        "/gif": (200, image_bytes("GIF"), {}),
    }
    r = client.post("/v1/upload", headers=org.headers, json={"image_url": f"{image_server}/ok.jpg"})
    assert r.status_code == 201
    assert r.json()["file_id"].endswith(".jpg")
    assert client.get(f"/media/{r.json()['file_id']}").content == data
    cases = {"/moved": "too_many_redirects", "/gone": "image_fetch_failed", "/gif": "unsupported_mimetype"}
    for path, code in cases.items():
        r = client.post("/v1/upload", headers=org.headers, json={"image_url": f"{image_server}{path}"})
        assert (r.status_code, r.json()["error"]["code"]) == (400, code), path


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.1/x.png",
        "http://[::1]/x.png",
        "file:///etc/passwd",
        "ftp://example.com/x",
        "/relative.png",
        "http://user@127.0.0.2/x",
    ],
)
def test_upload_by_url_ssrf_refused(client: TestClient, org: TestOrg, url: str) -> None:
    r = client.post("/v1/upload", headers=org.headers, json={"image_url": url})
    assert r.status_code == 400
    assert r.json()["error"] == {
        "message": r.json()["error"]["message"],
        "type": "invalid_request_error",
        "param": "image_url",
        "code": "invalid_image_url",
    }


@pytest.mark.parametrize(
    "path",
    [
        "uploads/2026/01/" + "0" * 32 + ".png",
        "../secret-key",
        "uploads/../../secret-key",
        "uploads/2026/01/x.png",
        "nope",
    ],
)
def test_media_unknown_or_traversal_is_404(client: TestClient, path: str) -> None:
    r = client.get(f"/media/{path}")
    assert r.status_code == 404


def test_failed_upload_leaves_no_row(app: FastAPI, client: TestClient, org: TestOrg) -> None:
    upload_file(client, org, b"garbage")
    with ctx_of(app).db.read() as s:
        assert s.execute(select(func.count()).select_from(Upload)).scalar() == 0


def test_media_is_streamed_with_byte_ranges(app: FastAPI, client: TestClient) -> None:
    """Video players ask for ranges (Safari always does); the answer streams from the storage."""
    data = bytes(range(256)) * 40
    file_id = "threads/2026/12/" + "b" * 32 + ".mp4"
    ctx_of(app).media_storage.put(file_id, data, "video/mp4")
    full = client.get(f"/media/{file_id}")
    assert full.status_code == 200
    assert full.content == data
    assert (full.headers["content-type"], full.headers["accept-ranges"]) == ("video/mp4", "bytes")
    assert full.headers["content-length"] == str(len(data))
    for header, start, end in (
        ("bytes=0-99", 0, 99),
        ("bytes=100-", 100, len(data) - 1),
        ("bytes=-10", len(data) - 10, len(data) - 1),
        ("bytes=10000-99999", 10000, len(data) - 1),
    ):
        part = client.get(f"/media/{file_id}", headers={"Range": header})
        assert part.status_code == 206, header
        assert part.content == data[start : end + 1]
        assert part.headers["content-range"] == f"bytes {start}-{end}/{len(data)}"
        assert part.headers["content-length"] == str(end - start + 1)
    for ignored in ("bytes=0-1,5-9", "items=0-5", "bytes=-", "nonsense"):
        assert client.get(f"/media/{file_id}", headers={"Range": ignored}).content == data
    for unsatisfiable in ("bytes=10240-", "bytes=20000-30000", "bytes=50-10"):
        r = client.get(f"/media/{file_id}", headers={"Range": unsatisfiable})
        assert r.status_code == 416, unsatisfiable
        assert r.headers["content-range"] == f"bytes */{len(data)}"
    etag = full.headers["etag"]
    assert (
        client.get(f"/media/{file_id}", headers={"If-None-Match": etag, "Range": "bytes=0-1"}).status_code
        == 304
    )
