"""tools: plans, monthly usage counters, the call log and connected accounts

Revision ID: 0009
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

SeqPK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "tool_plans",
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.Column("tier", sa.String(length=8), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["orgs.id"], name="fk_tool_plans_org_id_orgs"),
        sa.PrimaryKeyConstraint("org_id", name="pk_tool_plans"),
    )
    op.create_table(
        "tool_usage",
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("used", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["orgs.id"], name="fk_tool_usage_org_id_orgs"),
        sa.PrimaryKeyConstraint("org_id", "period", name="pk_tool_usage"),
    )
    op.create_table(
        "tool_calls",
        sa.Column("seq", SeqPK, autoincrement=True, nullable=False),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.Column("key_id", sa.String(length=36), nullable=False),
        sa.Column("tool", sa.String(length=100), nullable=False),
        sa.Column("transport", sa.String(length=8), nullable=False),
        sa.Column("arguments_hash", sa.String(length=64), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.Column("quota_used", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("finished_at", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["org_id"], ["orgs.id"], name="fk_tool_calls_org_id_orgs"),
        sa.PrimaryKeyConstraint("seq", name="pk_tool_calls"),
        sa.UniqueConstraint("id", name="uq_tool_calls_id"),
    )
    op.create_index("ix_tool_calls_org_seq", "tool_calls", ["org_id", "seq"])
    op.create_table(
        "tool_accounts",
        sa.Column("seq", SeqPK, autoincrement=True, nullable=False),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("token_encrypted", sa.Text(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["orgs.id"], name="fk_tool_accounts_org_id_orgs"),
        sa.PrimaryKeyConstraint("seq", name="pk_tool_accounts"),
        sa.UniqueConstraint("id", name="uq_tool_accounts_id"),
        sa.UniqueConstraint(
            "org_id", "platform", "account_id", name="uq_tool_accounts_org_id_platform_account_id"
        ),
    )
    op.create_index("ix_tool_accounts_org_id", "tool_accounts", ["org_id"])


def downgrade() -> None:
    op.drop_table("tool_accounts")
    op.drop_table("tool_calls")
    op.drop_table("tool_usage")
    op.drop_table("tool_plans")
