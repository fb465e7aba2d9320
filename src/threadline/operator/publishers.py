"""Publishers: the chat apps that ask for ads, each with its own `pk_...` key."""

from __future__ import annotations

from sqlalchemy.orm import Session

from threadline.auth import keys
from threadline.context import AppContext
from threadline.kit.errors import not_found
from threadline.kit.ids import is_uuid, new_id
from threadline.kit.pagination import PageParams, keyset_page
from threadline.operator import repository
from threadline.operator.listing import to_page
from threadline.operator.schemas import (
    KeyOut,
    KeyRotationOut,
    NewKeyOut,
    NewPublisherOut,
    Page,
    PublisherCreate,
    PublisherKeyCreate,
    PublisherOut,
    PublisherUpdate,
)
from threadline.store.models import Publisher


def publisher_out(p: Publisher) -> PublisherOut:
    return PublisherOut(
        id=p.id,
        name=p.name,
        supply=p.supply,
        floor_cpm_micros=p.floor_cpm_micros,
        allowed_origins=list(p.allowed_origins),
        created_at=p.created_at,
    )


def create_publisher(ctx: AppContext, body: PublisherCreate) -> NewPublisherOut:
    # Duplicates collapse: the same origin written twice is one allowed origin.
    origins = list(dict.fromkeys(body.allowed_origins))
    with ctx.db.write() as s:
        pub = Publisher(
            id=new_id(),
            name=body.name,
            supply=body.supply,
            floor_cpm_micros=body.floor_cpm_micros,
            allowed_origins=origins,
            created_at=ctx.clock.now_s(),
        )
        s.add(pub)
        s.flush()
        _, plain = keys.mint_key(s, ctx.clock, kind="publisher", publisher_id=pub.id, label="default")
    return NewPublisherOut(**publisher_out(pub).model_dump(), api_key=plain)


def list_publishers(ctx: AppContext, params: PageParams) -> Page[PublisherOut]:
    with ctx.db.read() as s:
        page = keyset_page(s, repository.publishers(), seq=Publisher.seq, id_=Publisher.id, params=params)
    return to_page(page, publisher_out)


def _find(session: Session, publisher_id: str) -> Publisher:
    pub = repository.find_publisher(session, publisher_id) if is_uuid(publisher_id) else None
    if pub is None:
        raise not_found("publisher", "id")
    return pub


def get_publisher(ctx: AppContext, publisher_id: str) -> PublisherOut:
    with ctx.db.read() as s:
        return publisher_out(_find(s, publisher_id))


def update_publisher(ctx: AppContext, publisher_id: str, body: PublisherUpdate) -> PublisherOut:
    """Change the floor and/or the allowed origins; serving sees it within its publisher cache (~1 s)."""
    with ctx.db.write() as s:
        pub = _find(s, publisher_id)
        if body.floor_cpm_micros is not None:
            pub.floor_cpm_micros = body.floor_cpm_micros
        if body.allowed_origins is not None:
            pub.allowed_origins = list(dict.fromkeys(body.allowed_origins))
        s.flush()
        return publisher_out(pub)


def list_publisher_keys(ctx: AppContext, publisher_id: str) -> list[KeyOut]:
    """The publisher's keys that still answer (a rotated key shows its expiry), oldest first."""
    with ctx.db.read() as s:
        _find(s, publisher_id)
        rows = keys.live_keys(s, kind="publisher", publisher_id=publisher_id, now=ctx.clock.now_s())
        return [
            KeyOut(id=r.id, label=r.label, created_at=r.created_at, expires_at=r.expires_at) for r in rows
        ]


def create_publisher_key(ctx: AppContext, publisher_id: str, body: PublisherKeyCreate) -> NewKeyOut:
    """One more key next to the live ones (a second integration, or a rotation done by hand)."""
    with ctx.db.write() as s:
        _find(s, publisher_id)
        row, plain = keys.mint_key(
            s, ctx.clock, kind="publisher", publisher_id=publisher_id, label=body.label
        )
    return NewKeyOut(id=row.id, label=row.label, api_key=plain)


def rotate_publisher_key(ctx: AppContext, publisher_id: str) -> KeyRotationOut:
    """A new key; the previous ones keep answering for the rotation grace window, as advertiser keys do."""
    with ctx.db.write() as s:
        _find(s, publisher_id)
        plain, expires_at = keys.rotate_keys(
            s,
            ctx.clock,
            kind="publisher",
            publisher_id=publisher_id,
            grace_seconds=ctx.settings.key_rotation_grace_seconds,
        )
    ctx.keys.clear()  # cached principals carry the old (absent) expiry
    return KeyRotationOut(api_key=plain, previous_key_expires_at=expires_at)


def revoke_publisher_key(ctx: AppContext, publisher_id: str, key_id: str) -> None:
    """Revoke one key of this publisher; an unknown, foreign or already revoked key is not found."""
    with ctx.db.write() as s:
        _find(s, publisher_id)
        revoked = 0
        if is_uuid(key_id):
            revoked = keys.revoke_keys(
                s, kind="publisher", publisher_id=publisher_id, at=ctx.clock.now_s(), key_id=key_id
            )
        if not revoked:
            raise not_found("publisher key", "id")
    ctx.keys.clear()


def replace_publisher_key(ctx: AppContext, publisher_id: str, label: str = "default") -> str:
    """Revoke every key of the publisher and mint one new key (returned plain, shown once)."""
    now = ctx.clock.now_s()
    with ctx.db.write() as s:
        _find(s, publisher_id)
        keys.revoke_keys(s, kind="publisher", publisher_id=publisher_id, at=now)
        _, plain = keys.mint_key(s, ctx.clock, kind="publisher", publisher_id=publisher_id, label=label)
    ctx.keys.clear()
    return plain
