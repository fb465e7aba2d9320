"""insights: covering index for account-level reads, (org, hour, ad) index for ad-level pages

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

METRICS = [
    "impressions",
    "viewable_impressions",
    "clicks",
    "spend_micros",
    "conversions",
    "conversion_value_micros",
]


def upgrade() -> None:
    # Account-level insights sum every rollup row of the org in the window: reading them from an index
    # that holds the metrics avoids one table lookup per row (4x faster on 720k rows). PostgreSQL keeps
    # the metrics as INCLUDE payload; SQLite has no INCLUDE, so they trail the key.
    if op.get_bind().dialect.name == "postgresql":
        op.create_index(
            "ix_insights_hourly_org_hour_cover",
            "insights_hourly",
            ["org_id", "hour", "supply", "country"],
            postgresql_include=METRICS,
        )
    else:
        op.create_index(
            "ix_insights_hourly_org_hour_cover",
            "insights_hourly",
            ["org_id", "hour", "supply", "country", *METRICS],
        )
    # Entity-level pages are read in (hour, entity) order with LIMIT: this order lets the store stop early.
    op.create_index("ix_insights_hourly_org_hour_ad", "insights_hourly", ["org_id", "hour", "ad_id"])


def downgrade() -> None:
    op.drop_index("ix_insights_hourly_org_hour_ad", table_name="insights_hourly")
    op.drop_index("ix_insights_hourly_org_hour_cover", table_name="insights_hourly")
