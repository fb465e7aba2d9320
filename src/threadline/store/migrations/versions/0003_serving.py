"""serving: impressions, chat turn counters, poll votes, pacing periods, index version counter

Revision ID: 0003
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0001"
branch_labels = None
depends_on = None

SeqPK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# Columns whose change can alter what the serving index holds. spent_micros and updated_at are left out
# on purpose: spend moves on every impression and must not invalidate the whole index.
WATCHED = {
    "campaigns": (
        "status, review_status, start_time, end_time, lifetime_spend_limit_micros, "
        "recurring_frequency, pricing_model, target_countries"
    ),
    "ad_groups": "status, context_hints, max_bid_micros, creative_type",
    "ads": "status, creative, ad_group_id",
    "orgs": "name, url, deleted_at",
}


def upgrade() -> None:
    op.create_table(
        "impressions",
        sa.Column("seq", SeqPK, autoincrement=True, nullable=False),
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("bid_id", sa.String(36), nullable=False),
        sa.Column("org_id", sa.String(36), nullable=False),
        sa.Column("campaign_id", sa.String(36), nullable=False),
        sa.Column("ad_group_id", sa.String(36), nullable=False),
        sa.Column("ad_id", sa.String(36), nullable=False),
        sa.Column("publisher_id", sa.String(36), nullable=False),
        sa.Column("supply", sa.String(64), nullable=False),
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("chat_id", sa.String(256), nullable=True),
        sa.Column("user_id", sa.String(256), nullable=False),
        sa.Column("ad_format", sa.String(32), nullable=False),
        sa.Column("pricing_model", sa.String(8), nullable=False),
        sa.Column("price_micros", sa.BigInteger(), nullable=False),  # clearing CPM
        sa.Column("charged_micros", sa.BigInteger(), nullable=False),  # charged for the impression
        sa.Column("click_price_micros", sa.BigInteger(), nullable=False),  # cpc: charge of the first click
        sa.Column("production", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("viewed_at", sa.BigInteger(), nullable=True),
        sa.Column("first_clicked_at", sa.BigInteger(), nullable=True),
        sa.Column("last_click_id", sa.String(36), nullable=True),
        sa.Column("last_click_at", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("seq", name="pk_impressions"),
        sa.UniqueConstraint("id", name="uq_impressions_id"),
        sa.UniqueConstraint("bid_id", name="uq_impressions_bid_id"),
    )
    op.create_index("ix_impressions_campaign_id", "impressions", ["campaign_id"])
    op.create_index("ix_impressions_ad_id", "impressions", ["ad_id"])

    op.create_table(
        "chat_turns",
        sa.Column("publisher_id", sa.String(36), nullable=False),
        sa.Column("chat_id", sa.String(256), nullable=False),
        sa.Column("turns", sa.BigInteger(), nullable=False),
        sa.Column("last_ad_turn", sa.BigInteger(), nullable=True),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("publisher_id", "chat_id", name="pk_chat_turns"),
    )

    op.create_table(
        "poll_votes",
        sa.Column("seq", SeqPK, autoincrement=True, nullable=False),
        sa.Column("bid_id", sa.String(36), nullable=False),
        sa.Column("ad_id", sa.String(36), nullable=False),
        sa.Column("option_id", sa.String(16), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_poll_votes"),
        sa.UniqueConstraint("bid_id", name="uq_poll_votes_bid_id"),
    )
    op.create_index("ix_poll_votes_ad_id", "poll_votes", ["ad_id"])

    op.create_table(
        "campaign_pacing",
        sa.Column("campaign_id", sa.String(36), nullable=False),
        sa.Column("period_start", sa.BigInteger(), nullable=False),
        sa.Column("cap_micros", sa.BigInteger(), nullable=False),
        sa.Column("spent_micros", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("campaign_id", "period_start", name="pk_campaign_pacing"),
    )

    op.create_table(
        "serving_state",
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_serving_state"),
    )
    op.execute("INSERT INTO serving_state (name, version) VALUES ('index', 1)")
    _create_triggers()


def _create_triggers() -> None:
    bump = "UPDATE serving_state SET version = version + 1 WHERE name = 'index'"
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE OR REPLACE FUNCTION threadline_bump_serving_version() RETURNS trigger AS $$ "
            f"BEGIN {bump}; RETURN NULL; END $$ LANGUAGE plpgsql"
        )
        for table, cols in WATCHED.items():
            op.execute(
                f"CREATE TRIGGER trg_serving_{table} AFTER INSERT OR DELETE OR UPDATE OF {cols} "
                f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION threadline_bump_serving_version()"
            )
        return
    for table, cols in WATCHED.items():
        for name, event in (("ins", "INSERT"), ("del", "DELETE"), ("upd", f"UPDATE OF {cols}")):
            op.execute(
                f"CREATE TRIGGER trg_serving_{table}_{name} AFTER {event} ON {table} BEGIN {bump}; END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in WATCHED:
            op.execute(f"DROP TRIGGER IF EXISTS trg_serving_{table} ON {table}")
        op.execute("DROP FUNCTION IF EXISTS threadline_bump_serving_version()")
    else:
        for table in WATCHED:
            for name in ("ins", "del", "upd"):
                op.execute(f"DROP TRIGGER IF EXISTS trg_serving_{table}_{name}")
    op.drop_table("serving_state")
    op.drop_table("campaign_pacing")
    op.drop_index("ix_poll_votes_ad_id", table_name="poll_votes")
    op.drop_table("poll_votes")
    op.drop_table("chat_turns")
    op.drop_index("ix_impressions_ad_id", table_name="impressions")
    op.drop_index("ix_impressions_campaign_id", table_name="impressions")
    op.drop_table("impressions")
