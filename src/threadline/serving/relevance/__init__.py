"""Relevance of ad groups' context hints to a conversation, in [0, 1].

``conversation`` holds what every matcher shares (the conversation, the HintScorer interface, the
thresholds); ``lexical`` (default) and ``semantic`` (optional extra) are the matchers; ``matchers`` picks
one for THREADLINE_MATCHER. The matchers depend on ``conversation`` only, never on each other.
"""

from threadline.serving.relevance.conversation import (
    RECENCY,
    THRESHOLDS,
    Conversation,
    HintScorer,
    threshold,
)
from threadline.serving.relevance.lexical import HintIndex, WeightedHints, relevance
from threadline.serving.relevance.matchers import MATCHERS, hint_scorer_factory

__all__ = [
    "MATCHERS",
    "RECENCY",
    "THRESHOLDS",
    "Conversation",
    "HintIndex",
    "HintScorer",
    "WeightedHints",
    "hint_scorer_factory",
    "relevance",
    "threshold",
]
