"""The one typed settings object for modelreg.

Precedence, highest first: environment variables (prefix ``MODELREG_``, nested groups with
``__``, e.g. ``MODELREG_MIGRATION__LOCK_TIMEOUT_MS``) > a ``.env`` file in the working
directory > the defaults written here.
"""

from __future__ import annotations

import os
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

import platformdirs
from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_TIERS: tuple[str, ...] = (
    "free",
    "pro",
    "pro_max",
    "enterprise_pro",
    "enterprise_max",
    "perpetual",
)

# The first five are the legacy `model_capability` enum; the rest are what current models
# advertise. A value outside the legacy five cannot be written to the old columns, which the
# migration trigger and the contract downgrade report instead of dropping.
DEFAULT_CAPABILITIES: tuple[str, ...] = (
    "text",
    "vision",
    "function_calling",
    "code",
    "long_context",
    "reasoning",
    "audio",
    "structured_output",
)


def default_data_dir() -> Path:
    """The per-user data directory; for root, /var/lib/modelreg.

    The embedded server cannot run as root, so it runs as a system user of its own, which must be
    able to reach the data directory: under /root that would mean opening up root's home.
    """
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return Path("/var/lib/modelreg")
    return Path(platformdirs.user_data_dir("modelreg", appauthor=False))


class MigrationSettings(BaseModel):
    """How schema changes behave against a live database."""

    # Short on purpose: while a DDL statement waits for its lock, every query on the table
    # queues behind it. A timed-out revision is retried (lock_retries times, with backoff).
    lock_timeout_ms: int = Field(default=250, gt=0)
    lock_retries: int = Field(default=20, ge=0)
    # The backfill's first batch and its largest: batches then shrink or grow so that each
    # takes about half of the budget (a writer touching a row of a batch waits for it).
    backfill_batch_size: int = Field(default=1000, gt=0)
    backfill_batch_budget_ms: int = Field(default=100, gt=0)


class SnapshotSettings(BaseModel):
    """How each instance keeps its in-memory catalog current."""

    # Besides LISTEN/NOTIFY, how often the revision is compared with the database's, to heal a
    # missed notification (a dropped connection, a change made with plain SQL).
    poll_interval_s: float = Field(default=2.0, gt=0)
    # A burst of notifications within this window causes one reload.
    debounce_ms: int = Field(default=5, ge=0)
    # /readyz turns not-ready when the database has been unreachable for longer than this
    # (reads keep being served from the last snapshot meanwhile).
    max_staleness_s: float = Field(default=60.0, gt=0)
    # How many recent changes /v1/catalog/changes can report.
    changes_retained: int = Field(default=10_000, gt=0)
    # Pause the cyclic garbage collector while a snapshot is built and freeze the surviving
    # heap after each build, so that collections skip it (see modelreg.public.gc_tuning): no
    # pauses of tens of milliseconds under load, and large builds twice as fast.
    gc_tuning: bool = True


class PricingSettings(BaseModel):
    """How USD prices become credits (see modelreg.pricing.credits)."""

    credit_usd: Decimal = Field(default=Decimal("0.001"), gt=0)
    # Extra charge per tier on top of the base credits: {"free": "0.25"} is +25 % for free.
    tier_margins: dict[str, Decimal] = Field(default_factory=dict)

    @field_validator("tier_margins")
    @classmethod
    def _non_negative(cls, value: dict[str, Decimal]) -> dict[str, Decimal]:
        negative = [tier for tier, margin in value.items() if margin < 0]
        if negative:
            raise ValueError(f"margins must be >= 0 (got a negative one for {negative})")
        return value


class ConsoleSettings(BaseModel):
    """The admin web console at /console (see docs/console.md)."""

    enabled: bool = True
    # How long a sign-in lasts (the cookie's Max-Age and the server-side session's expiry).
    session_ttl_s: int = Field(default=8 * 3600, gt=0)
    # Signs the session cookie. Unset: a random key per process (sessions end on a restart and
    # are not shared between instances); set the same value on every instance behind one name.
    secret_key: SecretStr | None = None


class ImportSettings(BaseModel):
    """How `modelreg import` plans and applies (see docs/import.md)."""

    # Models an import adds are created unavailable, so that an admin decides tier and credits.
    add_available: bool = False
    # The tier an added model requires (unset: the last, most restricted, of `tiers`).
    add_required_tier: str | None = None
    # A price change above this (in %) needs --allow-large-changes.
    max_price_change_pct: Decimal = Field(default=Decimal(50), ge=0)
    # More vanished models than this needs --allow-large-changes.
    max_vanished: int = Field(default=10, ge=0)


class SyncSource(BaseModel):
    """One upstream list the scheduled sync reads."""

    source: str = Field(pattern="^(litellm|openrouter|modelsdev)$")
    url: str
    provider: list[str] = Field(default_factory=list)
    only: list[str] = Field(default_factory=list)


