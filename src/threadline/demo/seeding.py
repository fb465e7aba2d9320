"""Seeding the demo through the services the admin API and the advertiser API use (no SQL of its own).

Seeding is idempotent. Which rows are "the demo" is remembered in the store (server value
``demo_state``), so a second run finds them even with a fresh data dir. Keys are stored hashed, so the
plain demo keys are kept in the keys file when minted; if that file is lost, fresh demo keys are minted
(the old ones stop working at once).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

from threadline.advertiser import launch
from threadline.advertiser import service as advertiser_service
from threadline.advertiser.schemas import CampaignCreate
from threadline.context import AppContext
from threadline.demo.content import DEMO_CAMPAIGN, EVENT_KEY_LABEL, ORG_NAME, ORG_URL, PUBLISHER_NAME
from threadline.demo.keys_file import KEYS_FILE, read_keys, write_keys
from threadline.kit.errors import ApiError
from threadline.operator import event_keys, publishers, review, server_values, service
from threadline.operator.schemas import EventKeyCreate, OrgCreate, PaymentMethodCreate, PublisherCreate

STATE_NAME = "demo_state"


@dataclass(frozen=True)
class DemoInfo:
    org_id: str
    publisher_id: str
    campaign_id: str
    advertiser_key: str
    event_key: str
    publisher_key: str
    keys_file: str
    threads_profile_id: str = ""
    threads_username: str = ""
    threads_token: str = ""
    threads_post_id: str = ""  # a poll post of @acme with replies from @ada (they follow each other)

    def as_dict(self) -> dict[str, str]:
        return dataclasses.asdict(self)


@dataclass
class _State:
    org_id: str
    publisher_id: str
    campaign_id: str | None = None


def seed(ctx: AppContext) -> DemoInfo:
    """Create whatever part of the demo is missing and return its ids and plain keys."""
    keys_path = Path(ctx.settings.data_dir) / KEYS_FILE
    state = _load_state(ctx)
    if state is None:
        state, plain = _create_parties(ctx)
        _save_state(ctx, state)  # before the campaign, so a failure there cannot duplicate the org
        write_keys(keys_path, state.org_id, state.publisher_id, plain)
    else:
        found = read_keys(keys_path, state.org_id, state.publisher_id)
        if found is None:
            found = _remint_keys(ctx, state)
            write_keys(keys_path, state.org_id, state.publisher_id, found)
        plain = found
    campaign_id = _ensure_campaign(ctx, state)
    if campaign_id != state.campaign_id:
        state.campaign_id = campaign_id
        _save_state(ctx, state)
    from threadline.publishing.demo import seed_threads

    threads = seed_threads(ctx, state.org_id)
    return DemoInfo(
        threads_profile_id=threads.profile_id,
        threads_username=threads.username,
        threads_token=threads.access_token,
        threads_post_id=threads.post_id,
        org_id=state.org_id,
        publisher_id=state.publisher_id,
        campaign_id=campaign_id,
        advertiser_key=plain["advertiser_key"],
        event_key=plain["event_key"],
        publisher_key=plain["publisher_key"],
        keys_file=str(keys_path),
    )


# --- the store's memory of the demo ---------------------------------------------------------------


def _load_state(ctx: AppContext) -> _State | None:
    value = server_values.read(ctx, STATE_NAME)
    if value is None:
        return None
    try:
        raw = json.loads(value)
        state = _State(raw["org_id"], raw["publisher_id"], raw.get("campaign_id"))
    except (ValueError, KeyError, TypeError):
        return None
    try:  # a deleted org or publisher means the demo has to be made again
        service.get_org(ctx, state.org_id)
        publishers.get_publisher(ctx, state.publisher_id)
    except ApiError:
        return None
    return state


def _save_state(ctx: AppContext, state: _State) -> None:
    server_values.write(ctx, STATE_NAME, json.dumps(dataclasses.asdict(state), separators=(",", ":")))


# --- org, card, event key, publisher ------------------------------------------------------------------


def _create_parties(ctx: AppContext) -> tuple[_State, dict[str, str]]:
    org, _ = service.create_org_with_card(
        ctx, OrgCreate(name=ORG_NAME, url=ORG_URL), PaymentMethodCreate(token="tok_visa")
    )
    event_key = event_keys.create_event_key(ctx, org.id, EventKeyCreate(label=EVENT_KEY_LABEL))
    publisher = publishers.create_publisher(ctx, PublisherCreate(name=PUBLISHER_NAME))
    plain = {
        "advertiser_key": org.api_key,
        "event_key": event_key.api_key,
        "publisher_key": publisher.api_key,
    }
    return _State(org.id, publisher.id), plain


def _remint_keys(ctx: AppContext, state: _State) -> dict[str, str]:
    """The plain keys are lost (hashes only in the store): replace all three, the old ones dead at once."""
    service.revoke_api_key(ctx, state.org_id)
    advertiser_key = service.rotate_api_key(ctx, state.org_id).api_key  # no live key left to keep in grace
    event_key = event_keys.replace_event_keys(ctx, state.org_id, EventKeyCreate(label=EVENT_KEY_LABEL))
    publisher_key = publishers.replace_publisher_key(ctx, state.publisher_id)
    return {"advertiser_key": advertiser_key, "event_key": event_key.api_key, "publisher_key": publisher_key}


# --- the running campaign ---------------------------------------------------------------------------


def _ensure_campaign(ctx: AppContext, state: _State) -> str:
    if state.campaign_id is not None:
        try:
            existing = advertiser_service.get_campaign(ctx, state.org_id, state.campaign_id)
        except ApiError:
            existing = None
        if existing is not None and existing["status"] != "archived":
            if existing["status"] == "paused" and existing["review_status"] == "approved":
                advertiser_service.campaign_action(ctx, state.org_id, existing["id"], "activate")
            return str(existing["id"])
    # The same path as POST /v1/campaigns (validation, deposit, review), except that the launch
    # window is zero so the default start_time is now and the demo serves at once.
    launch_ctx = dataclasses.replace(
        ctx, settings=ctx.settings.model_copy(update={"launch_window_seconds": 0})
    )
    body = CampaignCreate.model_validate_json(json.dumps(DEMO_CAMPAIGN))
    created = launch.create_campaign(launch_ctx, state.org_id, body, idempotency_key=None)
    campaign_id = str(created["id"])
    if created["review_status"] != "approved":
        review.approve(ctx, campaign_id)
    advertiser_service.campaign_action(ctx, state.org_id, campaign_id, "activate")
    return campaign_id
