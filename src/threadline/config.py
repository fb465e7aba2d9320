"""One Settings object for the whole server (environment prefix THREADLINE_)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="THREADLINE_", extra="ignore")

    data_dir: Path = Path("./data")
    database_url: str | None = None
    redis_url: str | None = None
    admin_token: str | None = None
    secret_key: str | None = None
    public_base_url: str = "http://127.0.0.1:8000"

    launch_window_seconds: int = 172800
    deposit_micros: int = 10_000_000
    auto_approve: bool = False
    key_rotation_grace_seconds: int = 1800

    payment_provider: str = "sandbox"
    stripe_api_key: str | None = None
    stripe_api_base: str | None = None

    # Comma-separated in the environment: THREADLINE_ALLOW_PRIVATE_FETCH_HOSTS=127.0.0.1,localhost
    allow_private_fetch_hosts: Annotated[list[str], NoDecode] = Field(default_factory=list)
    fetch_connect_timeout: float = 5.0
    fetch_total_timeout: float = 10.0
    # Publishing videos (spec 70): the download cap and its own deadline (a 1 GB file needs minutes).
    publishing_video_max_bytes: int = 1024 * 1024 * 1024
    publishing_video_fetch_timeout: float = 300.0

    storage_backend: str = "local"  # local | s3
    s3_bucket: str | None = None
    s3_endpoint_url: str | None = None
    s3_region: str | None = None
    s3_prefix: str = ""

    rate_limits_enabled: bool = True
    rate_limit_per_hour: int = 1000
    campaign_create_limit_per_hour: int = 60
    events_rate_limit_per_hour: int = 100_000
    serving_rate_limit_per_second: int = 100
    # Relevance of context hints: "lexical" (stems, no model) or "semantic" (needs the `semantic` extra).
    matcher: str = "lexical"

    max_json_body_bytes: int = 1_048_576
    events_max_body_bytes: int = 65_536
    events_batch_max_rows: int = 500
    events_batch_max_wait_ms: float = 0.0  # as serving: a busy writer batches what piles up meanwhile
    # Served impressions, clicks, views and poll votes share one transaction per batch. No extra wait by
    # default: under load items pile up while the previous batch commits, and an idle server answers at once.
    serving_batch_max_rows: int = Field(default=256, ge=1)
    serving_batch_max_wait_ms: float = Field(default=0.0, ge=0.0)
    # SQLite: serving processes checkpoint the WAL in a thread of their own this often (PASSIVE), instead
    # of SQLite doing it inside whichever COMMIT crosses 1,000 WAL pages. 0 = SQLite's automatic checkpoints.
    sqlite_checkpoint_interval_ms: float = Field(default=200.0, ge=0.0)

    idempotency_lease_seconds: int = 60
    # Pending deposit charges older than this are settled (refunded or closed) by the periodic job
    # `billing.reconcile` and by `threadline billing reconcile`. Must exceed the idempotency lease.
    reconcile_after_seconds: int = 3600
    reconcile_every_seconds: int = Field(default=600, ge=1)  # how often billing.reconcile runs
    auth_cache_seconds: float = 1.0
    # Tool API (spec 80): monthly call quotas per tier, the upgrade link of the 402, per-key rate.
    tool_quota_free: int = 15
    tool_quota_plus: int = 150
    tool_quota_pro: int = 600
    tool_quota_max: int = 3000
    tool_upgrade_url: str = "https://threadline.dev/pricing"
    tool_rate_limit_per_minute: int = 600
    # Extra Host header values /mcp accepts (DNS-rebinding protection), beyond loopback and public_base_url.
    mcp_allowed_hosts: Annotated[list[str], NoDecode] = Field(default_factory=list)
    tiktok_api_base: str = "https://business-api.tiktok.com/open_api/v1.3"
    tiktok_timeout_seconds: float = 10.0
    tiktok_max_attempts: int = 3
    tiktok_retry_backoff_seconds: float = 0.5

    # Publishing (spec 70): rolling 24 h quotas per profile and the per-token call rate.
    threads_post_quota: int = 250
    threads_reply_quota: int = 1000
    threads_delete_quota: int = 100
    threads_calls_per_hour: int = 4800
    threads_container_ttl_seconds: int = 86400
    # Webhooks (issue 12): each delivery is a durable job; failed attempts back off base, 2x, 4x, ...
    webhook_timeout_seconds: float = 10.0
    webhook_max_attempts: int = Field(default=8, ge=1)
    webhook_retry_base_seconds: int = Field(default=10, ge=0)
    webhook_retry_max_seconds: int = Field(default=3600, ge=0)
    # Mirroring to an upstream Threads account: polls and retries back off the same way; the upstream
    # token is refreshed once it is within the margin of its expiry.
    mirror_timeout_seconds: float = 15.0
    mirror_max_attempts: int = Field(default=30, ge=1)
    mirror_retry_base_seconds: int = Field(default=5, ge=0)
    mirror_retry_max_seconds: int = Field(default=600, ge=0)
    mirror_token_refresh_margin_seconds: int = Field(default=7 * 86400, ge=0)
    # Durable jobs (kit/jobs): the worker inside each server process; `threadline worker` runs more.
    jobs_worker_enabled: bool = True
    jobs_worker_threads: int = Field(default=1, ge=1, le=64)
    # A job still running after this long is presumed lost and claimed again by another worker.
    jobs_lease_seconds: int = Field(default=300, ge=1)
    jobs_poll_seconds: float = Field(default=1.0, gt=0)
    jobs_claim_batch: int = Field(default=1, ge=1, le=1000)
    # Finished (done) jobs are deleted after this long by the hourly jobs.prune job; dead ones are kept.
    jobs_keep_done_seconds: int = Field(default=7 * 86400, ge=0)
    # Dashboard (spec 90): a session ends after this long without a request, or this long after sign-in.
    dashboard_session_idle_seconds: int = Field(default=2 * 3600, ge=60)
    dashboard_session_max_seconds: int = Field(default=7 * 86400, ge=60)
    dashboard_signin_per_hour_per_email: int = Field(default=10, ge=1)
    dashboard_signin_per_hour_per_ip: int = Field(default=100, ge=1)
    dashboard_invitation_seconds: int = Field(default=7 * 86400, ge=60)
    # Forms carry the creative upload (5 MB image) plus the other fields.
    dashboard_max_body_bytes: int = 6 * 1024 * 1024
    # Comma-separated modules with `register_jobs(registry, ctx)`: extra job kinds (operators' own).
    job_plugins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    log_requests: bool = True

    @field_validator("allow_private_fetch_hosts", "mcp_allowed_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [h.strip().lower() for h in value.split(",") if h.strip()]
        return value

    @field_validator("job_plugins", mode="before")
    @classmethod
    def _split_modules(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [m.strip() for m in value.split(",") if m.strip()]
        return value

    @field_validator("matcher")
    @classmethod
    def _known_matcher(cls, value: str) -> str:
        # Kept in step with serving.relevance.MATCHERS (not imported: config stays free of serving code).
        if value not in ("lexical", "semantic"):
            raise ValueError("matcher must be 'lexical' or 'semantic'")
        return value

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'threadline.db').resolve()}"

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")
