"""publishing: Threads profiles, apps, tokens, auth codes, containers, posts, quota events

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

SeqPK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "threads_profiles",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("org_id", sa.String(36), nullable=False),
        sa.Column("username", sa.String(30), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("biography", sa.String(500), nullable=False),
        sa.Column("profile_picture_url", sa.String(2048), nullable=False),
        sa.Column("is_eligible_for_geo_gating", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["orgs.id"], name="fk_threads_profiles_org_id_orgs"),
        sa.PrimaryKeyConstraint("id", name="pk_threads_profiles"),
        sa.UniqueConstraint("username", name="uq_threads_profiles_username"),
    )
    op.create_index("ix_threads_profiles_org_id", "threads_profiles", ["org_id"])
    op.create_table(
        "threads_apps",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("redirect_uris", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_threads_apps"),
    )
    op.create_table(
        "threads_tokens",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("profile_id", sa.BigInteger(), nullable=False),
        sa.Column("app_id", sa.BigInteger(), nullable=True),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("lifetime", sa.String(8), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.Column("revoked_at", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["profile_id"], ["threads_profiles.id"], name="fk_threads_tokens_profile_id_threads_profiles"
        ),
        sa.ForeignKeyConstraint(
            ["app_id"], ["threads_apps.id"], name="fk_threads_tokens_app_id_threads_apps"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_threads_tokens"),
        sa.UniqueConstraint("token_hash", name="uq_threads_tokens_token_hash"),
    )
    op.create_index("ix_threads_tokens_profile_id", "threads_tokens", ["profile_id"])
    op.create_table(
        "threads_auth_codes",
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("app_id", sa.BigInteger(), nullable=False),
        sa.Column("profile_id", sa.BigInteger(), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("redirect_uri", sa.String(2048), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.Column("used_at", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["app_id"], ["threads_apps.id"], name="fk_threads_auth_codes_app_id_threads_apps"
        ),
        sa.ForeignKeyConstraint(
            ["profile_id"],
            ["threads_profiles.id"],
            name="fk_threads_auth_codes_profile_id_threads_profiles",
        ),
        sa.PrimaryKeyConstraint("code_hash", name="pk_threads_auth_codes"),
    )
    op.create_table(
        "threads_containers",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("profile_id", sa.BigInteger(), nullable=False),
        sa.Column("media_type", sa.String(16), nullable=False),
        sa.Column("is_carousel_item", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error_message", sa.String(64), nullable=True),
        sa.Column("error_details", sa.Text(), nullable=True),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("source_url", sa.String(4096), nullable=True),
        sa.Column("children", sa.JSON(), nullable=False),
        sa.Column("carousel_id", sa.BigInteger(), nullable=True),
        sa.Column("media_file_id", sa.String(256), nullable=True),
        sa.Column("thumbnail_file_id", sa.String(256), nullable=True),
        sa.Column("media_info", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("published_media_id", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["profile_id"],
            ["threads_profiles.id"],
            name="fk_threads_containers_profile_id_threads_profiles",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_threads_containers"),
        sa.UniqueConstraint("published_media_id", name="uq_threads_containers_published_media_id"),
    )
    op.create_index("ix_threads_containers_profile_id", "threads_containers", ["profile_id"])
    op.create_table(
        "threads_posts",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("profile_id", sa.BigInteger(), nullable=False),
        sa.Column("container_id", sa.BigInteger(), nullable=False),
        sa.Column("media_type", sa.String(16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("shortcode", sa.String(16), nullable=False),
        sa.Column("attrs", sa.JSON(), nullable=False),
        sa.Column("reply_to_id", sa.BigInteger(), nullable=True),
        sa.Column("parent_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("deleted_at", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["profile_id"], ["threads_profiles.id"], name="fk_threads_posts_profile_id_threads_profiles"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_threads_posts"),
        sa.UniqueConstraint("container_id", name="uq_threads_posts_container_id"),
        sa.UniqueConstraint("shortcode", name="uq_threads_posts_shortcode"),
    )
    op.create_index("ix_threads_posts_profile_id_id", "threads_posts", ["profile_id", "id"])
    op.create_table(
        "threads_quota_events",
        sa.Column("seq", SeqPK, autoincrement=True, nullable=False),
        sa.Column("profile_id", sa.BigInteger(), nullable=False),
        sa.Column("bucket", sa.String(8), nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_threads_quota_events"),
    )
    op.create_index(
        "ix_threads_quota_events_profile_bucket_at", "threads_quota_events", ["profile_id", "bucket", "at"]
    )


def downgrade() -> None:
    for table in (
        "threads_quota_events",
        "threads_posts",
        "threads_containers",
        "threads_auth_codes",
        "threads_tokens",
        "threads_apps",
        "threads_profiles",
    ):
        op.drop_table(table)
