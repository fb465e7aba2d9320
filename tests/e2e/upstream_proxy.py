"""A fault-injecting HTTP proxy in front of the upstream Threads server of the mirror tests.

``mode``: ``pass`` forwards; ``down`` answers 503 without a Graph body (a load balancer with no
backend); ``graph_error`` answers Graph's transient error (HTTP 500, code 2). ``hold_publish()`` parks
every ``threads_publish`` request until ``release()``: the test can kill the caller while upstream has
not answered yet, then let the publish go through to an upstream that will answer a dead client.
"""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx

TRANSIENT = {
    "error": {
        "message": "An unexpected error has occurred. Please retry your request later.",
        "type": "OAuthException",
        "code": 2,
        "is_transient": True,
        "fbtrace_id": "proxy",
    }
}


@dataclass
class Proxy:
    url: str
    upstream: str
    mode: str = "pass"
    seen: list[str] = field(default_factory=list)
    held: int = 0
    _gate: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._gate.set()

    def hold_publish(self) -> None:
        self._gate.clear()

    def release(self) -> None:
        self._gate.set()

    def calls(self, needle: str) -> int:
        with self.lock:
            return sum(1 for line in self.seen if needle in line)


def _handler(px: Proxy) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _reply(self, status: int, body: bytes, content_type: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _forward(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with px.lock:
                px.seen.append(f"{self.command} {self.path}")
            if px.mode == "down":
                self._reply(503, b"no healthy upstream", "text/plain")
                return
            if px.mode == "graph_error":
                self._reply(500, json.dumps(TRANSIENT).encode())
                return
            if "threads_publish" in self.path and not px._gate.is_set():
                with px.lock:
                    px.held += 1
                px._gate.wait(60)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
            r = httpx.request(
                self.command, px.upstream + self.path, content=body, headers=headers, timeout=30
            )
            self._reply(r.status_code, r.content, r.headers.get("content-type", "application/json"))

        do_GET = do_POST = do_DELETE = _forward

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@contextmanager
def upstream_proxy(upstream: str) -> Iterator[Proxy]:
    px = Proxy(url="", upstream=upstream.rstrip("/"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(px))
    server.daemon_threads = True
    px.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        yield px
    finally:
        px.release()
        server.shutdown()
        server.server_close()
