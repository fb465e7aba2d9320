"""The campaign tree's entities (campaigns, ad groups, ads) as other slices name them: id, name, parents.

Insights labels its rows with these; the advertiser slice owns the tables, so the queries live here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from threadline.store.models import Ad, AdGroup, Campaign

_MODELS: dict[str, type[Campaign] | type[AdGroup] | type[Ad]] = {
    "campaign": Campaign,
    "ad_group": AdGroup,
    "ad": Ad,
}


@dataclass(frozen=True)
class Entity:
    id: str
    name: str
    campaign_id: str | None
    ad_group_id: str | None
    created_at: int


def find_entity(session: Session, org_id: str, level: str, entity_id: str) -> Entity | None:
    """The org's campaign, ad group or ad (``level``) with this id."""
    model = _MODELS[level]
    found = session.execute(
        select(*_columns(level)).where(model.id == entity_id, model.org_id == org_id)
    ).first()
    return None if found is None else _entity(level, found)


def load_entities(
    session: Session, org_id: str, level: str, within: tuple[str, str] | None = None
) -> dict[str, Entity]:
    """Every entity of ``level`` of the org, archived ones included; ``within`` = (level, id) of an
    ancestor (or the level itself) narrows them to that subtree."""
    model = _MODELS[level]
    query = select(*_columns(level)).where(model.org_id == org_id)
    if within is not None:
        within_level, within_id = within
        column = model.id if within_level == level else getattr(model, f"{within_level}_id")
        query = query.where(column == within_id)
    return {row.id: _entity(level, row) for row in session.execute(query)}


def ids_containing(
    session: Session, org_id: str, level: str, child_level: str, child_ids: Iterable[str]
) -> set[str]:
    """Ids of ``level`` entities having a child (ad group or ad) whose id is among ``child_ids``."""
    model = _MODELS[child_level]
    column = getattr(model, f"{level}_id")
    rows = session.execute(
        select(column).where(model.org_id == org_id, model.id.in_(list(child_ids))).distinct()
    )
    return {r[0] for r in rows}


def _columns(level: str) -> list[Any]:
    model = _MODELS[level]
    columns: list[Any] = [model.id, model.name, model.created_at]
    if level in ("ad_group", "ad"):
        columns.append(model.campaign_id)  # type: ignore[union-attr]
    if level == "ad":
        columns.append(Ad.ad_group_id)
    return columns


def _entity(level: str, row: Any) -> Entity:
    return Entity(
        id=row.id,
        name=row.name,
        campaign_id=row.id if level == "campaign" else row.campaign_id,
        ad_group_id=row.id if level == "ad_group" else (row.ad_group_id if level == "ad" else None),
        created_at=row.created_at,
    )
