"""kit/ids.new_id: RFC 9562 version-7 UUIDs, ordered by the millisecond they were made in."""

from __future__ import annotations

import os
import time
import uuid

import pytest

from threadline.kit.ids import is_uuid, new_id


def test_a_new_id_is_a_version_7_rfc_uuid_in_canonical_form() -> None:
    for _ in range(1000):
        value = new_id()
        parsed = uuid.UUID(value)
        assert parsed.version == 7
        assert parsed.variant == uuid.RFC_4122
        assert str(parsed) == value
        assert is_uuid(value)


def test_ids_carry_their_millisecond_and_sort_by_it(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1_800_000_000_000_000_000]  # ns
    monkeypatch.setattr(time, "time_ns", lambda: now[0])
    made = []
    for _ in range(50):
        made.append(new_id())
        now[0] += 1_000_000  # one millisecond
    assert made == sorted(made)
    assert uuid.UUID(made[0]).int >> 80 == 1_800_000_000_000


def test_ids_of_one_millisecond_differ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(time, "time_ns", lambda: 1_800_000_000_000_000_000)
    batch = [new_id() for _ in range(10_000)]
    assert len(set(batch)) == len(batch)  # 74 random bits each


def test_the_millisecond_is_the_wall_clock() -> None:
    before = time.time_ns() // 1_000_000
    made = uuid.UUID(new_id()).int >> 80
    assert before <= made <= time.time_ns() // 1_000_000


def test_a_forked_child_does_not_repeat_its_parents_ids() -> None:
    new_id()  # the parent has random bytes buffered
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next id, then out without running pytest's teardown
        os.write(write, new_id().encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    child = os.read(read, 64).decode()
    os.close(read)
    parent = new_id()
    assert uuid.UUID(child).int & _RANDOM != uuid.UUID(parent).int & _RANDOM


_RANDOM = (1 << 62) - 1
