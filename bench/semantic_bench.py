"""Matcher cost: hint-index build time and per-request scoring latency, lexical vs semantic.

Run:  .venv/bin/python -m bench.semantic_bench [--hints 1000] [--requests 500] [--matcher semantic|lexical|both]

In-process, no database: the same hints and conversations as bench.serving_bench (its 62 topics, here
made into distinct hints with modifiers so every hint is embedded once). Figures:
- model load (semantic only; once per process),
- index build for N distinct hints (cold: no cached hint vectors),
- scoring latency p50/p99 of one conversation (its last two turns) against the whole index.
"""

from __future__ import annotations

import argparse
import itertools
import random
import time

from bench.common import machine, percentiles, report
from bench.serving_bench import TOPICS, conversation
from threadline.serving.relevance import Conversation, HintScorer, hint_scorer_factory

MODIFIERS = [
    "best",
    "cheap",
    "premium",
    "beginner",
    "professional",
    "eco friendly",
    "discount",
    "luxury",
    "compact",
    "durable",
    "top rated",
    "affordable",
    "lightweight",
    "family",
    "portable",
    "smart",
    "used",
]


def hints(n: int) -> list[str]:
    pool = [f"{m} {t}" for m, t in itertools.product(MODIFIERS, TOPICS)]
    if n > len(pool):
        raise SystemExit(f"at most {len(pool)} distinct hints")
    return random.Random(7).sample(pool, n)


def bench(matcher: str, n_hints: int, requests: int) -> None:
    factory = hint_scorer_factory(matcher)
    if matcher == "semantic":
        from threadline.serving.relevance import semantic

        t0 = time.perf_counter()
        semantic.model()
        report("semantic.model_load", seconds=round(time.perf_counter() - t0, 2))
    texts = hints(n_hints)
    index: HintScorer = factory()
    t0 = time.perf_counter()
    for group, start in enumerate(range(0, len(texts), 3)):  # ~3 hints per ad group
        index.add(f"g{group}", texts[start : start + 3])
    index.build()
    build_s = time.perf_counter() - t0
    report(f"{matcher}.index_build", hints=n_hints, groups=len(index), seconds=round(build_s, 3))

    rng = random.Random(11)
    chats = [Conversation.from_messages(conversation(rng)) for _ in range(requests)]
    for chat in chats[:10]:  # warm-up
        index.score(chat)
    samples: list[float] = []
    matched = 0
    for chat in chats:
        t = time.perf_counter()
        matched += sum(1 for v in index.score(chat).values() if v >= 0.3)
        samples.append((time.perf_counter() - t) * 1000)
    pct = percentiles(samples)
    report(
        f"{matcher}.score",
        p50_ms=round(pct["p50_ms"], 3),
        p99_ms=round(pct["p99_ms"], 3),
        n=requests,
        groups_over_0_3_per_request=round(matched / requests, 1),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hints", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--matcher", choices=["lexical", "semantic", "both"], default="both")
    args = parser.parse_args()
    report("machine", value=machine())
    for matcher in ("lexical", "semantic") if args.matcher == "both" else (args.matcher,):
        bench(matcher, args.hints, args.requests)


if __name__ == "__main__":
    main()
