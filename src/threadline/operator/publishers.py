"""Publishers: the chat apps that ask for ads, each with its own `pk_...` key."""

from __future__ import annotations

from threadline.auth import keys
from threadline.context import AppContext
from threadline.kit.ids import new_id
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
