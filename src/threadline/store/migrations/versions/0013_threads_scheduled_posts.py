"""publishing: scheduled Threads posts (dashboard and agent tools alike)

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

SeqPK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "threads_scheduled_posts",
        sa.Column("seq", SeqPK, autoincrement=True, nullable=False),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.Column("profile_id", sa.String(length=64), nullable=False),
        sa.Column("post", sa.JSON(), nullable=False),
        sa.Column("draft", sa.JSON(), nullable=False),
        sa.Column("publish_at", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("container_id", sa.String(length=32), nullable=True),
        sa.Column("post_id", sa.String(length=32), nullable=True),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["orgs.id"], name="fk_threads_scheduled_posts_org_id_orgs"),
        sa.PrimaryKeyConstraint("seq", name="pk_threads_scheduled_posts"),
        sa.UniqueConstraint("id", name="uq_threads_scheduled_posts_id"),
    )
    op.create_index(
        "ix_threads_scheduled_posts_org_profile", "threads_scheduled_posts", ["org_id", "profile_id", "seq"]
    )


def downgrade() -> None:
    op.drop_index("ix_threads_scheduled_posts_org_profile", table_name="threads_scheduled_posts")
    op.drop_table("threads_scheduled_posts")
