"""insights: campaign-level hourly rollup (backfilled from insights_hourly)

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
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
KEY = ["campaign_id", "hour", "supply", "country"]


def upgrade() -> None:
    op.create_table(
        "insights_campaign_hourly",
        sa.Column("id", SeqPK, autoincrement=True, nullable=False),
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.Column("campaign_id", sa.String(length=36), nullable=False),
        sa.Column("hour", sa.BigInteger(), nullable=False),
        sa.Column("supply", sa.String(length=64), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        *(sa.Column(m, sa.BigInteger(), nullable=False) for m in METRICS),
        sa.PrimaryKeyConstraint("id", name="pk_insights_campaign_hourly"),
        # Also the read index: campaign-scoped queries range over (campaign_id, hour).
        sa.UniqueConstraint(*KEY, name="uq_insights_campaign_hourly_campaign_id_hour_supply_country"),
    )
    # Rows recorded before this revision: the campaign table must equal the sum of the ad-level rows from
    # the start, since rollup writers only ever add to it. A campaign belongs to one org, so org_id is
    # constant within each group.
    key, metrics = ", ".join(KEY), ", ".join(METRICS)
    sums = ", ".join(f"SUM({m})" for m in METRICS)
    op.execute(
        f"INSERT INTO insights_campaign_hourly (org_id, {key}, {metrics}) "
        f"SELECT MIN(org_id), {key}, {sums} FROM insights_hourly GROUP BY {key}"
    )


def downgrade() -> None:
    op.drop_table("insights_campaign_hourly")
