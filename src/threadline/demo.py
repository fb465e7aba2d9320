"""`threadline demo` / `serve --demo`: a ready-to-use org, publisher and running campaign.

Seeding is idempotent. Which rows are "the demo" is remembered in the store (``server_secrets`` row
``demo_state``), so a second run finds them even with a fresh data dir. Keys are stored hashed, so the
plain demo keys are kept in ``<data dir>/demo-keys.json`` (mode 0600) when minted; if that file is
lost, fresh demo keys are minted (the old ones stop working at once).
"""

from __future__ import annotations

import dataclasses
import json
import os
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from threadline.advertiser import launch, review
from threadline.advertiser import service as advertiser_service
from threadline.advertiser.schemas import CampaignCreate
from threadline.auth import keys
from threadline.config import Settings
from threadline.context import AppContext
from threadline.kit.ids import new_id
from threadline.operator import orgs
from threadline.publishing.demo import seed_threads
from threadline.store.models import ApiKey, Campaign, Org, Publisher, ServerSecret

STATE_NAME = "demo_state"
KEYS_FILE = "demo-keys.json"
ORG_NAME = "Acme Inc."
ORG_URL = "https://acme.example.com"
PUBLISHER_NAME = "Demo Chat"
EVENT_KEY_LABEL = "demo"

