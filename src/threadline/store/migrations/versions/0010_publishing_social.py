"""publishing social: conversation columns on threads_posts, follows, poll votes, page views

Revision ID: 0010
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0011"
branch_labels = None
depends_on = None

POST_COLUMNS = (
    "root_id",
    "quote_post_id",
    "repost_of_id",
    "ghost_expires_at",
    "ghost_archived_at",
)


def upgrade() -> None:
    with op.batch_alter_table("threads_posts") as batch:
        for name in POST_COLUMNS:
            batch.add_column(sa.Column(name, sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("hide_status", sa.String(16), nullable=True))
    op.create_index("ix_threads_posts_root_id_id", "threads_posts", ["root_id", "id"])
    op.create_index("ix_threads_posts_reply_to_id_id", "threads_posts", ["reply_to_id", "id"])
    op.create_index("ix_threads_posts_quote_post_id", "threads_posts", ["quote_post_id"])
    op.create_index("ix_threads_posts_repost_of_id", "threads_posts", ["repost_of_id"])
    op.create_table(
        "threads_follows",
        sa.Column("follower_id", sa.BigInteger(), nullable=False),
        sa.Column("followed_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["follower_id"], ["threads_profiles.id"], name="fk_threads_follows_follower_id_threads_profiles"
        ),
        sa.ForeignKeyConstraint(
            ["followed_id"], ["threads_profiles.id"], name="fk_threads_follows_followed_id_threads_profiles"
        ),
        sa.PrimaryKeyConstraint("follower_id", "followed_id", name="pk_threads_follows"),
    )
    op.create_index("ix_threads_follows_followed_id", "threads_follows", ["followed_id"])
    op.create_table(
        "threads_poll_votes",
        sa.Column("post_id", sa.BigInteger(), nullable=False),
        sa.Column("visitor_id", sa.String(64), nullable=False),
        sa.Column("option", sa.String(8), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("post_id", "visitor_id", name="pk_threads_poll_votes"),
    )
    op.create_table(
        "threads_page_views",
        sa.Column("post_id", sa.BigInteger(), nullable=False),
        sa.Column("visitor_id", sa.String(64), nullable=False),
        sa.Column("hour", sa.BigInteger(), nullable=False),
        sa.Column("profile_id", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("post_id", "visitor_id", "hour", name="pk_threads_page_views"),
    )
    op.create_index("ix_threads_page_views_profile_id_hour", "threads_page_views", ["profile_id", "hour"])


def downgrade() -> None:
    op.drop_table("threads_page_views")
    op.drop_table("threads_poll_votes")
    op.drop_table("threads_follows")
    for index in (
        "ix_threads_posts_repost_of_id",
        "ix_threads_posts_quote_post_id",
        "ix_threads_posts_reply_to_id_id",
        "ix_threads_posts_root_id_id",
    ):
        op.drop_index(index, table_name="threads_posts")
    with op.batch_alter_table("threads_posts") as batch:
        batch.drop_column("hide_status")
        for name in reversed(POST_COLUMNS):
            batch.drop_column(name)
