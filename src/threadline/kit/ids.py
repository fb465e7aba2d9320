"""Public identifiers."""

from __future__ import annotations

import os
import threading
import time
import uuid


def new_id() -> str:
    """A UUID version 7 (RFC 9562): 48 bits of Unix milliseconds, then 74 random bits.

    Time-ordered, so the rows a batch inserts land on the last pages of every index on an id instead
    of on as many random pages as there are rows: each commit writes a few pages, not dozens. Formatted
    here rather than by ``uuid.UUID``, whose Python-level constructor costs more than the rest.
    """
    ms = time.time_ns() // 1_000_000
    rand = _entropy.take()
    h = "%032x" % (
        (ms & _MS_MASK) << 80 | 0x7 << 76 | (rand >> 62 & 0xFFF) << 64 | 0b10 << 62 | (rand & _LOW_62)
    )
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


_MS_MASK = (1 << 48) - 1
_LOW_62 = (1 << 62) - 1


class _Entropy:
    """os.urandom read 4 KiB at a time: each read is a syscall that gives up the GIL, and a batch
    writer thread making ids would then wait for the event loop to hand it back, twice a row."""

    _CHUNK = 4096
    _TAKE = 10  # bytes an id takes (74 bits used)

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pid = -1
        self._buf = b""
        self._at = 0

    def take(self) -> int:
        with self._lock:
            if self._at + self._TAKE > len(self._buf) or self._pid != os.getpid():
                # A forked child must not repeat the bytes its parent had buffered.
                self._pid = os.getpid()
                self._buf = os.urandom(self._CHUNK)
                self._at = 0
            at = self._at
            self._at = at + self._TAKE
            return int.from_bytes(self._buf[at : at + self._TAKE], "big")


_entropy = _Entropy()


def is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except (ValueError, AttributeError, TypeError):
        return False
    return True


# Graph ids: numeric, time-ordered, unique across processes. 41 bits of milliseconds since 2020 (good
# until 2089), 10 bits of process node and 12 bits of per-millisecond sequence: 18-19 digits in a BIGINT.
_GRAPH_EPOCH_MS = 1_577_836_800_000
_NODE_BITS = 10
_SEQ_BITS = 12


class _GraphIds:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pid = -1
        self._node = 0
        self._last_ms = -1
        self._seq = 0

    def next(self, now_ms: int) -> int:
        with self._lock:
            pid = os.getpid()
            if pid != self._pid:
                # The node is the process id: the workers of one server (consecutive pids) never share
                # one, and a forked child does not repeat its parent's sequence.
                self._pid = pid
                self._node = pid & ((1 << _NODE_BITS) - 1)
                self._last_ms = -1
            ms = max(now_ms - _GRAPH_EPOCH_MS, self._last_ms)
            if ms == self._last_ms:
                self._seq = (self._seq + 1) & ((1 << _SEQ_BITS) - 1)
                if self._seq == 0:
                    ms += 1  # sequence exhausted within this millisecond: borrow the next one
            else:
                self._seq = 0
            self._last_ms = ms
            return (ms << (_NODE_BITS + _SEQ_BITS)) | (self._node << _SEQ_BITS) | self._seq


_graph_ids = _GraphIds()


def new_graph_id(now: float) -> int:
    """A new Graph object id (profiles, containers, media share this space); ``now`` from the clock."""
    return _graph_ids.next(int(now * 1000))


def graph_id_time(graph_id: int) -> float:
    """When ``graph_id`` was made (Unix seconds)."""
    return ((graph_id >> (_NODE_BITS + _SEQ_BITS)) + _GRAPH_EPOCH_MS) / 1000


def parse_graph_id(value: str) -> int | None:
    """The integer of a Graph id string, or None if it cannot be one."""
    if not (1 <= len(value) <= 19) or not value.isascii() or not value.isdigit():
        return None
    n = int(value)
    return n if 0 < n < 2**63 else None
