"""SSRF-guarded fetcher. No test touches the network: servers listen on 127.0.0.1, names come from a
stub resolver, and an autouse spy refuses to dial anything outside 127.0.0.0/8."""

from __future__ import annotations

import asyncio
import gzip
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpcore
import pytest

from threadline.kit import http_fetch
from threadline.kit.http_fetch import (
    FetchedFile,
    FetchError,
    FetchPolicy,
    FetchResult,
    fetch,
    fetch_to_file,
    is_public_address,
    system_resolver,
)

pytestmark = pytest.mark.anyio

PNG_BODY = b"\x89PNG\r\n\x1a\n" + b"not really decoded here"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


# ----------------------------------------------------------------------------- test doubles


class StubResolver:
    """Answers from a table; a list of answers per host is served one lookup at a time."""

    def __init__(self, table: dict[str, Sequence[str] | Sequence[Sequence[str]] | BaseException]) -> None:
        self.table = table
        self.calls: list[tuple[str, int]] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append((host, port))
        answer = self.table.get(host)
        if answer is None:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        if isinstance(answer, BaseException):
            raise answer
        if answer and not isinstance(answer[0], str):
            rounds: Sequence[Sequence[str]] = answer  # type: ignore[assignment]
            return list(rounds[min(len(self.calls), len(rounds)) - 1])
        return [str(a) for a in answer]


class CountingStream(httpcore.AsyncNetworkStream):
    def __init__(self, inner: httpcore.AsyncNetworkStream, spy: DialSpy) -> None:
        self._inner = inner
        self._spy = spy

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        data = await self._inner.read(max_bytes, timeout)
        self._spy.bytes_read += len(data)
        return data

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._inner.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.AsyncNetworkStream:
        self._spy.tls_server_hostnames.append(server_hostname)
        return CountingStream(await self._inner.start_tls(ssl_context, server_hostname, timeout), self._spy)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


@dataclass
class DialSpy:
    calls: list[tuple[str, int]] = field(default_factory=list)
    bytes_read: int = 0
    tls_server_hostnames: list[str | None] = field(default_factory=list)


@pytest.fixture(autouse=True)
def dials(monkeypatch: pytest.MonkeyPatch) -> DialSpy:
    spy = DialSpy()
    original = http_fetch._PinnedBackend._dial

    async def spy_dial(
        self: http_fetch._PinnedBackend,
        ip: str,
        port: int,
        timeout: float | None,
        local_address: str | None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None,
    ) -> httpcore.AsyncNetworkStream:
        spy.calls.append((ip, port))
        if not ip.startswith("127."):
            # Stands in for "unreachable" so a test can never reach a real network.
            raise OSError("test network is loopback only")
        stream = await original(self, ip, port, timeout, local_address, socket_options)
        return CountingStream(stream, spy)

    monkeypatch.setattr(http_fetch._PinnedBackend, "_dial", spy_dial)
    return spy


@pytest.fixture
def no_system_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args: object, **kwargs: object) -> Any:
        raise AssertionError(f"unexpected system DNS lookup {args!r}")

    monkeypatch.setattr(socket, "getaddrinfo", boom)


Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, "LocalServer"], Awaitable[None]]


@dataclass
class LocalServer:
    port: int
    accepts: int = 0
    requests: list[bytes] = field(default_factory=list)
    sni: list[str | None] = field(default_factory=list)

    def head(self, index: int = 0) -> tuple[str, dict[str, str]]:
        lines = self.requests[index].decode("latin-1").split("\r\n")
        headers = {}
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        return lines[0], headers


def response(status: int, body: bytes = b"", headers: Sequence[tuple[str, str]] = ()) -> bytes:
    head = [f"HTTP/1.1 {status} X"]
    names = {n.lower() for n, _ in headers}
    if "content-length" not in names and "transfer-encoding" not in names:
        head.append(f"Content-Length: {len(body)}")
    head += [f"{n}: {v}" for n, v in headers]
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


def replying(raw: bytes) -> Handler:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, srv: LocalServer) -> None:
        srv.requests.append(await reader.readuntil(b"\r\n\r\n"))
        writer.write(raw)
        await writer.drain()

    return handler


