"""insights: org-level hourly rollup (backfilled from insights_hourly); drop the redundant (org, hour) index

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

SeqPK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
METRICS = [
    "impressions",
    "viewable_impressions",
    "clicks",
    "spend_micros",
    "conversions",
    "conversion_value_micros",
]
KEY = ["org_id", "hour", "supply", "country"]


def upgrade() -> None:
    op.create_table(
        "insights_org_hourly",
        sa.Column("id", SeqPK, autoincrement=True, nullable=False),
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.Column("hour", sa.BigInteger(), nullable=False),
        sa.Column("supply", sa.String(length=64), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        *(sa.Column(m, sa.BigInteger(), nullable=False) for m in METRICS),
        sa.PrimaryKeyConstraint("id", name="pk_insights_org_hourly"),
        # Also the read index: account-level queries range over (org_id, hour).
        sa.UniqueConstraint(*KEY, name="uq_insights_org_hourly_org_id_hour_supply_country"),
    )
    # Rows recorded before this revision: the org table must equal the sum of the ad-level rows from the
    # start, since rollup writers only ever add to it.
    key, metrics = ", ".join(KEY), ", ".join(METRICS)
    sums = ", ".join(f"SUM({m})" for m in METRICS)
    op.execute(
        f"INSERT INTO insights_org_hourly ({key}, {metrics}) "
        f"SELECT {key}, {sums} FROM insights_hourly GROUP BY {key}"
    )
    # A prefix of ix_insights_hourly_org_hour_ad and of the 0004 covering index: it only cost writes.
    op.drop_index("ix_insights_hourly_org_hour", table_name="insights_hourly")


def downgrade() -> None:
    op.create_index("ix_insights_hourly_org_hour", "insights_hourly", ["org_id", "hour"])
    op.drop_table("insights_org_hourly")
