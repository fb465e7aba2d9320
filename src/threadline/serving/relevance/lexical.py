"""Lexical relevance of ad groups' context hints to the last turns of a conversation, in [0, 1].

Text becomes stems (``text.stems``: "running shoes" matches "I run in these shoes"). A hint scores by the
recency-weighted share of its stems present in the conversation, plus a phrase part for the share of its
adjacent stem pairs that also appear adjacent there. An inverted index from stem to hints means scoring
touches only hints that share a word with the conversation: cost follows the conversation, not the
number of ads.
"""

from __future__ import annotations

import heapq
import itertools
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
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
        best: dict[int, float] = {}
        matched: dict[int, int] = {}
        hint_groups = self._hint_groups
        for hint_no, value in self.hint_values(conversation).items():
            for g in hint_groups[hint_no]:
                matched[g] = matched.get(g, 0) + 1
                if value > best.get(g, 0.0):
                    best[g] = value
        keys = self._keys
        return {keys[g]: min(1.0, value + EXTRA_HINT_BONUS * (matched[g] - 1)) for g, value in best.items()}

    def hint_values(self, conversation: Conversation) -> dict[int, float]:
        """Score in (0, 1] of each distinct hint sharing a stem with the conversation: the step before the
        fan-out to groups, whose cost follows the conversation and the few distinct hint texts."""
        hit: dict[int, float] = {}
        postings = self._postings
        for s, w in conversation.weights.items():
            for hint_no in postings.get(s, ()):
                hit[hint_no] = hit.get(hint_no, 0.0) + w
        hints = self._hints
        bigrams = conversation.bigrams
        return {hint_no: _hint_score(hints[hint_no], total, bigrams) for hint_no, total in hit.items()}

    def weighted(self, weights: Mapping[str, int], fixed: Iterable[str] = ()) -> WeightedHints:
        """This index ordered for best-first search by relevance x weight (see WeightedHints); ``weights``
        maps group keys to a non-negative weight (missing: 0), ``fixed`` are groups without hints whose
        relevance the caller sets per search."""
        return WeightedHints(self, weights, fixed)


class WeightedHints:
    """Groups in order of relevance x weight without scoring every matching group (Fagin's threshold
    algorithm): each distinct hint keeps its groups by descending weight, and a search merges the lists
    of the matched hints by the best score a group of each list could still reach through that hint. A
    group's relevance is at most min(1, value of its best hint + the bonus of its other matched hints),
    and the group sits in its best hint's list, so the merge front bounds every group not yet reached.
    Read-only; built once per weights (the serving index rebuilds it when a weight rises)."""

    def __init__(self, index: HintIndex, weights: Mapping[str, int], fixed: Iterable[str]) -> None:
        self._index = index
        keys = index._keys
        self._group_hints: list[list[int]] = [[] for _ in keys]  # group -> its hints, once per occurrence
        repeat = 1
        for hint_no, groups in enumerate(index._hint_groups):
            for g in groups:
                self._group_hints[g].append(hint_no)
            repeat = max(repeat, *Counter(groups).values())
        self._repeat = repeat  # the most times one group holds one distinct hint
        self._lists: list[tuple[tuple[int, ...], tuple[int, ...]]] = []  # hint -> (weights, groups)
        self._occurrences: list[int] = []  # hint -> the most hint occurrences a group of its list has
        for groups in index._hint_groups:
            ordered = sorted({(-weights.get(keys[g], 0), g) for g in groups})
            self._lists.append((tuple(-w for w, _ in ordered), tuple(g for _, g in ordered)))
            self._occurrences.append(max((len(self._group_hints[g]) for g in groups), default=0))
        ordered_fixed = sorted((-weights.get(k, 0), k) for k in set(fixed))
        self._fixed: tuple[tuple[int, ...], tuple[str, ...]] = (
            tuple(-w for w, _ in ordered_fixed),
            tuple(k for _, k in ordered_fixed),
        )

    def best_first(
        self, conversation: Conversation, threshold: float, min_weight: int, fixed_relevance: float
    ) -> Iterator[tuple[float, str, float]]:
        """(ceiling, group key, relevance) of every group with relevance >= ``threshold`` and weight >=
        ``min_weight`` (the fixed groups at ``fixed_relevance``), ordered so that ``ceiling`` bounds the
        relevance x weight of this group and of every one after it. Relevances are exactly ``score``'s."""
        values = self._index.hint_values(conversation)
        keys = self._index._keys
        group_hints = self._group_hints
        lists = self._lists
        occurrences = self._occurrences
        most = len(values) * self._repeat  # a group counts at most this many matched hint occurrences
        factors: dict[int, float] = {}  # list -> the most relevance a group can reach through it
        front: list[tuple[float, int, int]] = []  # (-ceiling, list, position); list -1: the fixed groups
        for hint_no, value in values.items():
            weights = lists[hint_no][0]
            factor = min(1.0, value + EXTRA_HINT_BONUS * (min(occurrences[hint_no], most) - 1))
            if factor >= threshold and weights and weights[0] >= min_weight:
                factors[hint_no] = factor
                front.append((-factor * weights[0], hint_no, 0))
        fixed_weights, fixed_keys = self._fixed
        if fixed_relevance >= threshold and fixed_weights and fixed_weights[0] >= min_weight:
            factors[-1] = fixed_relevance
            front.append((-fixed_relevance * fixed_weights[0], -1, 0))
        heapq.heapify(front)
        seen: set[int] = set()
        while front:
            neg_ceiling, list_no, pos = front[0]
            key: str | None = None
            if list_no < 0:
                weights = fixed_weights
                key, relevance = fixed_keys[pos], fixed_relevance
            else:
                weights, groups = lists[list_no]
                g = groups[pos]
                if g not in seen:  # reached first through its best list; later entries are repeats
                    seen.add(g)
                    best = 0.0
                    matched = 0
                    for hint_no in group_hints[g]:
                        v = values.get(hint_no)
                        if v is not None:
                            matched += 1
                            if v > best:
                                best = v
                    key = keys[g]
                    relevance = min(1.0, best + EXTRA_HINT_BONUS * (matched - 1))
            pos += 1
            if pos < len(weights) and weights[pos] >= min_weight:
                heapq.heapreplace(front, (-factors[list_no] * weights[pos], list_no, pos))
            else:
                heapq.heappop(front)
            if key is not None and relevance >= threshold:
                yield -neg_ceiling, key, relevance


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
