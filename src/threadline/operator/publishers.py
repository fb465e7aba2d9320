"""Publishers: the chat apps that ask for ads, each with its own `pk_...` key."""

from __future__ import annotations

from threadline.auth import keys
from threadline.context import AppContext
from threadline.kit.errors import not_found
from threadline.kit.ids import is_uuid, new_id
from threadline.kit.pagination import PageParams, keyset_page
from threadline.operator import repository
from threadline.operator.listing import to_page
from threadline.operator.schemas import NewPublisherOut, Page, PublisherCreate, PublisherOut
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


def get_publisher(ctx: AppContext, publisher_id: str) -> PublisherOut:
    with ctx.db.read() as s:
        pub = repository.find_publisher(s, publisher_id) if is_uuid(publisher_id) else None
        if pub is None:
            raise not_found("publisher", "id")
        return publisher_out(pub)


def replace_publisher_key(ctx: AppContext, publisher_id: str, label: str = "default") -> str:
    """Revoke every key of the publisher and mint one new key (returned plain, shown once)."""
    now = ctx.clock.now_s()
    with ctx.db.write() as s:
        if repository.find_publisher(s, publisher_id) is None:
            raise not_found("publisher", "id")
        keys.revoke_publisher_keys(s, publisher_id, now)
        _, plain = keys.mint_key(s, ctx.clock, kind="publisher", publisher_id=publisher_id, label=label)
    ctx.keys.clear()
    return plain
