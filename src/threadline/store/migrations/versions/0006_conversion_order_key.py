"""events: a conversion's order key is kept beside its explicit key, each unique per org; backfilled

Until now a conversion had one dedupe key, the first of Idempotency-Key, event_id and
(click_id, event_type, order_id) that applied. Now `dedupe_key` holds only the explicit key
(Idempotency-Key, else event_id) and `order_key` the order key, and either one already stored makes a
conversion a duplicate.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import hashlib
import json

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

MAX_KEY = 600  # the column width
BATCH = 1000
TEMP_INDEX = "ix_conversions_order_key_backfill"
UNIQUE = "uq_conversions_org_id_order_key"

conversions = sa.table(
    "conversions",
    sa.column("seq", sa.BigInteger()),
    sa.column("org_id", sa.String()),
    sa.column("click_id", sa.String()),
    sa.column("event_type", sa.String()),
    sa.column("order_id", sa.String()),
    sa.column("dedupe_key", sa.String()),
    sa.column("order_key", sa.String()),
)


def order_key(click_id: str, event_type: str, order_id: str) -> str:
    """The key format of threadline.events.service at this revision (frozen here, as migrations are)."""
    readable = "order:" + json.dumps([click_id, event_type, order_id], separators=(",", ":"))
    if len(readable) <= MAX_KEY:
        return readable
    return "sha256:" + hashlib.sha256(readable.encode("utf-8", "surrogatepass")).hexdigest()


def upgrade() -> None:
    bind = op.get_bind()
    with op.batch_alter_table("conversions") as batch:
        batch.add_column(sa.Column("order_key", sa.String(length=600), nullable=True))
    # For the duplicate search below; the unique constraint replaces it.
    op.create_index(TEMP_INDEX, "conversions", ["org_id", "order_key"])

    c = conversions.c
    update = (
        conversions.update()
        .where(c.seq == sa.bindparam("b_seq"))
        .values(order_key=sa.bindparam("b_order_key"), dedupe_key=sa.bindparam("b_dedupe_key"))
    )
    last = 0
    while True:
        rows = bind.execute(
            sa.select(c.seq, c.click_id, c.event_type, c.order_id, c.dedupe_key)
            .where(c.seq > last, c.order_id.is_not(None), c.order_id != "")
            .order_by(c.seq)
            .limit(BATCH)
        ).all()
        if not rows:
            break
        params = []
        for row in rows:
            key = order_key(row.click_id, row.event_type, row.order_id)
            # A row stored under the old third rule carried no explicit key: its dedupe_key was this key.
            explicit = None if row.dedupe_key == key else row.dedupe_key
            params.append({"b_seq": row.seq, "b_order_key": key, "b_dedupe_key": explicit})
        bind.execute(update, params)
        last = rows[-1].seq

    # The bug this revision fixes stored some orders twice (with a key and without, or under two keys).
    # Those rows were acknowledged `ok` and are counted in insights, so they stay; the earliest holds the
    # order key and the later copies keep only their explicit key.
    earlier = conversions.alias("earlier")
    bind.execute(
        conversions.update()
        .where(
            c.order_key.is_not(None),
            sa.exists()
            .where(earlier.c.org_id == c.org_id, earlier.c.order_key == c.order_key, earlier.c.seq < c.seq)
            .correlate(conversions),
        )
        .values(order_key=None)
    )
    op.drop_index(TEMP_INDEX, table_name="conversions")
    with op.batch_alter_table("conversions") as batch:
        batch.create_unique_constraint(UNIQUE, ["org_id", "order_key"])


def downgrade() -> None:
    c = conversions.c
    # Back to one key per row: a row without an explicit key was deduped by its order key.
    op.get_bind().execute(
        conversions.update()
        .where(c.dedupe_key.is_(None), c.order_key.is_not(None))
        .values(dedupe_key=c.order_key)
    )
    with op.batch_alter_table("conversions") as batch:
        batch.drop_constraint(UNIQUE, type_="unique")
        batch.drop_column("order_key")
