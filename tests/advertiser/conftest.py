"""Advertiser tests run on a frozen clock so exact bodies (timestamps included) can be asserted."""

from __future__ import annotations

import pytest

from threadline.kit.clock import MovableClock

NOW = 1775088000  # the quickstart's created_at


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock(start=NOW, frozen=True)
