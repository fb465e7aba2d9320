"""Per-chat frequency rules: no ad before turn `offset`, then at least `gap` turns between two ads.

Turns are 0-based. The legacy API counts them on the server (each request in a chat is one turn); the
current API sends `turn_number` itself. `force=True` bypasses both rules, `force=False` suppresses the ad.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import update
from sqlalchemy.orm import Session

from threadline.serving.tables import chat_turns
from threadline.store.dialect import insert_for


@dataclass(frozen=True)
class FrequencyRule:
    chat_id: str
    offset: int
    gap: int
    turn_number: int | None = None  # None: the server counts turns
    force: bool | None = None


@dataclass(frozen=True)
class TurnCheck:
    turn: int
    allowed: bool


def check_turn(session: Session, publisher_id: str, rule: FrequencyRule, now: int) -> TurnCheck:
    """Count this turn (atomically) and say whether an ad may be shown on it."""
    ins = insert_for(session, chat_turns)
    if rule.turn_number is None:
        stmt = ins.values(
            publisher_id=publisher_id, chat_id=rule.chat_id, turns=1, last_ad_turn=None, updated_at=now
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=["publisher_id", "chat_id"],
            set_={"turns": chat_turns.c.turns + 1, "updated_at": now},
        )
    else:
        stmt = ins.values(
            publisher_id=publisher_id,
            chat_id=rule.chat_id,
            turns=rule.turn_number + 1,
            last_ad_turn=None,
            updated_at=now,
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=["publisher_id", "chat_id"],
            set_={"turns": rule.turn_number + 1, "updated_at": now},
        )
    row = session.execute(stmt.returning(chat_turns.c.turns, chat_turns.c.last_ad_turn)).one()
    turn = int(row[0]) - 1
    if rule.force is not None:
        return TurnCheck(turn, rule.force)
    last = row[1]
    allowed = turn >= rule.offset and (last is None or turn - int(last) >= rule.gap or turn < int(last))
    return TurnCheck(turn, allowed)


def record_ad_turn(session: Session, publisher_id: str, chat_id: str, turn: int) -> None:
    session.execute(
        update(chat_turns)
        .where(chat_turns.c.publisher_id == publisher_id, chat_turns.c.chat_id == chat_id)
        .values(last_ad_turn=turn)
    )
