"""A local stand-in for TikTok's Marketing API v1.3 image upload (``POST /file/image/ad/upload/``).

It speaks the documented protocol: ``Access-Token`` header, JSON body with ``advertiser_id``,
``upload_type=UPLOAD_BY_URL``, ``image_url`` and ``file_name`` (unique per advertiser), and answers
HTTP 200 with the ``{code, message, request_id, data}`` envelope (``code: 0`` on success). Faults are
chosen by the image URL, so one call can mix successes and failures:

- ``.../slow...``: answers after ``slow_seconds`` (longer than the client's timeout)
- ``.../http500...``: HTTP 500 with an HTML body
- ``.../garbage...``: HTTP 200 with a body that is not JSON
- ``.../throttle...``: envelope code 40100 (too many requests)
- ``.../notfound...``: envelope code 40002 (the URL could not be downloaded)
- ``.../big...``: success, but a 12 MB image
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

UPLOAD = "/open_api/v1.3/file/image/ad/upload/"


@dataclass
class Recorded:
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class TikTokStub:
    tokens: dict[str, set[str]] = field(default_factory=dict)  # access token -> advertiser ids it may use
    slow_seconds: float = 2.0
    requests: list[Recorded] = field(default_factory=list)
    _names: set[tuple[str, str]] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/open_api/v1.3"

    def __enter__(self) -> TikTokStub:
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _answer(self, headers: dict[str, str], raw: bytes) -> tuple[int, bytes, float]:
        def envelope(code: int, message: str, data: dict[str, Any] | None = None) -> bytes:
            return json.dumps(
                {"code": code, "message": message, "request_id": secrets.token_hex(8), "data": data or {}}
            ).encode()

        try:
            body = json.loads(raw)
        except ValueError:
            return 200, envelope(40002, "Invalid JSON body"), 0
        with self._lock:
            self.requests.append(Recorded(headers, body))
        token = headers.get("access-token")
        if token is None:
            return 200, envelope(40104, "Access token is null"), 0
        allowed = self.tokens.get(token)
        if allowed is None:
            return 200, envelope(40105, "Access token is incorrect or has been revoked."), 0
        advertiser = str(body.get("advertiser_id"))
        if advertiser not in allowed:
            return 200, envelope(40001, "No permission to operate advertiser"), 0
        if body.get("upload_type") != "UPLOAD_BY_URL" or not isinstance(body.get("image_url"), str):
            return 200, envelope(40002, "upload_type/image_url invalid"), 0
        url: str = body["image_url"]
        name = str(body.get("file_name") or "")
        with self._lock:
            if (advertiser, name) in self._names:
                return 200, envelope(40911, "Duplicated material name."), 0
            self._names.add((advertiser, name))
        if "slow" in url:
            return 200, envelope(0, "OK", {"image_id": "late"}), self.slow_seconds
        if "http500" in url:
            return 500, b"<html>Internal Server Error</html>", 0
        if "garbage" in url:
            return 200, b"{not json", 0
        if "throttle" in url:
            return 200, envelope(40100, "Too many requests. Please retry later."), 0
        if "notfound" in url:
            return 200, envelope(40002, "Image download failed: the URL returned 404."), 0
        image_id = "ad-site-i18n-sg/" + secrets.token_hex(10)
        size = 12 * 1024 * 1024 if "big" in url else 73398
        fmt = "png" if url.endswith(".png") else "jpeg"
        return (
            200,
            envelope(
                0,
                "OK",
                {
                    "image_id": image_id,
                    "material_id": str(7000000000000 + len(self.requests)),
                    "is_carousel_usable": True,
                    "width": 1080,
                    "height": 1920,
                    "format": fmt,
                    "image_url": "https://p16-sign.tiktokcdn.example/" + image_id,
                    "signature": secrets.token_hex(16),
                    "size": size,
                    "file_name": name,
                },
            ),
            0,
        )

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length)
                if self.path != UPLOAD:
                    status, payload, delay = 404, b'{"code":40400,"message":"not found"}', 0.0
                else:
                    headers = {k.lower(): v for k, v in self.headers.items()}
                    status, payload, delay = stub._answer(headers, raw)
                if delay:
                    time.sleep(delay)  # a slow upstream: the client's timeout must fire first
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler
