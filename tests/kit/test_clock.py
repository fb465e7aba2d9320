"""MovableClock: the test clock every time-dependent rule is checked with."""

from __future__ import annotations

import time

from threadline.kit.clock import MovableClock


def test_freeze_stops_the_clock_at_its_reading_and_advance_still_moves_it() -> None:
    clock = MovableClock(start=1_000_000.0)
    clock.advance(5)
    clock.freeze()
    frozen = clock.now()
    assert 1_000_005.0 <= frozen < 1_000_005.0 + 60  # the reading it had, offset kept
    time.sleep(0.01)  # a real pause: a ticking clock would move during it
    assert clock.now() == frozen
    clock.advance(9)
    assert clock.now() == frozen + 9
    clock.freeze()  # freezing twice keeps the frozen reading
    assert clock.now() == frozen + 9


def test_a_clock_frozen_at_construction_reads_its_start() -> None:
    clock = MovableClock(start=42.0, frozen=True)
    assert clock.now() == 42.0
    assert clock.now_s() == 42
    clock.set(100.5)
    assert clock.now_s() == 100