# Realistic enough that a running-themed conversation matches at once.
DEMO_CAMPAIGN: dict[str, Any] = {
    "name": "Acme Runners: spring marathon season",
    "description": "Demo campaign seeded by `threadline demo`.",
    "budget": {"lifetime_spend_limit_micros": 100_000_000},
    "pricing_model": "cpm",
    "ad_groups": [
        {
            "name": "Marathon training",
            "context_hints": [
                "running shoes",
                "marathon training",
                "half marathon",
                "long run",
                "race day",
                "running injury prevention",
            ],
            "bidding_config": {"max_bid_micros": 3_000_000},
            "ads": [
                {
                    "name": "Glide 3 hero card",
                    "creative": {
                        "type": "chat_card",
                        "title": "Acme Glide 3 Running Shoes",
                        "body": "Cushioned, light and built for race day. Free returns for 60 days.",
                        "target_url": "https://acme.example.com/shoes/glide-3",
                        "cta_text": "Shop now",
                    },
                },
                {
                    "name": "Training plan card",
                    "creative": {
                        "type": "chat_card",
                        "title": "Free 16-week marathon plan",
                        "body": "A coach-built plan that adapts to your pace. Pair it with the Glide 3.",
                        "target_url": "https://acme.example.com/plans/marathon",
                        "cta_text": "Get the plan",
                    },
                },
            ],
        },
        {
            "name": "Trail runners",
            "context_hints": ["trail running", "ultramarathon", "hiking boots", "running in the rain"],
            "bidding_config": {"max_bid_micros": 2_000_000},
            "ads": [
                {
                    "name": "Next race poll",
                    "creative": {
                        "type": "poll",
                        "question": "What's your next race distance?",
                        "options": ["5K or 10K", "Half marathon", "Marathon", "Ultra"],
                        "target_url": "https://acme.example.com/races",
                    },
                }
            ],
        },
    ],
}


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
        _write_keys(keys_path, state, plain)
    else:
        found = _read_keys(keys_path, state)
        if found is None:
            found = _remint_keys(ctx, state)
            _write_keys(keys_path, state, found)
        plain = found
    campaign_id = _ensure_campaign(ctx, state)
    if campaign_id != state.campaign_id:
        state.campaign_id = campaign_id
        _save_state(ctx, state)
    threads = seed_threads(ctx, state.org_id)
    return DemoInfo(
        threads_profile_id=threads.profile_id,
        threads_username=threads.username,
        threads_token=threads.access_token,
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
    with ctx.db.read() as s:
        row = s.get(ServerSecret, STATE_NAME)
        if row is None:
            return None
        try:
            raw = json.loads(row.value)
            state = _State(raw["org_id"], raw["publisher_id"], raw.get("campaign_id"))
        except (ValueError, KeyError, TypeError):
            return None
        org = s.execute(select(Org).where(Org.id == state.org_id, Org.deleted_at.is_(None))).scalar()
        publisher = s.execute(select(Publisher).where(Publisher.id == state.publisher_id)).scalar()
    return state if org is not None and publisher is not None else None


def _save_state(ctx: AppContext, state: _State) -> None:
    value = json.dumps(dataclasses.asdict(state), separators=(",", ":"))
    with ctx.db.write() as s:
        row = s.get(ServerSecret, STATE_NAME)
        if row is None:
            s.add(ServerSecret(name=STATE_NAME, value=value, created_at=ctx.clock.now_s()))
        else:
            row.value = value


# --- org, card, event key, publisher ------------------------------------------------------------------


def _create_parties(ctx: AppContext) -> tuple[_State, dict[str, str]]:
    card = orgs.attach_card(ctx.payments, "tok_visa")
    with ctx.db.write() as s:
        new = orgs.create_org(s, ctx.clock, name=ORG_NAME, url=ORG_URL)
        orgs.add_payment_method(s, ctx.clock, ctx.payments, new.org.id, card)
        _, event_key = keys.mint_key(s, ctx.clock, kind="event", org_id=new.org.id, label=EVENT_KEY_LABEL)
        publisher = Publisher(
            id=new_id(),
            name=PUBLISHER_NAME,
            supply="direct",
            floor_cpm_micros=1_000_000,
            allowed_origins=[],
            created_at=ctx.clock.now_s(),
        )
        s.add(publisher)
        s.flush()
        _, publisher_key = keys.mint_key(
            s, ctx.clock, kind="publisher", publisher_id=publisher.id, label="demo"
        )
    state = _State(new.org.id, publisher.id)
    return state, {"advertiser_key": new.api_key, "event_key": event_key, "publisher_key": publisher_key}


def _remint_keys(ctx: AppContext, state: _State) -> dict[str, str]:
    """The plain keys are lost (hashes only in the store): replace all three."""
    now = ctx.clock.now_s()
    with ctx.db.write() as s:
        advertiser_key, _ = orgs.rotate_advertiser_key(s, ctx.clock, state.org_id, 0)
        keys.revoke_keys(s, kind="event", org_id=state.org_id, at=now)
        _, event_key = keys.mint_key(s, ctx.clock, kind="event", org_id=state.org_id, label=EVENT_KEY_LABEL)
        _revoke_publisher_keys(s, state.publisher_id, now)
        _, publisher_key = keys.mint_key(
            s, ctx.clock, kind="publisher", publisher_id=state.publisher_id, label="demo"
        )
    ctx.keys.clear()
    return {"advertiser_key": advertiser_key, "event_key": event_key, "publisher_key": publisher_key}


def _revoke_publisher_keys(session: Session, publisher_id: str, at: int) -> None:
    session.execute(
        update(ApiKey)
        .where(ApiKey.kind == "publisher", ApiKey.publisher_id == publisher_id, ApiKey.revoked_at.is_(None))
        .values(revoked_at=at)
    )


def _read_keys(path: Path, state: _State) -> dict[str, str] | None:
    try:
        raw = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(raw, dict) or (raw.get("org_id"), raw.get("publisher_id")) != (
        state.org_id,
        state.publisher_id,
    ):
        return None
    names = ("advertiser_key", "event_key", "publisher_key")
    if not all(isinstance(raw.get(n), str) for n in names):
        return None
    return {n: raw[n] for n in names}


def _write_keys(path: Path, state: _State, plain: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump({"org_id": state.org_id, "publisher_id": state.publisher_id, **plain}, fh, indent=2)
        fh.write("\n")
    os.replace(tmp, path)


# --- the running campaign ---------------------------------------------------------------------------


def _ensure_campaign(ctx: AppContext, state: _State) -> str:
    if state.campaign_id is not None:
        with ctx.db.read() as s:
            existing = s.execute(
                select(Campaign).where(Campaign.id == state.campaign_id, Campaign.org_id == state.org_id)
            ).scalar()
        if existing is not None and existing.status != "archived":
            if existing.status == "paused" and existing.review_status == "approved":
                advertiser_service.campaign_action(ctx, state.org_id, existing.id, "activate")
            return existing.id
    # The same path as POST /v1/campaigns (validation, deposit, review), except that the launch
    # window is zero so the default start_time is now and the demo serves at once.
    launch_ctx = dataclasses.replace(
        ctx, settings=ctx.settings.model_copy(update={"launch_window_seconds": 0})
    )
    body = CampaignCreate.model_validate_json(json.dumps(DEMO_CAMPAIGN))
    created = launch.create_campaign(launch_ctx, state.org_id, body, idempotency_key=None)
    campaign_id = str(created["id"])
    if created["review_status"] != "approved":
        with ctx.db.write() as s:
            review.approve(s, ctx.clock, campaign_id)
    advertiser_service.campaign_action(ctx, state.org_id, campaign_id, "activate")
    return campaign_id


# --- what the operator reads ---------------------------------------------------------------------------


def banner(
    info: DemoInfo,
    settings: Settings,
    *,
    admin_token: str | None = None,
) -> str:
    base = settings.public_base_url.rstrip("/")
    token_file = Path(settings.data_dir) / "admin-token"
    if settings.admin_token:
        admin = "$THREADLINE_ADMIN_TOKEN"
        admin_note = "from THREADLINE_ADMIN_TOKEN"
    else:
        admin = f"$(cat {shlex.quote(str(token_file))})"
        admin_note = f"in {token_file}" + (f" (new: {admin_token})" if admin_token else "")
    bid = json.dumps(
        {
            "userId": "demo-user",
            "chatId": "demo-chat",
            "messages": [
                {
                    "role": "user",
                    "content": "I'm training for my first marathon, which running shoes should I get?",
                },
                {
                    "role": "assistant",
                    "content": "For marathon training you want cushioning and a light upper.",
                },
            ],
            "production": False,
        }
    )
    return "\n".join(
        [
            "",
            "Threadline demo is ready",
            f"  org            {info.org_id}  ({ORG_NAME}, card tok_visa)",
            f"  campaign       {info.campaign_id}  (approved, active)",
            f"  publisher      {info.publisher_id}  ({PUBLISHER_NAME}, supply direct)",
            f"  advertiser key {info.advertiser_key}",
            f"  event key      {info.event_key}",
            f"  publisher key  {info.publisher_key}",
            f"  threads        @{info.threads_username}  profile {info.threads_profile_id}",
            f"  threads token  {info.threads_token}  (long-lived, every scope)",
            f"  admin token    {admin_note}",
            f"  keys file      {info.keys_file}",
            "",
            "Try:",
            f"  curl -s {base}/v1/campaigns -H 'Authorization: Bearer {info.advertiser_key}'",
            f"  curl -s -X POST {base}/api/v1/ssp/bid-request -H 'thrad-api-key: {info.publisher_key}' \\",
            "       -H 'User-Agent: demo' -H 'X-Forwarded-For: 203.0.113.7' -H 'Content-Type: application/json' \\",
            f"       -d {shlex.quote(bid)}",
            f"  curl -s -X POST {base}/v1/api/collect -H 'Authorization: Bearer {info.event_key}' \\",
            "       -H 'Content-Type: application/json' -d '{\"event_name\": \"page_view\"}'",
            f'  curl -s {base}/admin/v1/review_queue -H "Authorization: Bearer {admin}"',
            f"  curl -s -X POST {base}/v1.0/me/threads -d media_type=TEXT -d 'text=Hello Threads' \\",
            f"       -d access_token={info.threads_token}",
            f"  curl -s -X POST {base}/v1.0/me/threads_publish -d creation_id=<id from above> \\",
            f"       -d access_token={info.threads_token}",
            f"  open {base}/docs",
            "",
        ]
    )
