"""Lexical relevance of ad groups' context hints to the last turns of a conversation, in [0, 1].

Text is normalised (NFKD, accents stripped, lower case), split into words, stop words dropped and the
rest stemmed (Snowball English), so "running shoes" matches "I run in these shoes". A hint scores by the
recency-weighted share of its stems present in the conversation, plus a phrase part for the share of its
adjacent stem pairs that also appear adjacent there. An inverted index from stem to hints means scoring
touches only hints that share a word with the conversation: cost follows the conversation, not the
number of ads.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

import snowballstemmer  # type: ignore[import-untyped]

# Matching flexibility → the relevance an ad group must reach. "high" is the most permissive (the
# legacy API's default), "low" the strictest.
THRESHOLDS: dict[str, float] = {"high": 0.3, "medium": 0.5, "low": 0.7}
DEFAULT_AGGRESSIVENESS = "high"

# Recency weights of the last messages, most recent first; older messages are ignored.
RECENCY = (1.0, 1.0, 0.6, 0.4)
COVERAGE_WEIGHT = 0.75  # the rest rewards phrases found in order
EXTRA_HINT_BONUS = 0.05  # per additional hint of the same group that matches at all

STOPWORDS = frozenset(
    [
        "a",
        "about",
        "above",
        "after",
        "again",
        "against",
        "all",
        "am",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "because",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "doing",
        "down",
        "during",
        "each",
        "few",
        "for",
        "from",
        "further",
        "had",
        "has",
        "have",
        "having",
        "he",
        "her",
        "here",
        "hers",
        "herself",
        "him",
        "himself",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "itself",
        "just",
        "let",
        "me",
        "more",
        "most",
        "my",
        "myself",
        "no",
        "nor",
        "not",
        "now",
        "of",
        "off",
        "on",
        "once",
        "only",
        "or",
        "other",
        "our",
        "ours",
        "ourselves",
        "out",
        "over",
        "own",
        "same",
        "she",
        "should",
        "so",
        "some",
        "such",
        "than",
        "that",
        "the",
        "their",
        "theirs",
        "them",
        "themselves",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "to",
        "too",
        "under",
        "until",
        "up",
        "very",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "yours",
        "yourself",
        "yourselves",
        "im",
        "ive",
        "id",
        "youre",
        "dont",
        "cant",
        "wont",
        "isnt",
        "s",
        "t",
        "re",
        "ve",
        "ll",
        "d",
        "m",
        "get",
        "got",
        "also",
        "really",
        "want",
        "need",
        "like",
        "know",
        "think",
        "please",
        "thanks",
        "thank",
        "hi",
        "hello",
        "yes",
        "ok",
        "okay",
    ]
)

_WORD = re.compile(r"[a-z0-9]+")
_stemmer = snowballstemmer.stemmer("english")


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    return str(_stemmer.stemWord(word))


def normalize(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def stems(text: str) -> list[str]:
    """Content-word stems of ``text`` in order (apostrophes split words: "runner's" → runner)."""
    return [stem(w) for w in _WORD.findall(normalize(text)) if w not in STOPWORDS]


@dataclass(frozen=True)
class Conversation:
    weights: dict[str, float]  # stem -> recency weight of the most recent message containing it
    bigrams: frozenset[tuple[str, str]]
    # The counted messages themselves, most recent first (the semantic matcher embeds them).
    recent: tuple[str, ...] = ()

    @classmethod
    def from_messages(cls, messages: Sequence[str]) -> Conversation:
        """``messages`` oldest first; only the last len(RECENCY) count."""
        weights: dict[str, float] = {}
        bigrams: set[tuple[str, str]] = set()
        recent: list[str] = []
        for weight, text in zip(RECENCY, reversed(messages), strict=False):
            recent.append(text[:20_000])
            seq = stems(recent[-1])
            for s in seq:
                if weights.get(s, 0.0) < weight:
                    weights[s] = weight
            bigrams.update(itertools.pairwise(seq))
        return cls(weights, frozenset(bigrams), tuple(recent))


class HintScorer(Protocol):
    """What the serving index needs from a matcher: fill with ``add``, ``build`` once, then ``score``."""

    def add(self, key: str, hints: Iterable[str]) -> None: ...

    def build(self) -> None: ...

    def __len__(self) -> int: ...

    def score(self, conversation: Conversation) -> dict[str, float]: ...


MATCHERS = ("lexical", "semantic")


def hint_scorer_factory(matcher: str) -> Callable[[], HintScorer]:
    """The index class for THREADLINE_MATCHER; fails now (at startup) if the semantic extra is missing."""
    if matcher == "lexical":
        return HintIndex
    if matcher == "semantic":
        from threadline.serving import semantic  # optional extra: imported only when selected

        semantic.require()
        return semantic.SemanticHintIndex
    raise ValueError(f"unknown matcher {matcher!r}: expected one of {', '.join(MATCHERS)}")


@dataclass(frozen=True)
class _Hint:
    group: int
    stems: tuple[str, ...]  # distinct, in order of first appearance
    bigrams: tuple[tuple[str, str], ...]


class HintIndex:
    """Hints of many ad groups, searchable by conversation. Build once per index snapshot; read-only after."""

    def __init__(self) -> None:
        self._keys: list[str] = []
        self._hints: list[_Hint] = []
        self._postings: dict[str, list[int]] = {}

    def add(self, key: str, hints: Iterable[str]) -> None:
        group = len(self._keys)
        self._keys.append(key)
        for text in hints:
            seq = stems(text)
            distinct = tuple(dict.fromkeys(seq))
            if not distinct:
                continue
            hint_no = len(self._hints)
            self._hints.append(_Hint(group, distinct, tuple(dict.fromkeys(itertools.pairwise(seq)))))
            for s in distinct:
                self._postings.setdefault(s, []).append(hint_no)

    def build(self) -> None:
        """Nothing to precompute: ``add`` already maintains the inverted index."""

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
        for hint_no, total in hit.items():
            hint = self._hints[hint_no]
            value = _hint_score(hint, total, conversation.bigrams)
            g = hint.group
            matched[g] = matched.get(g, 0) + 1
            if value > best.get(g, 0.0):
                best[g] = value
        return {
            self._keys[g]: min(1.0, value + EXTRA_HINT_BONUS * (matched[g] - 1)) for g, value in best.items()
        }


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


def threshold(aggressiveness: str) -> float:
    return THRESHOLDS.get(aggressiveness, THRESHOLDS[DEFAULT_AGGRESSIVENESS])
