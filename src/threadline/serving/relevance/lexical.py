"""Lexical relevance of ad groups' context hints to the last turns of a conversation, in [0, 1].

Text becomes stems (``text.stems``: "running shoes" matches "I run in these shoes"). A hint scores by the
recency-weighted share of its stems present in the conversation, plus a phrase part for the share of its
adjacent stem pairs that also appear adjacent there. An inverted index from stem to hints means scoring
touches only hints that share a word with the conversation: cost follows the conversation, not the
number of ads.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from threadline.serving.relevance.conversation import Conversation
from threadline.serving.relevance.text import stems

COVERAGE_WEIGHT = 0.75  # the rest rewards phrases found in order
EXTRA_HINT_BONUS = 0.05  # per additional hint of the same group that matches at all


@dataclass(frozen=True)
class _Hint:
    stems: tuple[str, ...]  # distinct, in order of first appearance
    bigrams: tuple[tuple[str, str], ...]


class HintIndex:
    """Hints of many ad groups, searchable by conversation. Build once per index snapshot; read-only after.

    Hints are stored once per distinct text shape (advertisers repeat the same few phrases across many
    groups), so a request scores each distinct hint once and only fans the value out to its groups.
    """

    def __init__(self) -> None:
        self._keys: list[str] = []
        self._hints: list[_Hint] = []
        self._hint_groups: list[list[int]] = []  # distinct hint -> groups holding it (once per occurrence)
        self._by_shape: dict[tuple[tuple[str, ...], tuple[tuple[str, str], ...]], int] = {}
        self._postings: dict[str, list[int]] = {}

    def add(self, key: str, hints: Iterable[str]) -> None:
        group = len(self._keys)
        self._keys.append(key)
        for text in hints:
            hint_no = self._hint_no(text)
            if hint_no is not None:
                self._hint_groups[hint_no].append(group)

    def _hint_no(self, text: str) -> int | None:
        seq = stems(text)
        distinct = tuple(dict.fromkeys(seq))
        if not distinct:
            return None
        shape = (distinct, tuple(dict.fromkeys(itertools.pairwise(seq))))
        hint_no = self._by_shape.get(shape)
        if hint_no is None:
            hint_no = len(self._hints)
            self._by_shape[shape] = hint_no
            self._hints.append(_Hint(*shape))
            self._hint_groups.append([])
            for s in distinct:
                self._postings.setdefault(s, []).append(hint_no)
        return hint_no

    def build(self) -> None:
        """Nothing to precompute: ``add`` already maintains the inverted index."""
        self._by_shape.clear()  # only needed while adding

    def __len__(self) -> int:
        return len(self._keys)

    def score(self, conversation: Conversation) -> dict[str, float]:
        """Relevance in (0, 1] of every group with at least one hint word in the conversation."""
        hit: dict[int, float] = {}
        postings = self._postings
        for s, w in conversation.weights.items():
            for hint_no in postings.get(s, ()):
                hit[hint_no] = hit.get(hint_no, 0.0) + w
        best: dict[int, float] = {}
        matched: dict[int, int] = {}
        hints = self._hints
        hint_groups = self._hint_groups
        bigrams = conversation.bigrams
        for hint_no, total in hit.items():
            value = _hint_score(hints[hint_no], total, bigrams)
            for g in hint_groups[hint_no]:
                matched[g] = matched.get(g, 0) + 1
                if value > best.get(g, 0.0):
                    best[g] = value
        keys = self._keys
        return {keys[g]: min(1.0, value + EXTRA_HINT_BONUS * (matched[g] - 1)) for g, value in best.items()}


def _hint_score(hint: _Hint, weight_sum: float, bigrams: frozenset[tuple[str, str]]) -> float:
    coverage = weight_sum / len(hint.stems)
    if not hint.bigrams:
        return coverage
    phrase = sum(1 for b in hint.bigrams if b in bigrams) / len(hint.bigrams)
    return COVERAGE_WEIGHT * coverage + (1 - COVERAGE_WEIGHT) * phrase


def relevance(hints: Iterable[str], messages: Sequence[str]) -> float:
    """One group's relevance to a conversation (convenience for tests and tools; serving uses HintIndex)."""
    index = HintIndex()
    index.add("0", hints)
    return index.score(Conversation.from_messages(messages)).get("0", 0.0)
