"""Event keys (`ek_...`): what an org's backend presents to the Events API."""

from __future__ import annotations

from threadline.auth import keys
from threadline.context import AppContext
from threadline.kit.errors import not_found
from threadline.kit.ids import is_uuid
from threadline.operator import orgs
from threadline.operator.schemas import EventKeyCreate, EventKeyOut


def create_event_key(ctx: AppContext, org_id: str, body: EventKeyCreate) -> EventKeyOut:
    with ctx.db.write() as s:
        orgs.get_org(s, org_id)
        row, plain = keys.mint_key(s, ctx.clock, kind="event", org_id=org_id, label=body.label)
    return EventKeyOut(id=row.id, label=row.label, api_key=plain)


def revoke_event_key(ctx: AppContext, org_id: str, key_id: str) -> None:
    """Revoke one event key of this org; an unknown, foreign or already revoked key is not found."""
    with ctx.db.write() as s:
        orgs.get_org(s, org_id)
        revoked = 0
        if is_uuid(key_id):
            revoked = keys.revoke_keys(s, kind="event", org_id=org_id, at=ctx.clock.now_s(), key_id=key_id)
        if not revoked:
            raise not_found("event key", "id")
    ctx.keys.clear()


def replace_event_keys(ctx: AppContext, org_id: str, body: EventKeyCreate) -> EventKeyOut:
    """Revoke every event key of the org and mint one new key (the demo, when its plain keys are lost)."""
    with ctx.db.write() as s:
        orgs.get_org(s, org_id)
        keys.revoke_keys(s, kind="event", org_id=org_id, at=ctx.clock.now_s())
        row, plain = keys.mint_key(s, ctx.clock, kind="event", org_id=org_id, label=body.label)
    ctx.keys.clear()
    return EventKeyOut(id=row.id, label=row.label, api_key=plain)
