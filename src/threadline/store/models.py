"""Table models. The Alembic revisions in migrations/ are the schema; these mirror them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT identity.
SeqPK = BigInteger().with_variant(Integer(), "sqlite")

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON, list[str]: JSON}


class ServerSecret(Base):
    """Generated server-wide secrets (admin token hash)."""

    __tablename__ = "server_secrets"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[int] = mapped_column(BigInteger)


class Org(Base):
    __tablename__ = "orgs"
    seq: Mapped[int] = mapped_column(SeqPK, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(36), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    url: Mapped[str] = mapped_column(String(2048), default="")
    created_at: Mapped[int] = mapped_column(BigInteger)
    deleted_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class AdAccount(Base):
    __tablename__ = "ad_accounts"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    url: Mapped[str] = mapped_column(String(2048), default="")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    currency_code: Mapped[str] = mapped_column(String(3), default="USD")
    is_default: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[int] = mapped_column(BigInteger)


class Publisher(Base):
    __tablename__ = "publishers"
    seq: Mapped[int] = mapped_column(SeqPK, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(36), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    supply: Mapped[str] = mapped_column(String(64), default="direct")
    floor_cpm_micros: Mapped[int] = mapped_column(BigInteger, default=1_000_000)
    allowed_origins: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[int] = mapped_column(BigInteger)


class ApiKey(Base):
    """Every secret a client presents: advertiser (ak_), event (ek_), publisher (pk_), tool (sk_live_) keys."""

    __tablename__ = "api_keys"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # advertiser | event | publisher | tool
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    org_id: Mapped[str | None] = mapped_column(ForeignKey("orgs.id"), nullable=True, index=True)
    publisher_id: Mapped[str | None] = mapped_column(ForeignKey("publishers.id"), nullable=True, index=True)
    label: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    revoked_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class PaymentMethod(Base):
    __tablename__ = "payment_methods"
    seq: Mapped[int] = mapped_column(SeqPK, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(36), unique=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id"), index=True)
    provider: Mapped[str] = mapped_column(String(16))
    provider_ref: Mapped[str] = mapped_column(String(255))
    provider_customer_ref: Mapped[str | None] = mapped_column(String(255), nullable=True)
    brand: Mapped[str] = mapped_column(String(32))
    last4: Mapped[str] = mapped_column(String(4))
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[int] = mapped_column(BigInteger)
    deleted_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class Charge(Base):
    """Every attempt to move money, written before the provider is called (recovery point)."""

    __tablename__ = "charges"
    seq: Mapped[int] = mapped_column(SeqPK, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(36), unique=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id"), index=True)
    campaign_id: Mapped[str] = mapped_column(String(36), index=True)
    payment_method_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    amount_micros: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    kind: Mapped[str] = mapped_column(String(16), default="deposit")
    status: Mapped[str] = mapped_column(String(16))  # pending | succeeded | declined | refunded
    provider: Mapped[str] = mapped_column(String(16))
    provider_ref: Mapped[str | None] = mapped_column(String(255), nullable=True)
    provider_idempotency_key: Mapped[str] = mapped_column(String(255), unique=True)
    failure_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(255), nullable=True, index=True)
    request_body: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[int] = mapped_column(BigInteger)


class SandboxPayment(Base):
    """The sandbox payment provider's own ledger (it stands in for Stripe's servers)."""

    __tablename__ = "sandbox_payments"
    idempotency_key: Mapped[str] = mapped_column(String(255), primary_key=True)
    id: Mapped[str] = mapped_column(String(64), unique=True)
    payment_method_ref: Mapped[str] = mapped_column(String(255))
    amount_micros: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(16))  # succeeded | declined | refunded
    decline_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[int] = mapped_column(BigInteger)


class IdempotencyRecord(Base):
    __tablename__ = "idempotency_records"
    __table_args__ = (UniqueConstraint("scope", "key"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    scope: Mapped[str] = mapped_column(String(64))  # e.g. the org id
    key: Mapped[str] = mapped_column(String(255))
    method: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(String(512))
    fingerprint: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))  # in_progress | done
    lease_expires_at: Mapped[float] = mapped_column(Float)
    response_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    response_body: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    response_content_type: Mapped[str | None] = mapped_column(String(128), nullable=True)
    created_at: Mapped[int] = mapped_column(BigInteger)


class Upload(Base):
    __tablename__ = "uploads"
    id: Mapped[str] = mapped_column(String(128), primary_key=True)  # the file_id
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id"), index=True)
    content_type: Mapped[str] = mapped_column(String(32))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[int] = mapped_column(BigInteger)


class Campaign(Base):
    __tablename__ = "campaigns"
    __table_args__ = (Index("ix_campaigns_org_seq", "org_id", "seq"),)
    seq: Mapped[int] = mapped_column(SeqPK, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(36), unique=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id"))
    ad_account_id: Mapped[str] = mapped_column(String(36))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    status: Mapped[str] = mapped_column(String(16))  # active | paused | archived
    review_status: Mapped[str] = mapped_column(String(16))  # in_review | approved | rejected
    rejection_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    review_submitted_at: Mapped[int] = mapped_column(BigInteger)
    start_time: Mapped[int] = mapped_column(BigInteger)
    end_time: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    lifetime_spend_limit_micros: Mapped[int] = mapped_column(BigInteger)
    spent_micros: Mapped[int] = mapped_column(BigInteger, default=0)
    recurring_frequency: Mapped[str] = mapped_column(String(16))
    pricing_model: Mapped[str] = mapped_column(String(8))
    target_countries: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[int] = mapped_column(BigInteger)


class AdGroup(Base):
    __tablename__ = "ad_groups"
    __table_args__ = (Index("ix_ad_groups_campaign_seq", "campaign_id", "seq"),)
    seq: Mapped[int] = mapped_column(SeqPK, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(36), unique=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id"), index=True)
    campaign_id: Mapped[str] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    context_hints: Mapped[list[str]] = mapped_column(JSON, default=list)
    max_bid_micros: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    status: Mapped[str] = mapped_column(String(16))  # active | paused | archived (reads back paused)
    creative_type: Mapped[str | None] = mapped_column(String(16), nullable=True)
    created_at: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[int] = mapped_column(BigInteger)


class Ad(Base):
    __tablename__ = "ads"
    __table_args__ = (Index("ix_ads_ad_group_seq", "ad_group_id", "seq"),)
    seq: Mapped[int] = mapped_column(SeqPK, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(36), unique=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id"), index=True)
    campaign_id: Mapped[str] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), index=True)
    ad_group_id: Mapped[str] = mapped_column(ForeignKey("ad_groups.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))
    creative: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[int] = mapped_column(BigInteger)


class Click(Base):
    """A click on a served ad; its id is the ``thrad_click_id`` conversions attribute to."""

    __tablename__ = "clicks"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id"), index=True)
    campaign_id: Mapped[str] = mapped_column(String(36), index=True)
    ad_group_id: Mapped[str] = mapped_column(String(36))
    ad_id: Mapped[str] = mapped_column(String(36))
    bid_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    publisher_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    supply: Mapped[str] = mapped_column(String(64), default="direct")
    country: Mapped[str] = mapped_column(String(2), default="")
    charged_micros: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[int] = mapped_column(BigInteger)


class CollectEvent(Base):
    __tablename__ = "collect_events"
    __table_args__ = (
        UniqueConstraint("org_id", "dedupe_key"),
        Index("ix_collect_events_org_seq", "org_id", "seq"),
    )
    seq: Mapped[int] = mapped_column(SeqPK, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(36), unique=True)
    org_id: Mapped[str] = mapped_column(String(36))
    key_id: Mapped[str] = mapped_column(String(36))
    dedupe_key: Mapped[str | None] = mapped_column(String(600), nullable=True)
    event_name: Mapped[str] = mapped_column(String(128))
    tag_id: Mapped[str] = mapped_column(String(2100))
    event_id: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    timestamp: Mapped[int] = mapped_column(BigInteger)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)  # the remaining optional fields, by API name
    received_at: Mapped[float] = mapped_column(Float)


class Conversion(Base):
    __tablename__ = "conversions"
    __table_args__ = (
        UniqueConstraint("org_id", "dedupe_key"),
        UniqueConstraint("org_id", "order_key"),
        Index("ix_conversions_org_seq", "org_id", "seq"),
    )
    seq: Mapped[int] = mapped_column(SeqPK, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(36), unique=True)
    org_id: Mapped[str] = mapped_column(String(36))
    key_id: Mapped[str] = mapped_column(String(36))
    # The explicit key (Idempotency-Key, else event_id) and the order key (click, event type, order_id):
    # a conversion is a duplicate when either is already stored (migration 0006).
    dedupe_key: Mapped[str | None] = mapped_column(String(600), nullable=True)
    order_key: Mapped[str | None] = mapped_column(String(600), nullable=True)
    click_id: Mapped[str] = mapped_column(String(36), index=True)
    campaign_id: Mapped[str] = mapped_column(String(36))
    ad_group_id: Mapped[str] = mapped_column(String(36))
    ad_id: Mapped[str] = mapped_column(String(36))
    event_type: Mapped[str] = mapped_column(String(128))
    conversion_time: Mapped[int] = mapped_column(BigInteger)
    conversion_value_micros: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    order_id: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    event_id: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)  # the remaining fields and params.extra
    received_at: Mapped[float] = mapped_column(Float)


class HourlySlice:
    """The bucket and counters every hourly rollup table shares (after its own entity columns)."""

    hour: Mapped[int] = mapped_column(BigInteger)  # Unix seconds at the start of the UTC hour
    supply: Mapped[str] = mapped_column(String(64), default="direct")
    country: Mapped[str] = mapped_column(String(2), default="")
    impressions: Mapped[int] = mapped_column(BigInteger, default=0)
    viewable_impressions: Mapped[int] = mapped_column(BigInteger, default=0)
    clicks: Mapped[int] = mapped_column(BigInteger, default=0)
    spend_micros: Mapped[int] = mapped_column(BigInteger, default=0)
    conversions: Mapped[int] = mapped_column(BigInteger, default=0)
    conversion_value_micros: Mapped[int] = mapped_column(BigInteger, default=0)


class InsightsHourly(HourlySlice, Base):
    """Hourly rollup per ad and slice, incremented in the same transaction as what it counts."""

    __tablename__ = "insights_hourly"
    __table_args__ = (
        UniqueConstraint("ad_id", "hour", "supply", "country"),
        Index("ix_insights_hourly_campaign_hour", "campaign_id", "hour"),
        Index("ix_insights_hourly_org_hour_ad", "org_id", "hour", "ad_id"),
        # ix_insights_hourly_org_hour_cover (migration 0004) differs per dialect (INCLUDE columns on
        # PostgreSQL), so it lives only in the migration; the schema drift test knows.
    )
    id: Mapped[int] = mapped_column(SeqPK, primary_key=True, autoincrement=True)
    org_id: Mapped[str] = mapped_column(String(36))
    campaign_id: Mapped[str] = mapped_column(String(36))
    ad_group_id: Mapped[str] = mapped_column(String(36))
    ad_id: Mapped[str] = mapped_column(String(36))


# Serving tables (migration 0003), used through SQLAlchemy Core on the hot path.
impressions = Table(
    "impressions",
    Base.metadata,
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
    Index("ix_impressions_ad_id", "ad_id"),
    Index("ix_impressions_campaign_id", "campaign_id"),
)

chat_turns = Table(
    "chat_turns",
    Base.metadata,
    Column("publisher_id", String(36), primary_key=True),
    Column("chat_id", String(256), primary_key=True),
    Column("turns", BigInteger, nullable=False),
    Column("last_ad_turn", BigInteger),
    Column("updated_at", BigInteger, nullable=False),
)

poll_votes = Table(
    "poll_votes",
    Base.metadata,
    Column("seq", SeqPK, primary_key=True, autoincrement=True),
    Column("bid_id", String(36), nullable=False, unique=True),
    Column("ad_id", String(36), nullable=False),
    Column("option_id", String(16), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Index("ix_poll_votes_ad_id", "ad_id"),
)

campaign_pacing = Table(
    "campaign_pacing",
    Base.metadata,
    Column("campaign_id", String(36), primary_key=True),
    Column("period_start", BigInteger, primary_key=True),
    Column("cap_micros", BigInteger, nullable=False),
    Column("spent_micros", BigInteger, nullable=False),
)

serving_state = Table(
    "serving_state",
    Base.metadata,
    Column("name", String(32), primary_key=True),
    Column("version", BigInteger, nullable=False),
)


class InsightsOrgHourly(HourlySlice, Base):
    """Hourly rollup per org and slice: the sum of its insights_hourly rows, written in the same call.

    Account-level insights without entity filters read this instead of every ad's rows (1,000 ads x 720
    hours is 720,000 rows to sum; this holds 720 x slices).
    """

    __tablename__ = "insights_org_hourly"
    __table_args__ = (UniqueConstraint("org_id", "hour", "supply", "country"),)
    id: Mapped[int] = mapped_column(SeqPK, primary_key=True, autoincrement=True)
    org_id: Mapped[str] = mapped_column(String(36))


class InsightsCampaignHourly(HourlySlice, Base):
    """Hourly rollup per campaign and slice: the sum of its insights_hourly rows, written in the same call.

    Campaign-scoped insights without ad-group or ad narrowing read this instead of every ad's rows (100
    ads x 720 hours is 72,000 rows to sum; this holds 720 x slices).
    """

    __tablename__ = "insights_campaign_hourly"
    __table_args__ = (UniqueConstraint("campaign_id", "hour", "supply", "country"),)
    id: Mapped[int] = mapped_column(SeqPK, primary_key=True, autoincrement=True)
    org_id: Mapped[str] = mapped_column(String(36))
    campaign_id: Mapped[str] = mapped_column(String(36))


class ToolPlan(Base):
    """The tool-API tier of an org (absent: the free tier)."""

    __tablename__ = "tool_plans"
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id"), primary_key=True)
    tier: Mapped[str] = mapped_column(String(8))  # free | plus | pro | max
    updated_at: Mapped[int] = mapped_column(BigInteger)


class ToolUsage(Base):
    """Billable tool calls of an org in one calendar month (UTC); REST and MCP count here alike."""

    __tablename__ = "tool_usage"
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id"), primary_key=True)
    period: Mapped[str] = mapped_column(String(7), primary_key=True)  # YYYY-MM
    used: Mapped[int] = mapped_column(Integer, default=0)


class ToolCall(Base):
    """One tool call: written with its quota reservation, finished with its outcome."""

    __tablename__ = "tool_calls"
    __table_args__ = (Index("ix_tool_calls_org_seq", "org_id", "seq"),)
    seq: Mapped[int] = mapped_column(SeqPK, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(36), unique=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id"))
    key_id: Mapped[str] = mapped_column(String(36))
    tool: Mapped[str] = mapped_column(String(100))
    transport: Mapped[str] = mapped_column(String(8))  # rest | mcp
    arguments_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[int] = mapped_column(Integer)  # the REST status of the outcome (0 while running)
    outcome: Mapped[str] = mapped_column(String(16))  # running | ok | error | quota_exhausted
    error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    quota_used: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[int] = mapped_column(BigInteger)
    finished_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class ToolAccount(Base):
    """A connected account a tool can act on (thrad ad accounts, TikTok advertisers, ...)."""

    __tablename__ = "tool_accounts"
    __table_args__ = (UniqueConstraint("org_id", "platform", "account_id"),)
    seq: Mapped[int] = mapped_column(SeqPK, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(36), unique=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id"), index=True)
    platform: Mapped[str] = mapped_column(String(16))
    account_id: Mapped[str] = mapped_column(String(64))  # the platform's own id (the tool selector)
    name: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Fernet token (key derived from the server secret); never returned by any API.
    token_encrypted: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[int] = mapped_column(BigInteger)


# ------------------------------------------------------------------------------------------- publishing
# Graph ids (kit.ids.new_graph_id) are time-ordered integers, so they are the primary keys and the
# keyset order of every list at once.


class ThreadsScheduledPost(Base):
    """A Threads post scheduled by the dashboard or an agent tool (publishing/scheduled.py); the durable job
    publishing.publish_scheduled_post publishes it at publish_at."""

    __tablename__ = "threads_scheduled_posts"
    __table_args__ = (Index("ix_threads_scheduled_posts_org_profile", "org_id", "profile_id", "seq"),)
    seq: Mapped[int] = mapped_column(SeqPK, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(36), unique=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id"))
    profile_id: Mapped[str] = mapped_column(String(64))  # a Graph profile id, as the callers name it
    post: Mapped[dict[str, Any]] = mapped_column(JSON)  # the content as the caller gave it (shown back)
    draft: Mapped[dict[str, Any]] = mapped_column(JSON)  # {items, main}: the Graph parameters to create
    publish_at: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16))  # scheduled | publishing | published | failed | cancelled
    container_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    post_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    created_at: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[int] = mapped_column(BigInteger)


class ThreadsProfile(Base):
    __tablename__ = "threads_profiles"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id"), index=True)
    username: Mapped[str] = mapped_column(String(30), unique=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    biography: Mapped[str] = mapped_column(String(500), default="")
    profile_picture_url: Mapped[str] = mapped_column(String(2048), default="")
    is_eligible_for_geo_gating: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[int] = mapped_column(BigInteger)


class ThreadsApp(Base):
    __tablename__ = "threads_apps"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(200))
    secret_hash: Mapped[str] = mapped_column(String(64))
    # The secret itself, Fernet-encrypted (kit/crypto): webhook deliveries are signed with it (0011).
    secret_encrypted: Mapped[str | None] = mapped_column(Text, nullable=True)
    redirect_uris: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[int] = mapped_column(BigInteger)


class ThreadsToken(Base):
    __tablename__ = "threads_tokens"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    profile_id: Mapped[int] = mapped_column(ForeignKey("threads_profiles.id"), index=True)
    app_id: Mapped[int | None] = mapped_column(ForeignKey("threads_apps.id"), nullable=True)
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    lifetime: Mapped[str] = mapped_column(String(8))  # short | long
    created_at: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[int] = mapped_column(BigInteger)
    revoked_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class ThreadsAuthCode(Base):
    __tablename__ = "threads_auth_codes"
    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    app_id: Mapped[int] = mapped_column(ForeignKey("threads_apps.id"))
    profile_id: Mapped[int] = mapped_column(ForeignKey("threads_profiles.id"))
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    redirect_uri: Mapped[str] = mapped_column(String(2048))
    created_at: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[int] = mapped_column(BigInteger)
    used_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class ThreadsContainer(Base):
    __tablename__ = "threads_containers"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    profile_id: Mapped[int] = mapped_column(ForeignKey("threads_profiles.id"), index=True)
    media_type: Mapped[str] = mapped_column(String(16))  # TEXT | IMAGE | VIDEO | CAROUSEL
    is_carousel_item: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16))  # IN_PROGRESS | FINISHED | ERROR | PUBLISHED
    error_message: Mapped[str | None] = mapped_column(String(64), nullable=True)
    error_details: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The validated creation options (text, tag, link, poll, ...), copied onto the post at publish.
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    source_url: Mapped[str | None] = mapped_column(String(4096), nullable=True)
    children: Mapped[list[str]] = mapped_column(JSON, default=list)
    # The carousel that claimed this item: an item belongs to at most one carousel.
    carousel_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    media_file_id: Mapped[str | None] = mapped_column(String(256), nullable=True)
    thumbnail_file_id: Mapped[str | None] = mapped_column(String(256), nullable=True)
    media_info: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[int] = mapped_column(BigInteger)
    published_media_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True, unique=True)


class ThreadsPost(Base):
    __tablename__ = "threads_posts"
    __table_args__ = (
        Index("ix_threads_posts_profile_id_id", "profile_id", "id"),
        Index("ix_threads_posts_root_id_id", "root_id", "id"),
        Index("ix_threads_posts_reply_to_id_id", "reply_to_id", "id"),
        Index("ix_threads_posts_quote_post_id", "quote_post_id"),
        Index("ix_threads_posts_repost_of_id", "repost_of_id"),
    )
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    profile_id: Mapped[int] = mapped_column(ForeignKey("threads_profiles.id"))
    # Unique: one post per container, whatever the number of concurrent publishes.
    container_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    media_type: Mapped[str] = mapped_column(String(16))  # TEXT_POST | IMAGE | VIDEO | CAROUSEL_ALBUM
    text: Mapped[str] = mapped_column(Text, default="")
    shortcode: Mapped[str] = mapped_column(String(16), unique=True)
    attrs: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    reply_to_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    # An item of a published carousel: readable by id, not listed on its own.
    parent_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    created_at: Mapped[int] = mapped_column(BigInteger)
    deleted_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    # The top-level post of a reply's conversation (NULL on top-level posts): one indexed query reads a
    # whole conversation.
    root_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    hide_status: Mapped[str | None] = mapped_column(String(16), nullable=True)  # HIDDEN | UNHUSHED
    quote_post_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    repost_of_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # a REPOST_FACADE's original
    ghost_expires_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    # Set by the ghost-expiry job: the post has left listings and reads ghost_post_status ARCHIVED.
    ghost_archived_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class ThreadsFollow(Base):
    """``follower_id`` follows ``followed_id`` (reply_control's accounts_you_follow / followers_only)."""

    __tablename__ = "threads_follows"
    __table_args__ = (Index("ix_threads_follows_followed_id", "followed_id"),)
    follower_id: Mapped[int] = mapped_column(ForeignKey("threads_profiles.id"), primary_key=True)
    followed_id: Mapped[int] = mapped_column(ForeignKey("threads_profiles.id"), primary_key=True)
    created_at: Mapped[int] = mapped_column(BigInteger)


class ThreadsPollVote(Base):
    """One visitor's vote on a post's poll: the primary key makes a second vote impossible."""

    __tablename__ = "threads_poll_votes"
    post_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    visitor_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    option: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[int] = mapped_column(BigInteger)


class ThreadsPageView(Base):
    """A permalink page view, at most one per visitor, post and hour (the ``views`` insight)."""

    __tablename__ = "threads_page_views"
    __table_args__ = (Index("ix_threads_page_views_profile_id_hour", "profile_id", "hour"),)
    post_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    visitor_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    hour: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    profile_id: Mapped[int] = mapped_column(BigInteger)


class ThreadsQuotaEvent(Base):
    """One counted post, reply or delete: the rolling 24 h quotas count these rows."""

    __tablename__ = "threads_quota_events"
    __table_args__ = (Index("ix_threads_quota_events_profile_bucket_at", "profile_id", "bucket", "at"),)
    seq: Mapped[int] = mapped_column(SeqPK, primary_key=True, autoincrement=True)
    profile_id: Mapped[int] = mapped_column(BigInteger)
    bucket: Mapped[str] = mapped_column(String(8))  # post | reply | delete
    at: Mapped[int] = mapped_column(BigInteger)


class ThreadsWebhookSubscription(Base):
    """An app's callback URL for the ``replies``/``mentions`` fields (verified when created)."""

    __tablename__ = "threads_webhook_subscriptions"
    __table_args__ = (UniqueConstraint("app_id", "callback_url"),)
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    app_id: Mapped[int] = mapped_column(ForeignKey("threads_apps.id"))
    callback_url: Mapped[str] = mapped_column(String(2048))
    verify_token_encrypted: Mapped[str] = mapped_column(Text)
    fields: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[int] = mapped_column(BigInteger)


class ThreadsWebhookDelivery(Base):
    """One notification to one subscription: the delivery log operators read."""

    __tablename__ = "threads_webhook_deliveries"
    __table_args__ = (Index("ix_threads_webhook_deliveries_app_id_id", "app_id", "id"),)
    id: Mapped[int] = mapped_column(SeqPK, primary_key=True, autoincrement=True)
    subscription_id: Mapped[int] = mapped_column(BigInteger)
    app_id: Mapped[int] = mapped_column(BigInteger)
    field: Mapped[str] = mapped_column(String(16))  # replies | mentions
    media_id: Mapped[int] = mapped_column(BigInteger)
    target_id: Mapped[int] = mapped_column(BigInteger)  # the install user the event is about
    status: Mapped[str] = mapped_column(String(16))  # pending | delivered | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # The exact bytes signed and sent, fixed at the first attempt so every retry carries the same body.
    body: Mapped[str | None] = mapped_column(Text, nullable=True)
    last_status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    created_at: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[int] = mapped_column(BigInteger)
    delivered_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class ThreadsUpstreamLink(Base):
    """A profile mirrored to an account on an upstream Threads server (graph.threads.net or ours)."""

    __tablename__ = "threads_upstream_links"
    profile_id: Mapped[int] = mapped_column(ForeignKey("threads_profiles.id"), primary_key=True)
    base_url: Mapped[str] = mapped_column(String(2048))
    user_id: Mapped[str] = mapped_column(String(64))
    token_encrypted: Mapped[str] = mapped_column(Text)
    token_expires_at: Mapped[int] = mapped_column(BigInteger)
    token_refreshed_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    created_at: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[int] = mapped_column(BigInteger)


class ThreadsMirror(Base):
    """The upstream copy of one local post; upstream ids are recorded before the step that uses them."""

    __tablename__ = "threads_mirrors"
    post_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    profile_id: Mapped[int] = mapped_column(BigInteger, index=True)
    status: Mapped[str] = mapped_column(String(16))  # pending | published | failed | deleted
    upstream_container_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    upstream_children: Mapped[list[str]] = mapped_column(JSON, default=list)
    upstream_media_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[int] = mapped_column(BigInteger)


class JobRecord(Base):
    """A durable job (kit/jobs). While ``running``, ``run_at`` is the lease deadline, so one index on
    (state, run_at, id) finds both due jobs and jobs whose worker died, oldest first."""

    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_state_run_at_id", "state", "run_at", "id"),
        Index("ix_jobs_state_id", "state", "id"),
    )
    id: Mapped[int] = mapped_column(SeqPK, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16))  # queued | running | done | dead
    run_at: Mapped[int] = mapped_column(BigInteger)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer)
    lease_until: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    owner: Mapped[str | None] = mapped_column(String(100), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    # At most one unfinished job per key (periodic jobs); cleared when the job finishes.
    unique_key: Mapped[str | None] = mapped_column(String(200), nullable=True, unique=True)
    created_at: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[int] = mapped_column(BigInteger)
    finished_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


# -------------------------------------------------------------------------------------------- dashboard
# Owned by threadline.dashboard: people who sign in to /app/, their server-side sessions, invitations.


class Person(Base):
    __tablename__ = "people"
    seq: Mapped[int] = mapped_column(SeqPK, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(36), unique=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)  # stored lower-cased
    password_hash: Mapped[str] = mapped_column(String(200))
    # owner | member (of org_id) | operator (platform staff, org_id NULL)
    role: Mapped[str] = mapped_column(String(16))
    org_id: Mapped[str | None] = mapped_column(ForeignKey("orgs.id"), nullable=True, index=True)
    created_at: Mapped[int] = mapped_column(BigInteger)
    password_changed_at: Mapped[int] = mapped_column(BigInteger)


class DashboardSession(Base):
    __tablename__ = "dashboard_sessions"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("people.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[int] = mapped_column(BigInteger)
    last_seen_at: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[int] = mapped_column(BigInteger)  # the absolute lifetime's end


class Invitation(Base):
    __tablename__ = "invitations"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    role: Mapped[str] = mapped_column(String(16))
    org_id: Mapped[str | None] = mapped_column(ForeignKey("orgs.id"), nullable=True)
    created_at: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[int] = mapped_column(BigInteger)
    accepted_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