class SyncSettings(BaseModel):
    """The scheduled sync (modelreg.imports.sync): off unless sources are given, e.g.
    MODELREG_SYNC__SOURCES='[{"source": "litellm", "url": "https://..."}]'."""

    sources: list[SyncSource] = Field(default_factory=list)
    interval_s: float = Field(default=3600.0, gt=0)
    # apply-safe: apply price changes within the threshold and new deprecation dates, keep the
    # whole plan for review; review: only keep the plan for review.
    mode: str = Field(default="review", pattern="^(apply-safe|review)$")


class LimitSettings(BaseModel):
    """How large a request may be: beyond these it is refused (413, 431 or 422 at the field)."""

    # A request body (413); checked as it streams in, never read whole first.
    max_body_bytes: int = Field(default=1_048_576, gt=0)
    # All header lines of a request together (431; `modelreg serve` gives it to the server).
    max_header_bytes: int = Field(default=32_768, ge=1024)
    # Arrays and objects inside one another in a body.
    max_json_depth: int = Field(default=32, gt=1)
    # description, deprecationNotice and internalNotes, in characters.
    max_text_chars: int = Field(default=10_000, gt=0)
    # providerMetadata, and the unknown meta keys together, as JSON text.
    max_extra_json_bytes: int = Field(default=16_384, gt=0)
    # capabilities, complianceTags and allowedTiers, each.
    max_list_items: int = Field(default=64, gt=0)


class WebhookSettings(BaseModel):
    """How catalog events are delivered to webhook subscriptions (see docs/webhooks.md)."""

    # Deliver from this instance (several instances never deliver one event at once).
    dispatch: bool = True
    # Targets on private, loopback or link-local addresses are refused unless this is set.
    allow_private_targets: bool = False
    # Besides the wake-up on every catalog change, how often due retries are looked for.
    poll_interval_s: float = Field(default=1.0, gt=0)
    timeout_s: float = Field(default=10.0, gt=0)
    # Retry delays: retry_base_s * 2**(attempt - 1), at most retry_max_delay_s, with jitter.
    retry_base_s: float = Field(default=5.0, ge=0)
    retry_max_delay_s: float = Field(default=3600.0, ge=0)
    # A subscription whose message has failed for this long is marked failing and paused.
    retry_window_s: float = Field(default=86_400.0, ge=0)
    # Subscriptions delivered at once by one instance, and messages per claim of one.
    concurrency: int = Field(default=4, gt=0)
    batch_size: int = Field(default=100, gt=0)


class StreamSettings(BaseModel):
    """The live change stream (`GET /v1/catalog/events`)."""

    max_subscribers: int = Field(default=1000, gt=0)
    heartbeat_s: float = Field(default=15.0, gt=0)


class SunsetSettings(BaseModel):
    """The scheduler that archives legacy models when their sunset date passes."""

    enabled: bool = True
    # Days before a sunset at which `model.sunset_approaching` is sent, once each.
    lead_days: tuple[int, ...] = (30, 7)
    check_interval_s: float = Field(default=60.0, gt=0)


class PriceScheduleSettings(BaseModel):
    """The scheduler that writes scheduled prices to the models when their time comes (every
    instance serves them from their boundary on regardless: see docs/prices.md)."""

    enabled: bool = True
    # The longest wait between two runs; a run is also due at the next scheduled boundary.
    check_interval_s: float = Field(default=60.0, gt=0)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="MODELREG_",
        env_nested_delimiter="__",
        env_file=".env",
        extra="ignore",
    )

    database_url: SecretStr | None = Field(
        default=None,
        description="PostgreSQL URL. Unset: an embedded PostgreSQL under data_dir.",
    )
    data_dir: Path = Field(
        default_factory=lambda: default_data_dir(),
        description="Where the embedded PostgreSQL keeps its data.",
    )
    tiers: tuple[str, ...] = DEFAULT_TIERS
    capabilities: tuple[str, ...] = DEFAULT_CAPABILITIES
    migration: MigrationSettings = MigrationSettings()
    pricing: PricingSettings = PricingSettings()
    snapshot: SnapshotSettings = SnapshotSettings()
    console: ConsoleSettings = ConsoleSettings()
    imports: ImportSettings = ImportSettings()
    sync: SyncSettings = SyncSettings()
    limits: LimitSettings = LimitSettings()
    webhooks: WebhookSettings = WebhookSettings()
    stream: StreamSettings = StreamSettings()
    sunset: SunsetSettings = SunsetSettings()
    prices: PriceScheduleSettings = PriceScheduleSettings()
    public_api_token_required: bool = False
    # One JSON access-log line per request (on stderr).
    log_requests: bool = True
    host: str = "127.0.0.1"
    port: int = Field(default=8000, gt=0, lt=65536)

    @field_validator("tiers", "capabilities")
    @classmethod
    def _non_empty_unique(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("must not be empty")
        if len(set(value)) != len(value):
            raise ValueError("must not repeat a value")
        return value

    def tier_margin(self, tier: str) -> Decimal:
        return self.pricing.tier_margins.get(tier, Decimal(0))


@lru_cache
def get_settings() -> Settings:
    return Settings()
