"""A local webhook receiver, as an app's callback server would be: Meta's verification GET, signed POSTs.

It checks ``X-Hub-Signature-256`` itself with the app secret (as a real receiver must) and records every
notification with whether its signature held. ``mode`` switches its behaviour between requests:
``ok`` (200), ``error`` (HTTP 500), ``slow`` (answers after ``slow_seconds``) or ``no-echo`` (verification
answered 200 without the challenge).
"""

from __future__ import annotations

import hashlib
import hmac
import http.server
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Notification:
    body: bytes
    signature: str
    signature_ok: bool
    received_at: float

    @property
    def json(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


@dataclass
class Receiver:
    url: str
    verify_token: str
    app_secret: str = ""
    mode: str = "ok"
    slow_seconds: float = 1.0
    verifications: list[dict[str, str]] = field(default_factory=list)
    notifications: list[Notification] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: http.server.ThreadingHTTPServer | None = None

    def stop(self) -> None:
        """Go down: the port is closed, so deliveries fail to connect."""
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def valid(self) -> list[Notification]:
        with self.lock:
            return [n for n in self.notifications if n.signature_ok]


def _handler(rx: Receiver) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self, status: int, body: bytes = b"") -> None:
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            query = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
            with rx.lock:
                rx.verifications.append(query)
            if rx.mode == "no-echo":
                self._answer(200, b"ok")
            elif query.get("hub.mode") == "subscribe" and query.get("hub.verify_token") == rx.verify_token:
                self._answer(200, query.get("hub.challenge", "").encode())
            else:
                self._answer(403, b"wrong verify token")

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            signature = self.headers.get("X-Hub-Signature-256") or ""
            expected = "sha256=" + hmac.new(rx.app_secret.encode(), body, hashlib.sha256).hexdigest()
            if rx.mode == "slow":
                time.sleep(rx.slow_seconds)
            with rx.lock:
                rx.notifications.append(
                    Notification(body, signature, hmac.compare_digest(signature, expected), time.time())
                )
            self._answer(500 if rx.mode == "error" else 200, b"ok")

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@contextmanager
def receiver_server(verify_token: str = "let-me-in", path: str = "/threads/webhook") -> Iterator[Receiver]:
    rx = Receiver(url="", verify_token=verify_token)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(rx))
    server.daemon_threads = True
    rx.server = server
    rx.url = f"http://127.0.0.1:{server.server_address[1]}{path}"
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        yield rx
    finally:
        rx.stop()
