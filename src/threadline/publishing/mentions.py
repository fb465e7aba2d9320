"""``@username`` mentions in a post's text (webhooks' ``mentions`` field; reply_control can share it)."""

from __future__ import annotations

import re

# Not preceded by a word character, a dot or another @ (so e-mail addresses are not mentions).
_MENTION = re.compile(r"(?<![\w.@])@([A-Za-z0-9._]{1,30})")


def mentioned_usernames(text: str) -> list[str]:
    """Lower-cased usernames in first-seen order; a sentence's final dot is not part of the name."""
    seen: dict[str, None] = {}
    for match in _MENTION.finditer(text or ""):
        name = match.group(1).lower().rstrip(".")
        if name:
            seen.setdefault(name, None)
    return list(seen)
