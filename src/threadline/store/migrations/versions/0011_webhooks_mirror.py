"""publishing: webhook subscriptions and deliveries, upstream links and mirrors, app secrets encrypted

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

SeqPK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("threads_apps") as batch:
        batch.add_column(sa.Column("secret_encrypted", sa.Text(), nullable=True))
    op.create_table(
        "threads_webhook_subscriptions",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("app_id", sa.BigInteger(), nullable=False),
        sa.Column("callback_url", sa.String(2048), nullable=False),
        sa.Column("verify_token_encrypted", sa.Text(), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["app_id"], ["threads_apps.id"], name="fk_threads_webhook_subscriptions_app_id_threads_apps"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_threads_webhook_subscriptions"),
        sa.UniqueConstraint(
            "app_id", "callback_url", name="uq_threads_webhook_subscriptions_app_id_callback_url"
        ),
    )
    op.create_table(
        "threads_webhook_deliveries",
        sa.Column("id", SeqPK, autoincrement=True, nullable=False),
        sa.Column("subscription_id", sa.BigInteger(), nullable=False),
        sa.Column("app_id", sa.BigInteger(), nullable=False),
        sa.Column("field", sa.String(16), nullable=False),
        sa.Column("media_id", sa.BigInteger(), nullable=False),
        sa.Column("target_id", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(500), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.Column("delivered_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_threads_webhook_deliveries"),
    )
    op.create_index("ix_threads_webhook_deliveries_app_id_id", "threads_webhook_deliveries", ["app_id", "id"])
    op.create_table(
        "threads_upstream_links",
        sa.Column("profile_id", sa.BigInteger(), nullable=False),
        sa.Column("base_url", sa.String(2048), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("token_encrypted", sa.Text(), nullable=False),
        sa.Column("token_expires_at", sa.BigInteger(), nullable=False),
        sa.Column("token_refreshed_at", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["profile_id"],
            ["threads_profiles.id"],
            name="fk_threads_upstream_links_profile_id_threads_profiles",
        ),
        sa.PrimaryKeyConstraint("profile_id", name="pk_threads_upstream_links"),
    )
    op.create_table(
        "threads_mirrors",
        sa.Column("post_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("profile_id", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("upstream_container_id", sa.String(64), nullable=True),
        sa.Column("upstream_children", sa.JSON(), nullable=False),
        sa.Column("upstream_media_id", sa.String(64), nullable=True),
        sa.Column("error", sa.String(500), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("post_id", name="pk_threads_mirrors"),
    )
    op.create_index("ix_threads_mirrors_profile_id", "threads_mirrors", ["profile_id"])


def downgrade() -> None:
    for table in (
        "threads_mirrors",
        "threads_upstream_links",
        "threads_webhook_deliveries",
        "threads_webhook_subscriptions",
    ):
        op.drop_table(table)
    with op.batch_alter_table("threads_apps") as batch:
        batch.drop_column("secret_encrypted")
