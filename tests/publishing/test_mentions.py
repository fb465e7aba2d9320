"""``@username`` parsing for the ``mentions`` webhook field."""

from __future__ import annotations

import pytest

from threadline.publishing.mentions import mentioned_usernames


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("hi @alice", ["alice"]),
        ("@Alice and @BOB_1.x, then @alice again", ["alice", "bob_1.x"]),
        ("end of sentence @carol.", ["carol"]),
        ("mail bob@alice.com or x.@dave", []),
        ("@@eve and (@frank)", ["frank"]),
        ("@" + "a" * 31, ["a" * 30]),
        ("", []),
        ("@.", []),
    ],
)
def test_mentions(text: str, names: list[str]) -> None:
    assert mentioned_usernames(text) == names
