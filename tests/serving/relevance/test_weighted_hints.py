"""Best-first search of the lexical index (WeightedHints): every group it skips could never have ranked
above what it found, and the relevances it yields are exactly HintIndex.score's."""

from __future__ import annotations

import math
import random

from threadline.serving.relevance import Conversation, HintIndex
from threadline.serving.relevance.text import normalize, stems

TOPICS = ["running shoes", "trail running", "running shoes for trail running", "yoga mats", "coffee grinder",
          "espresso machine", "electric bikes", "bike helmets", "camping tents", "shoes"]  # fmt: skip


def _index(rng: random.Random, groups: int) -> tuple[HintIndex, dict[str, int], list[str]]:
    index = HintIndex()
    weights: dict[str, int] = {}
    fixed = []
    for g in range(groups):
        key = f"g{g:03}"
        weights[key] = rng.choice([0, 500, 1_000, 1_000, 2_000, 3_500])
        if rng.random() < 0.1:
            fixed.append(key)
            continue
        hints = rng.sample(TOPICS, rng.randint(1, 4))
        if rng.random() < 0.2:
            hints.append(hints[0])  # the same hint twice counts twice towards the extra-hint bonus
        index.add(key, hints)
    index.build()
    return index, weights, fixed


def test_best_first_yields_exactly_the_qualifying_groups_in_ceiling_order() -> None:
    rng = random.Random(7)
    for _ in range(40):
        index, weights, fixed = _index(rng, rng.choice([5, 40, 150]))
        order = index.weighted(weights, fixed)
        for _ in range(10):
            chat = Conversation.from_messages(
                [" and ".join(rng.sample(TOPICS, rng.randint(0, 3))) or "nothing", rng.choice(TOPICS)]
            )
            threshold = rng.choice([-math.inf, 0.3, 0.5, 0.7])
            min_weight = rng.choice([0, 1_000, 2_000])
            fixed_relevance = rng.choice([0.3, 0.6])
            scores = index.score(chat)
            scores.update(dict.fromkeys(fixed, fixed_relevance))
            want = {k: r for k, r in scores.items() if r >= threshold and weights[k] >= min_weight}
            got = list(order.best_first(chat, threshold, min_weight, fixed_relevance))
            assert {k: r for _, k, r in got} == want
            assert len(got) == len(want)  # each group once
            ceilings = [c for c, _, _ in got]
            assert ceilings == sorted(ceilings, reverse=True)
            # the ceiling of each yielded group bounds its own score and every later one's
            for i, (ceiling, _, _) in enumerate(got):
                assert all(r * weights[k] <= ceiling for _, k, r in got[i:])


def test_a_search_stopped_at_a_ceiling_skipped_only_groups_below_it() -> None:
    rng = random.Random(11)
    index, weights, fixed = _index(rng, 300)
    order = index.weighted(weights, fixed)
    chat = Conversation.from_messages(["my running shoes wore out on the trail", "try a coffee grinder"])
    scores = index.score(chat)
    scores.update(dict.fromkeys(fixed, 0.3))
    for stop in (1, 5, 20):
        found = list(order.best_first(chat, 0.3, 0, 0.3))
        assert len(found) > stop
        front = found[stop][0]  # where a search that took ``stop`` groups stopped
        skipped = set(scores) - {k for _, k, _ in found[:stop]}
        assert all(scores[k] * weights[k] <= front for k in skipped if scores[k] >= 0.3)


def test_weights_are_read_when_the_order_is_built() -> None:
    index = HintIndex()
    index.add("a", ["running shoes"])
    index.add("b", ["running shoes"])
    weights = {"a": 1_000, "b": 2_000}
    order = index.weighted(weights)
    weights["a"] = 5_000  # a later change needs a new order (the serving index rebuilds it)
    chat = Conversation.from_messages(["running shoes"])
    assert [k for _, k, _ in order.best_first(chat, 0.3, 0, 0.0)] == ["b", "a"]
    assert [k for _, k, _ in index.weighted(weights).best_first(chat, 0.3, 0, 0.0)] == ["a", "b"]


def test_ascii_fast_path_normalises_like_nfkd() -> None:
    for text in ["Running SHOES", "it's 42 km", "Café crème", "naïve runner's guide"]:
        assert normalize(text) == normalize(text + "é")[:-1]
    assert stems("Crème brûlée") == stems("creme brulee")