def streaming(head: bytes, piece: bytes, pause: float = 0.0) -> Handler:
    """Answers ``head`` then ``piece`` over and over, ``pause`` seconds apart, until disconnected."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, srv: LocalServer) -> None:
        srv.requests.append(await reader.readuntil(b"\r\n\r\n"))
        writer.write(head)
        while True:
            writer.write(piece)
            await writer.drain()
            if pause:
                await asyncio.sleep(pause)

    return handler


@asynccontextmanager
async def serve(handler: Handler, ssl_ctx: ssl.SSLContext | None = None) -> AsyncIterator[LocalServer]:
    tasks: set[asyncio.Task[None]] = set()
    state = LocalServer(port=0)

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        tasks.add(task)  # type: ignore[arg-type]
        state.accepts += 1
        try:
            await handler(reader, writer, state)
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0, ssl=ssl_ctx)
    state.port = server.sockets[0].getsockname()[1]
    try:
        yield state
    finally:
        server.close()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()


@pytest.fixture
async def trap() -> AsyncIterator[LocalServer]:
    """A loopback listener that must never see a connection from a refused fetch."""
    async with serve(replying(response(200, PNG_BODY, [("Content-Type", "image/png")]))) as srv:
        yield srv


LOCAL = FetchPolicy(allow_private_hosts=frozenset({"images.test"}), connect_timeout=1.0, total_timeout=2.0)
LOCAL_RESOLVER_TABLE: dict[str, Sequence[str] | Sequence[Sequence[str]] | BaseException] = {
    "images.test": ["127.0.0.1"]
}


async def fetch_error(
    url: str, policy: FetchPolicy = LOCAL, resolver: StubResolver | None = None
) -> FetchError:
    with pytest.raises(FetchError) as info:
        await fetch(url, policy, resolver or StubResolver({}))
    assert info.value.message
    return info.value


# ----------------------------------------------------------------------------- is_public_address


@pytest.mark.parametrize(
    "ip",
    [
        "8.8.8.8",
        "93.184.216.34",
        "1.1.1.1",
        "2606:4700:4700::1111",
        "2a00:1450:4001:80b::200e",
        "::ffff:8.8.8.8",  # mapped/NAT64/6to4 are judged by the IPv4 they reach
        "64:ff9b::808:808",
        "2002:808:808::1",
    ],
)
def test_public_addresses(ip: str) -> None:
    assert is_public_address(ip)


@pytest.mark.parametrize(
    "ip",
    [
        "127.0.0.1",
        "127.255.255.254",
        "0.0.0.0",
        "0.1.2.3",
        "10.0.0.1",
        "172.16.0.1",
        "172.31.255.255",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "100.127.255.255",
        "198.18.0.1",
        "198.19.255.255",
        "192.0.0.1",
        "192.0.2.1",
        "224.0.0.1",
        "239.255.255.250",
        "240.0.0.1",
        "255.255.255.255",
        "::",
        "::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "::ffff:169.254.169.254",
        "::127.0.0.1",
        "::8.8.8.8",  # deprecated IPv4-compatible form: refused outright
        "64:ff9b::7f00:1",
        "64:ff9b::a9fe:a9fe",
        "64:ff9b:1::808:808",
        "2002:7f00:1::1",
        "2002:a9fe:a9fe::1",
        "fc00::1",
        "fd12:3456::1",
        "fe80::1",
        "fe80::1%1",
        "fec0::1",
        "ff02::1",
        "ff0e::1",
        "2001:db8::1",
        "2001::1",
        "100::1",
        "not-an-ip",
        "",
        "127.1",
        "2130706433",
    ],
)
def test_non_public_addresses(ip: str) -> None:
    assert not is_public_address(ip)


# ----------------------------------------------------------------------------- refusals before connecting


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "127.1",
        "127.0.1",
        "2130706433",
        "0x7f.1",
        "0x7f000001",
        "0177.0.0.1",
        "0177.1",
        "127.0.0.1.",
        "0.0.0.0",
        "0",
        "[::1]",
        "[::]",
        "[::ffff:127.0.0.1]",
        "[::ffff:7f00:1]",
        "[::127.0.0.1]",
        "10.0.0.1",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "0xa9fea9fe",
        "100.64.0.1",
        "198.18.0.1",
        "192.0.0.1",
        "224.0.0.1",
        "255.255.255.255",
        "[fc00::1]",
        "[fe80::1]",
        "[64:ff9b::7f00:1]",
        "[64:ff9b::a9fe:a9fe]",
        "[2002:7f00:1::1]",
        "[ff02::1]",
    ],
)
async def test_non_public_ip_literals_are_refused_before_any_connection(
    host: str, trap: LocalServer, dials: DialSpy
) -> None:
    resolver = StubResolver({})
    err = await fetch_error(f"http://{host}:{trap.port}/x.png", FetchPolicy(), resolver)
    assert err.code == "invalid_image_url"
    assert resolver.calls == []  # literals never reach DNS, odd spellings included
    assert dials.calls == []
    assert trap.accepts == 0


@pytest.mark.parametrize(
    ("host", "answers"),
    [
        ("mixed.test", ["93.184.216.34", "10.0.0.1"]),
        ("mixed-v6.test", ["2606:4700:4700::1111", "::1"]),
        ("private.test", ["192.168.1.1"]),
        ("metadata.test", ["169.254.169.254"]),
        ("mapped.test", ["::ffff:127.0.0.1"]),
        ("nat64.test", ["64:ff9b::a9fe:a9fe"]),
        ("ula.test", ["fd00::1"]),
        ("localhost", ["127.0.0.1", "::1"]),
        ("empty.test", []),
        ("bogus.test", ["not-an-address"]),
        ("nx.test", socket.gaierror(socket.EAI_NONAME, "Name or service not known")),
        ("oserror.test", OSError("resolver down")),
    ],
)
async def test_names_resolving_to_non_public_or_nothing_are_refused(
    host: str, answers: Sequence[str] | BaseException, trap: LocalServer, dials: DialSpy
) -> None:
    resolver = StubResolver({host: answers})
    err = await fetch_error(f"https://{host}:{trap.port}/img.png", FetchPolicy(), resolver)
    assert err.code == "invalid_image_url"
    assert resolver.calls == [(host, trap.port)]
    assert dials.calls == []
    assert trap.accepts == 0


@pytest.mark.parametrize(
    "url",
    [
        "",
        "/relative/path.png",
        "img.png",
        "//images.test/img.png",
        "file:///etc/passwd",
        "file://localhost/etc/passwd",
        "gopher://127.0.0.1:70/_GET%20/",
        "ftp://images.test/img.png",
        "dict://127.0.0.1:11211/stats",
        "javascript:alert(1)",
        "data:image/png;base64,iVBORw0KGgo=",
        "http://",
        "http:///img.png",
        "http://:80/img.png",
        "http://public@127.0.0.1/",
        "http://images.test@127.0.0.1/",
        "http://user:pass@images.test/img.png",
        "http://@images.test/img.png",
        "http://images.test\\@127.0.0.1/",
        "http://images.test\t/img.png",
        " http://images.test/img.png",
        "http://images.test /img.png",
        "http://ima ges.test/img.png",
        "http://images.test:99999/img.png",
        "http://images.test:0/img.png",
        "http://images.test:8o/img.png",
        "http://images.test:80:81/img.png",
        "http://[::1/img.png",
        "http://[::1]x/img.png",
        "http://[fe80::1%25eth0]/img.png",
        "http://[not-v6]/img.png",
        "http://256.0.0.1/img.png",
        "http://1.2.3.4.5/img.png",
        "http://0x100000000/img.png",
        "http://08.0.0.1/img.png",
        "http://-images.test/img.png",
        "http://images..test/img.png",
        "http://" + "a" * 64 + ".test/img.png",
        "http://images.test/" + "a" * 5000,
    ],
)
async def test_malformed_or_forbidden_urls_are_refused_before_resolving(url: str, dials: DialSpy) -> None:
    resolver = StubResolver(LOCAL_RESOLVER_TABLE)
    err = await fetch_error(url, LOCAL, resolver)
    assert err.code == "invalid_image_url"
    assert resolver.calls == []
    assert dials.calls == []


async def test_allow_list_is_per_name(trap: LocalServer, dials: DialSpy) -> None:
    resolver = StubResolver({"images.test": ["127.0.0.1"], "other.test": ["127.0.0.1"]})
    for url in (f"http://other.test:{trap.port}/", f"http://127.0.0.1:{trap.port}/"):
        assert (await fetch_error(url, LOCAL, resolver)).code == "invalid_image_url"
    assert dials.calls == []
    assert trap.accepts == 0


async def test_default_resolver_refuses_localhost(trap: LocalServer, dials: DialSpy) -> None:
    with pytest.raises(FetchError) as info:
        await fetch(f"http://localhost:{trap.port}/", FetchPolicy())
    assert info.value.code == "invalid_image_url"
    assert dials.calls == []
    assert trap.accepts == 0


async def test_system_resolver_returns_unique_ips() -> None:
    assert await system_resolver("127.0.0.1", 80) == ["127.0.0.1"]
    answers = await system_resolver("localhost", 80)
    assert answers
    assert len(answers) == len(set(answers))
    assert all(not is_public_address(a) for a in answers)


# ----------------------------------------------------------------------------- DNS rebinding / pinning


async def test_rebinding_resolver_is_asked_once_and_the_checked_ip_is_dialled(
    trap: LocalServer, dials: DialSpy
) -> None:
    # Public on the first lookup, loopback on any later one. Only the first answer may be used.
    resolver = StubResolver({"rebind.test": [["93.184.216.34"], ["127.0.0.1"]]})
    err = await fetch_error(f"http://rebind.test:{trap.port}/img.png", FetchPolicy(total_timeout=2), resolver)
    assert err.code == "image_fetch_failed"  # the stub network cannot reach the public address
    assert resolver.calls == [("rebind.test", trap.port)]
    assert dials.calls == [("93.184.216.34", trap.port)]
    assert trap.accepts == 0


async def test_pinned_connection_succeeds_with_one_lookup(no_system_dns: None, dials: DialSpy) -> None:
    async with serve(replying(response(200, PNG_BODY, [("Content-Type", "image/png")]))) as srv:
        # A second lookup would get 127.0.0.2, where nothing listens (the server binds 127.0.0.1).
        resolver = StubResolver({"images.test": [["127.0.0.1"], ["127.0.0.2"]]})
        result = await fetch(f"http://images.test:{srv.port}/a/img.png?v=1", LOCAL, resolver)
    assert result == FetchResult(status=200, content_type="image/png", body=PNG_BODY)
    assert resolver.calls == [("images.test", srv.port)]
    assert dials.calls == [("127.0.0.1", srv.port)]
    request_line, headers = srv.head()
    assert request_line == "GET /a/img.png?v=1 HTTP/1.1"
    assert headers["host"] == f"images.test:{srv.port}"
    assert headers["accept-encoding"] == "identity"


async def test_falls_back_across_checked_addresses_only(dials: DialSpy) -> None:
    async with serve(replying(response(200, PNG_BODY))) as srv:
        resolver = StubResolver({"images.test": ["127.0.0.2", "127.0.0.1"]})
        result = await fetch(f"http://images.test:{srv.port}/", LOCAL, resolver)
    assert result.body == PNG_BODY
    assert dials.calls == [("127.0.0.2", srv.port), ("127.0.0.1", srv.port)]


async def test_allow_listed_ip_literal_and_url_normalisation(no_system_dns: None) -> None:
    async with serve(replying(response(200, PNG_BODY))) as srv:
        policy = FetchPolicy(allow_private_hosts=frozenset({"127.0.0.1"}), total_timeout=2)
        resolver = StubResolver({})
        result = await fetch(
            f"HTTP://127.0.0.1:{srv.port}/dir/a%20b/é.png?q=x|y&r=<z>#frag", policy, resolver
        )
    assert result.body == PNG_BODY
    assert resolver.calls == []
    request_line, headers = srv.head()
    assert request_line == "GET /dir/a%20b/%C3%A9.png?q=x%7Cy&r=%3Cz%3E HTTP/1.1"
    assert headers["host"] == f"127.0.0.1:{srv.port}"


async def test_hostname_case_is_normalised(dials: DialSpy) -> None:
    async with serve(replying(response(200, PNG_BODY))) as srv:
        resolver = StubResolver(LOCAL_RESOLVER_TABLE)
        await fetch(f"http://IMAGES.Test.:{srv.port}/", LOCAL, resolver)
    assert resolver.calls == [("images.test", srv.port)]
    assert srv.head()[1]["host"] == f"images.test:{srv.port}"


# ----------------------------------------------------------------------------- responses


@pytest.mark.parametrize("status", [300, 301, 302, 303, 304, 307, 308])
async def test_redirects_are_never_followed(status: int, dials: DialSpy) -> None:
    raw = response(status, headers=[("Location", "http://169.254.169.254/latest/meta-data/")])
    async with serve(replying(raw)) as srv:
        err = await fetch_error(
            f"http://images.test:{srv.port}/img.png", LOCAL, StubResolver(LOCAL_RESOLVER_TABLE)
        )
    assert err.code == "too_many_redirects"
    assert srv.accepts == 1
    assert dials.calls == [("127.0.0.1", srv.port)]


async def test_redirect_to_a_private_url_from_an_allow_listed_host() -> None:
    async with serve(replying(b"")) as target:
        location = f"http://127.0.0.1:{target.port}/secret"
        async with serve(replying(response(302, headers=[("Location", location)]))) as srv:
            err = await fetch_error(
                f"http://images.test:{srv.port}/img.png", LOCAL, StubResolver(LOCAL_RESOLVER_TABLE)
            )
        assert err.code == "too_many_redirects"
        assert target.accepts == 0


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410, 429, 500, 502, 503])
async def test_error_statuses_fail(status: int) -> None:
    async with serve(replying(response(status, b"nope"))) as srv:
        err = await fetch_error(f"http://images.test:{srv.port}/", LOCAL, StubResolver(LOCAL_RESOLVER_TABLE))
    assert err.code == "image_fetch_failed"
    assert str(status) in err.message


async def test_connection_refused_fails() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    err = await fetch_error(f"http://images.test:{port}/", LOCAL, StubResolver(LOCAL_RESOLVER_TABLE))
    assert err.code == "image_fetch_failed"


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b"", id="closed-without-reply"),
        pytest.param(b"SSH-2.0-OpenSSH_9.6\r\n", id="not-http"),
        pytest.param(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort", id="body-cut-short"),
    ],
)
async def test_broken_servers_fail(raw: bytes) -> None:
    async with serve(replying(raw)) as srv:
        err = await fetch_error(f"http://images.test:{srv.port}/", LOCAL, StubResolver(LOCAL_RESOLVER_TABLE))
    assert err.code == "image_fetch_failed"


async def test_content_encoding_is_not_decoded() -> None:
    compressed = gzip.compress(b"\x00" * 100_000)
    raw = response(200, compressed, [("Content-Encoding", "gzip"), ("Content-Type", "image/png")])
    async with serve(replying(raw)) as srv:
        result = await fetch(f"http://images.test:{srv.port}/", LOCAL, StubResolver(LOCAL_RESOLVER_TABLE))
    assert result.body == compressed


async def test_chunked_body_is_assembled() -> None:
    raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
    async with serve(replying(raw)) as srv:
        result = await fetch(f"http://images.test:{srv.port}/", LOCAL, StubResolver(LOCAL_RESOLVER_TABLE))
    assert (result.status, result.content_type, result.body) == (200, None, b"abcde")


# ----------------------------------------------------------------------------- time limits

FAST = FetchPolicy(allow_private_hosts=frozenset({"images.test"}), connect_timeout=0.5, total_timeout=0.5)


async def _assert_times_out(handler: Handler) -> None:
    async with serve(handler) as srv:
        start = time.monotonic()
        err = await fetch_error(f"http://images.test:{srv.port}/", FAST, StubResolver(LOCAL_RESOLVER_TABLE))
        elapsed = time.monotonic() - start
    assert err.code == "image_fetch_failed"
    assert 0.4 <= elapsed < 1.5


async def test_slow_headers_hit_the_total_deadline() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, srv: LocalServer) -> None:
        await reader.readuntil(b"\r\n\r\n")
        await asyncio.sleep(10)

    await _assert_times_out(handler)


async def test_trickled_headers_hit_the_total_deadline() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, srv: LocalServer) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\n")
        for _ in range(100):
            writer.write(b"X-Slow: 1\r\n")
            await writer.drain()
            await asyncio.sleep(0.1)

    await _assert_times_out(handler)


async def test_trickled_body_hits_the_total_deadline() -> None:
    # Each byte arrives well inside any per-read timeout; only the overall deadline can stop it.
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, srv: LocalServer) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
        for _ in range(1000):
            writer.write(b"x")
            await writer.drain()
            await asyncio.sleep(0.05)

    await _assert_times_out(handler)


async def test_slow_resolver_hits_the_total_deadline(dials: DialSpy) -> None:
    class SlowResolver(StubResolver):
        async def __call__(self, host: str, port: int) -> list[str]:
            await asyncio.sleep(10)
            return ["127.0.0.1"]

    start = time.monotonic()
    err = await fetch_error("http://images.test/", FAST, SlowResolver({}))
    assert err.code == "image_fetch_failed"
    assert time.monotonic() - start < 1.5
    assert dials.calls == []


# ----------------------------------------------------------------------------- size limit

CHUNKED_1001 = (
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    + (b"1f4\r\n" + b"x" * 500 + b"\r\n")
    + (b"1f5\r\n" + b"x" * 501 + b"\r\n")
    + b"0\r\n\r\n"
)
SMALL = FetchPolicy(allow_private_hosts=frozenset({"images.test"}), total_timeout=5, max_bytes=1000)


async def test_body_of_exactly_max_bytes_is_accepted() -> None:
    async with serve(replying(response(200, b"x" * 1000))) as srv:
        result = await fetch(f"http://images.test:{srv.port}/", SMALL, StubResolver(LOCAL_RESOLVER_TABLE))
    assert len(result.body) == 1000


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(response(200, b"x" * 1001), id="content-length"),
        pytest.param(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + b"x" * 1001, id="until-close"),
        pytest.param(CHUNKED_1001, id="chunked"),
    ],
)
async def test_one_byte_over_is_too_large(raw: bytes) -> None:
    async with serve(replying(raw)) as srv:
        err = await fetch_error(f"http://images.test:{srv.port}/", SMALL, StubResolver(LOCAL_RESOLVER_TABLE))
    assert err.code == "file_too_large"


async def test_declared_length_over_limit_is_refused_before_reading_the_body(dials: DialSpy) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, srv: LocalServer) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10000000000\r\n\r\n")
        await writer.drain()
        await asyncio.sleep(10)  # never sends the body: the client must not wait for it

    async with serve(handler) as srv:
        start = time.monotonic()
        err = await fetch_error(f"http://images.test:{srv.port}/", SMALL, StubResolver(LOCAL_RESOLVER_TABLE))
    assert err.code == "file_too_large"
    assert time.monotonic() - start < 1.0


async def test_endless_body_is_cut_off_after_max_bytes_plus_one_read(dials: DialSpy) -> None:
    max_bytes = 256 * 1024

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, srv: LocalServer) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\n\r\n")
        chunk = b"\x00" * 65536
        while True:
            writer.write(chunk)
            await writer.drain()

    policy = FetchPolicy(allow_private_hosts=frozenset({"images.test"}), total_timeout=5, max_bytes=max_bytes)
    async with serve(handler) as srv:
        start = time.monotonic()
        err = await fetch_error(f"http://images.test:{srv.port}/", policy, StubResolver(LOCAL_RESOLVER_TABLE))
    assert err.code == "file_too_large"
    assert time.monotonic() - start < 2.0
    # httpcore reads at most 64 KiB per call: at most one read beyond the limit (plus the head).
    assert dials.bytes_read <= max_bytes + 64 * 1024 + 1024


# ----------------------------------------------------------------------------- TLS keeps the hostname


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl CLI not available to mint a test certificate")
    d = tmp_path_factory.mktemp("tls")
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-keyout", str(key), "-out", str(cert), "-subj", "/CN=images.test",
            "-addext", "subjectAltName=DNS:images.test",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.fixture
def trust_test_cert(tls_files: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    client = ssl.create_default_context(cafile=str(tls_files[0]))
    monkeypatch.setattr(http_fetch, "_ssl_context", lambda: client)


@asynccontextmanager
async def tls_server(tls_files: tuple[Path, Path]) -> AsyncIterator[LocalServer]:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(tls_files[0]), str(tls_files[1]))
    seen: list[str | None] = []

    def record_sni(sock: ssl.SSLObject, name: str | None, _ctx: ssl.SSLContext) -> None:
        seen.append(name)

    ctx.sni_callback = record_sni  # type: ignore[assignment]
    async with serve(replying(response(200, PNG_BODY, [("Content-Type", "image/png")])), ssl_ctx=ctx) as srv:
        srv.sni = seen
        yield srv


async def test_https_to_pinned_ip_verifies_the_original_hostname(
    tls_files: tuple[Path, Path], trust_test_cert: None, dials: DialSpy, no_system_dns: None
) -> None:
    async with tls_server(tls_files) as srv:
        result = await fetch(
            f"https://images.test:{srv.port}/img.png", LOCAL, StubResolver(LOCAL_RESOLVER_TABLE)
        )
    assert result.body == PNG_BODY
    assert dials.calls == [("127.0.0.1", srv.port)]
    assert dials.tls_server_hostnames == ["images.test"]
    assert srv.sni == ["images.test"]
    assert srv.head()[1]["host"] == f"images.test:{srv.port}"


async def test_https_certificate_for_another_name_fails(
    tls_files: tuple[Path, Path], trust_test_cert: None
) -> None:
    policy = FetchPolicy(allow_private_hosts=frozenset({"other.test"}), total_timeout=2)
    async with tls_server(tls_files) as srv:
        err = await fetch_error(
            f"https://other.test:{srv.port}/", policy, StubResolver({"other.test": ["127.0.0.1"]})
        )
    assert err.code == "image_fetch_failed"
    assert srv.sni == ["other.test"]
    assert srv.requests == []


async def test_https_with_default_trust_store_rejects_self_signed(tls_files: tuple[Path, Path]) -> None:
    async with tls_server(tls_files) as srv:
        err = await fetch_error(f"https://images.test:{srv.port}/", LOCAL, StubResolver(LOCAL_RESOLVER_TABLE))
    assert err.code == "image_fetch_failed"
    assert srv.requests == []


def test_fetch_error_carries_code_and_message() -> None:
    err = FetchError("invalid_image_url", "nope")
    assert (err.code, err.message, str(err)) == ("invalid_image_url", "nope", "nope")


@pytest.mark.parametrize(
    "url",
    [
        "http://public@127.0.0.1/",
        "http://images.test@127.0.0.1/",
        "http://user:pass@images.test/img.png",
        "https://@images.test/img.png",
        "http://a%40b@images.test/",
    ],
)
async def test_userinfo_is_refused_as_such(url: str, dials: DialSpy) -> None:
    resolver = StubResolver(LOCAL_RESOLVER_TABLE)
    err = await fetch_error(url, LOCAL, resolver)
    assert err.code == "invalid_image_url"
    assert "credentials" in err.message
    assert resolver.calls == []
    assert dials.calls == []


# ----------------------------------------------------------------------------- streaming to a file


async def _serve_body(writer: asyncio.StreamWriter, total: int, chunk: int = 65536) -> None:
    writer.write(f"HTTP/1.1 200 OK\r\nContent-Length: {total}\r\nContent-Type: video/mp4\r\n\r\n".encode())
    block = b"\x00\x00\x00\x18ftypisom" + b"v" * (chunk - 12)
    sent = 0
    while sent < total:
        part = block[: min(chunk, total - sent)]
        writer.write(part)
        sent += len(part)
        await writer.drain()


async def test_fetch_to_file_streams_without_holding_the_body(tmp_path: Path) -> None:
    import tracemalloc

    total = 16 * 1024 * 1024

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, srv: LocalServer) -> None:
        await reader.readuntil(b"\r\n\r\n")
        await _serve_body(writer, total)

    policy = FetchPolicy(allow_private_hosts=frozenset({"images.test"}), total_timeout=20, max_bytes=total)
    dest = tmp_path / "video.download"
    async with serve(handler) as srv:
        tracemalloc.start()
        try:
            got = await fetch_to_file(
                f"http://images.test:{srv.port}/v.mp4", policy, dest, StubResolver(LOCAL_RESOLVER_TABLE)
            )
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    # The fetch held a few 64 KiB reads at a time, never the 16 MB body (the buffering fetch would).
    assert peak < 2 * 1024 * 1024
    assert got == FetchedFile(status=200, content_type="video/mp4", path=dest, size=total)
    assert dest.stat().st_size == total


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(response(200, b"x" * 1001), id="content-length"),
        pytest.param(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + b"x" * 1001, id="until-close"),
        pytest.param(CHUNKED_1001, id="chunked"),
    ],
)
async def test_fetch_to_file_over_the_cap_leaves_no_file(raw: bytes, tmp_path: Path) -> None:
    dest = tmp_path / "x.download"
    async with serve(replying(raw)) as srv:
        with pytest.raises(FetchError) as info:
            await fetch_to_file(
                f"http://images.test:{srv.port}/", SMALL, dest, StubResolver(LOCAL_RESOLVER_TABLE)
            )
    assert info.value.code == "file_too_large"
    assert not dest.exists()


async def test_fetch_to_file_refused_url_leaves_no_file(
    tmp_path: Path, trap: LocalServer, dials: DialSpy
) -> None:
    dest = tmp_path / "x.download"
    with pytest.raises(FetchError) as info:
        await fetch_to_file(f"http://127.0.0.1:{trap.port}/", FetchPolicy(), dest, StubResolver({}))
    assert info.value.code == "invalid_image_url"
    assert not dest.exists()
    assert dials.calls == []


async def test_fetch_to_file_never_overwrites_an_existing_file(tmp_path: Path, dials: DialSpy) -> None:
    dest = tmp_path / "mine"
    dest.write_bytes(b"keep me")
    with pytest.raises(FileExistsError):
        await fetch_to_file("http://images.test/", LOCAL, dest, StubResolver(LOCAL_RESOLVER_TABLE))
    assert dest.read_bytes() == b"keep me"
    assert dials.calls == []


async def test_fetch_to_file_that_never_finishes_hits_the_deadline(tmp_path: Path) -> None:
    dest = tmp_path / "slow.download"
    async with serve(
        streaming(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n", b"x" * 100, 0.05)
    ) as srv:
        start = time.monotonic()
        with pytest.raises(FetchError) as info:
            await fetch_to_file(
                f"http://images.test:{srv.port}/", FAST, dest, StubResolver(LOCAL_RESOLVER_TABLE)
            )
    assert info.value.code == "image_fetch_failed"
    assert time.monotonic() - start < 1.5
    assert not dest.exists()


# ----------------------------------------------------------------------------- sniffing and naming


async def test_sniffer_refuses_after_the_first_bytes_of_an_endless_body(dials: DialSpy) -> None:
    seen: list[bytes] = []

    def sniff(head: bytes) -> str | None:
        seen.append(head)
        return "the file is an HTML page"

    policy = FetchPolicy(allow_private_hosts=frozenset({"images.test"}), total_timeout=5, max_bytes=10**9)
    async with serve(streaming(b"HTTP/1.1 200 OK\r\n\r\n<!doctype html>", b"<p>" * 20000)) as srv:
        with pytest.raises(FetchError) as info:
            await fetch(
                f"http://images.test:{srv.port}/", policy, StubResolver(LOCAL_RESOLVER_TABLE), sniff=sniff
            )
    assert (info.value.code, info.value.message) == ("unsupported_content", "the file is an HTML page")
    assert len(seen) == 1
    assert len(seen[0]) == http_fetch.SNIFF_BYTES
    assert seen[0].startswith(b"<!doctype html>")
    assert dials.bytes_read < 1024 * 1024


async def test_sniffer_sees_a_fixed_prefix_whatever_the_chunking() -> None:
    body = bytes(range(256)) * 4
    chunks = b"".join(b"%x\r\n%s\r\n" % (1, body[i : i + 1]) for i in range(len(body))) + b"0\r\n\r\n"
    raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks
    seen: list[bytes] = []

    def sniff(head: bytes) -> str | None:
        seen.append(head)
        return None

    async with serve(replying(raw)) as srv:
        result = await fetch(
            f"http://images.test:{srv.port}/", LOCAL, StubResolver(LOCAL_RESOLVER_TABLE), sniff=sniff
        )
    assert result.body == body
    assert seen == [body[: http_fetch.SNIFF_BYTES]]


async def test_sniffer_sees_a_short_body_whole(tmp_path: Path) -> None:
    seen: list[bytes] = []

    def sniff(head: bytes) -> str | None:
        seen.append(head)
        return None

    async with serve(replying(response(200, b"tiny"))) as srv:
        got = await fetch_to_file(
            f"http://images.test:{srv.port}/",
            LOCAL,
            tmp_path / "t",
            StubResolver(LOCAL_RESOLVER_TABLE),
            sniff=sniff,
        )
    assert seen == [b"tiny"]
    assert got.path.read_bytes() == b"tiny"


async def test_policy_names_its_parameter_and_sends_its_accept_header(dials: DialSpy) -> None:
    policy = FetchPolicy(
        allow_private_hosts=frozenset({"images.test"}), subject="video_url", accept="video/mp4, */*;q=0.1"
    )
    err = await fetch_error("ftp://images.test/v.mp4", policy, StubResolver(LOCAL_RESOLVER_TABLE))
    assert err.message == "video_url must use http or https."
    async with serve(replying(response(404))) as srv:
        err = await fetch_error(
            f"http://images.test:{srv.port}/v.mp4", policy, StubResolver(LOCAL_RESOLVER_TABLE)
        )
    assert (err.message, err.status) == ("video_url returned HTTP 404.", 404)
    assert srv.head()[1]["accept"] == "video/mp4, */*;q=0.1"
