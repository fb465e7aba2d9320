"""What every matcher shares: the conversation as matchers read it, the scorer interface the serving
index fills, and the aggressiveness thresholds a relevance must clear."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

from threadline.serving.relevance.text import stems

# Matching flexibility → the relevance an ad group must reach. "high" is the most permissive (the
# legacy API's default), "low" the strictest.
THRESHOLDS: dict[str, float] = {"high": 0.3, "medium": 0.5, "low": 0.7}
DEFAULT_AGGRESSIVENESS = "high"

# Recency weights of the last messages, most recent first; older messages are ignored.
RECENCY = (1.0, 1.0, 0.6, 0.4)


@dataclass(frozen=True)
class Conversation:
    weights: dict[str, float]  # stem -> recency weight of the most recent message containing it
    bigrams: frozenset[tuple[str, str]]
    # The counted messages themselves, most recent first (the semantic matcher embeds them).
    recent: tuple[str, ...] = ()

    @classmethod
    def from_messages(cls, messages: Sequence[str]) -> Conversation:
        """``messages`` oldest first; only the last len(RECENCY) count."""
        return _conversation(tuple(messages[-len(RECENCY) :]))


# Each chat turn re-sends the history, so the same messages (and often the same last turns) come back
# request after request: stems are cached per message text, whole conversations by their counted turns.
@lru_cache(maxsize=4096)
def _message_stems(text: str) -> tuple[str, ...]:
    return tuple(stems(text))


@lru_cache(maxsize=1024)
def _conversation(messages: tuple[str, ...]) -> Conversation:
    weights: dict[str, float] = {}
    bigrams: set[tuple[str, str]] = set()
    recent: list[str] = []
    for weight, text in zip(RECENCY, reversed(messages), strict=False):
        recent.append(text[:20_000])
        seq = _message_stems(recent[-1])
        for s in seq:
            if weights.get(s, 0.0) < weight:
                weights[s] = weight
        bigrams.update(itertools.pairwise(seq))
    return Conversation(weights, frozenset(bigrams), tuple(recent))


class HintScorer(Protocol):
    """What the serving index needs from a matcher: fill with ``add``, ``build`` once, then ``score``."""

    def add(self, key: str, hints: Iterable[str]) -> None: ...

    def build(self) -> None: ...

    def __len__(self) -> int: ...

    def score(self, conversation: Conversation) -> dict[str, float]: ...


def threshold(aggressiveness: str) -> float:
    return THRESHOLDS.get(aggressiveness, THRESHOLDS[DEFAULT_AGGRESSIVENESS])
