"""``eventually``: what it returns, and what its timeout says."""

from __future__ import annotations

import pytest

from tests.waiting import eventually


def test_returns_the_first_value_that_is_not_none() -> None:
    answers = iter([None, None, 7])
    assert eventually(lambda: next(answers), timeout=5.0) == 7


def test_a_timeout_names_what_it_waited_for_and_what_state_read() -> None:
    with pytest.raises(AssertionError) as failed:
        eventually(lambda: None, timeout=-1.0, what="the budget spent", state=lambda: "spent 3 of 9")
    assert str(failed.value) == "timed out waiting for the budget spent (spent 3 of 9)"


def test_a_timeout_without_state_names_only_what_it_waited_for() -> None:
    with pytest.raises(AssertionError) as failed:
        eventually(lambda: None, timeout=-1.0, what="the budget spent")
    assert str(failed.value) == "timed out waiting for the budget spent"
