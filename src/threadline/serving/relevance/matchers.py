"""THREADLINE_MATCHER → the HintScorer class the serving index builds its snapshots with."""

from __future__ import annotations

from collections.abc import Callable

from threadline.serving.relevance.conversation import HintScorer
from threadline.serving.relevance.lexical import HintIndex

MATCHERS = ("lexical", "semantic")


def hint_scorer_factory(matcher: str) -> Callable[[], HintScorer]:
    """The index class for THREADLINE_MATCHER; fails now (at startup) if the semantic extra is missing."""
    if matcher == "lexical":
        return HintIndex
    if matcher == "semantic":
        from threadline.serving.relevance import semantic  # optional extra: imported only when selected

        semantic.require()
        return semantic.SemanticHintIndex
    raise ValueError(f"unknown matcher {matcher!r}: expected one of {', '.join(MATCHERS)}")
