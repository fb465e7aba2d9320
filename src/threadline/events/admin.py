"""`GET /admin/v1/orgs/{org_id}/events`: what was stored, newest first (like Snowplow Micro)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from threadline.events import repository
from threadline.events.schemas import EventList, EventRow
from threadline.kit.schemas import error_responses
from threadline.operator.deps import AdminAuth, AdminRoute, Ctx
from threadline.operator.orgs import get_org
from threadline.store.models import CollectEvent, Conversion

router = APIRouter(tags=["operator"], route_class=AdminRoute, dependencies=[AdminAuth])


def iso_z(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def collect_row(e: CollectEvent) -> dict[str, Any]:
    return {
        "id": e.id,
        "object": "collect_event",
        "event_name": e.event_name,
        "tag_id": e.tag_id,
        "event_id": e.event_id,
        "timestamp": e.timestamp,
        **e.data,
        "key_id": e.key_id,
        "dedupe_key": e.dedupe_key,
        "received_at": e.received_at,
    }


def conversion_row(c: Conversion) -> dict[str, Any]:
    return {
        "id": c.id,
        "object": "conversion",
        "click_id": c.click_id,
        "conversion_time": iso_z(c.conversion_time),
        "conversion_value": c.conversion_value_micros / 1_000_000,
        "conversion_value_micros": c.conversion_value_micros,
        "currency": c.currency,
        "event_type": c.event_type,
        "order_id": c.order_id,
        "event_id": c.event_id,
        **c.data,
        "campaign_id": c.campaign_id,
        "ad_group_id": c.ad_group_id,
        "ad_id": c.ad_id,
        "key_id": c.key_id,
        "dedupe_key": c.dedupe_key,  # the explicit key: idem:<Idempotency-Key>, else event_id:<event_id>
        "order_key": c.order_key,
        "received_at": c.received_at,
    }


@router.get(
    "/admin/v1/orgs/{org_id}/events",
    response_model=EventList,
    responses=error_responses(400, 401, 404),
    summary="Stored S2S events of an organization, newest first",
)
def list_events(
    org_id: str,
    ctx: Ctx,
    kind: Annotated[Literal["collect", "conversion"], Query()] = "collect",
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> EventList:
    with ctx.db.read() as s:
        get_org(s, org_id)
        if kind == "collect":
            rows = [collect_row(e) for e in repository.latest_collect(s, org_id, limit + 1)]
        else:
            rows = [conversion_row(c) for c in repository.latest_conversions(s, org_id, limit + 1)]
    page = [EventRow.model_validate(r) for r in rows[:limit]]
    return EventList(
        data=page,
        count=len(page),
        first_id=page[0].id if page else None,
        last_id=page[-1].id if page else None,
        has_more=len(rows) > limit,
    )
