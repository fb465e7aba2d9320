"""Core table objects for the serving slice's own tables (schema: migration 0003_serving).

They live here rather than in store/models.py until the lead folds them in; keep both in step.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Float, Integer, MetaData, String, Table

metadata = MetaData()
SeqPK = BigInteger().with_variant(Integer(), "sqlite")

impressions = Table(
    "impressions",
    metadata,
    Column("seq", SeqPK, primary_key=True, autoincrement=True),
    Column("id", String(36), nullable=False, unique=True),
    Column("bid_id", String(36), nullable=False, unique=True),
    Column("org_id", String(36), nullable=False),
    Column("campaign_id", String(36), nullable=False),
    Column("ad_group_id", String(36), nullable=False),
    Column("ad_id", String(36), nullable=False),
    Column("publisher_id", String(36), nullable=False),
    Column("supply", String(64), nullable=False),
    Column("country", String(2), nullable=False),
    Column("chat_id", String(256)),
    Column("user_id", String(256), nullable=False),
    Column("ad_format", String(32), nullable=False),
    Column("pricing_model", String(8), nullable=False),
    Column("price_micros", BigInteger, nullable=False),
    Column("charged_micros", BigInteger, nullable=False),
    Column("click_price_micros", BigInteger, nullable=False),
    Column("production", Boolean, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("viewed_at", BigInteger),
    Column("first_clicked_at", BigInteger),
    Column("last_click_id", String(36)),
    Column("last_click_at", Float),
)

chat_turns = Table(
    "chat_turns",
    metadata,
    Column("publisher_id", String(36), primary_key=True),
    Column("chat_id", String(256), primary_key=True),
    Column("turns", BigInteger, nullable=False),
    Column("last_ad_turn", BigInteger),
    Column("updated_at", BigInteger, nullable=False),
)

poll_votes = Table(
    "poll_votes",
    metadata,
    Column("seq", SeqPK, primary_key=True, autoincrement=True),
    Column("bid_id", String(36), nullable=False, unique=True),
    Column("ad_id", String(36), nullable=False),
    Column("option_id", String(16), nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

campaign_pacing = Table(
    "campaign_pacing",
    metadata,
    Column("campaign_id", String(36), primary_key=True),
    Column("period_start", BigInteger, primary_key=True),
    Column("cap_micros", BigInteger, nullable=False),
    Column("spent_micros", BigInteger, nullable=False),
)

serving_state = Table(
    "serving_state",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("version", BigInteger, nullable=False),
)
