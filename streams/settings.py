"""The one settings class. Every setting is read from an environment variable named in its
description (prefix ``LEADSCORE_``), so a worker is configured the same way on a laptop, in
docker-compose and in Kubernetes. Defaults run everything on this machine, on loopback.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from streams.core.significance import DEFAULT_SIGNIFICANT


def _default_cache_dir() -> Path:
    base = Path.home() / ".cache"
    return base / "leadscore"


class Settings(BaseSettings):
    """Runtime configuration of the worker, the local broker and the CLI tools."""

    model_config = SettingsConfigDict(env_prefix="LEADSCORE_", extra="ignore")

    # --- Kafka --------------------------------------------------------------------------
    kafka_bootstrap: str = Field(
        "127.0.0.1:9092",
        description="Kafka bootstrap servers, host:port[,host:port]. "
        "Env: LEADSCORE_KAFKA_BOOTSTRAP.",
    )
    kafka_port: int = Field(
        9092,
        description="Port of the local development broker started by `leadscore kafka start`. "
        "Env: LEADSCORE_KAFKA_PORT.",
    )
    kafka_version: str = Field(
        "4.1.1",
        description="Apache Kafka version fetched from Maven Central for the local broker. "
        "Env: LEADSCORE_KAFKA_VERSION.",
    )
    cache_dir: Path = Field(
        default_factory=_default_cache_dir,
        description="Where Maven puts Kafka's jars (outside git; safe to delete). "
        "Env: LEADSCORE_CACHE_DIR.",
    )
    state_dir: Path = Field(
        Path(".leadscore"),
        description="Local state: the development broker's data and logs, worker RocksDB "
        "tables. Env: LEADSCORE_STATE_DIR.",
    )

    # --- Faust worker ---------------------------------------------------------------------
    app_id: str = Field(
        "leadscore",
        description="Faust application id: the consumer group and the prefix of changelog "
        "topics. Workers with the same id share partitions. Env: LEADSCORE_APP_ID.",
    )
    topic_partitions: int = Field(
        4,
        ge=1,
        description="Partitions of the input topics (and so of the tables): the unit of "
        "scaling, the most workers that can share the load. Env: LEADSCORE_TOPIC_PARTITIONS.",
    )
    web_host: str = Field(
        "127.0.0.1",
        description="Address the worker's web server (metrics, lookups) binds. "
        "Env: LEADSCORE_WEB_HOST.",
    )
    web_port: int = Field(
        6066,
        description="Port of the worker's web server; give each worker on a host its own. "
        "Env: LEADSCORE_WEB_PORT.",
    )
    canonical_url: str | None = Field(
        None,
        description="URL other workers use to reach this worker's web server, for routing "
        "score lookups to the worker that owns the lead (e.g. http://worker-1:6066 in "
        "docker-compose). Default: http://WEB_HOST:WEB_PORT. Env: LEADSCORE_CANONICAL_URL.",
    )
    api_token: SecretStr | None = Field(
        None,
        description="When set, GET /leads/{id} requires 'Authorization: Bearer <token>' "
        "(/metrics, /healthz and /readyz stay open for probes and Prometheus). All workers of "
        "an app need the same token. Env: LEADSCORE_API_TOKEN.",
    )
    log_level: str = Field(
        "warn",
        description="Worker log level: debug, info, warn, error. Env: LEADSCORE_LOG_LEVEL.",
    )
    rocksdb_block_cache_mb: int = Field(
        64,
        ge=1,
        description="RocksDB block cache per table partition, MiB. Faust's default is 2 GiB per "
        "partition, which grows memory with the partition count. "
        "Env: LEADSCORE_ROCKSDB_BLOCK_CACHE_MB.",
    )

    # --- Topics -------------------------------------------------------------------------------
    topic_website: str = Field(
        "events.website", description="Website events in. Env: LEADSCORE_TOPIC_WEBSITE."
    )
    topic_email: str = Field(
        "events.email", description="Email platform events in. Env: LEADSCORE_TOPIC_EMAIL."
    )
    topic_product: str = Field(
        "events.product", description="Product usage events in. Env: LEADSCORE_TOPIC_PRODUCT."
    )
    topic_profile: str = Field(
        "leads.profile",
        description="CRM/enrichment profile events in. Env: LEADSCORE_TOPIC_PROFILE.",
    )
    topic_outcomes: str = Field(
        "leads.outcomes", description="CRM outcomes in. Env: LEADSCORE_TOPIC_OUTCOMES."
    )
    topic_handoff: str = Field(
        "leads.handoff",
        description="Internal, keyed by lead id: anonymous state handed to the lead's partition "
        "on identify, forwarded and re-routed events. Env: LEADSCORE_TOPIC_HANDOFF.",
    )
    topic_changes: str = Field(
        "scores.changes",
        description="Score changes out (compacted, keyed by lead id). "
        "Env: LEADSCORE_TOPIC_CHANGES.",
    )
    topic_alerts: str = Field(
        "scores.alerts", description="Alerts out, keyed by lead id. Env: LEADSCORE_TOPIC_ALERTS."
    )
    topic_deadletter: str = Field(
        "events.deadletter",
        description="Rejected input with its original bytes and a reason. "
        "Env: LEADSCORE_TOPIC_DEADLETTER.",
    )

    # --- Scoring ------------------------------------------------------------------------------
    model_dir: Path = Field(
        Path(".leadscore/model"),
        description="Model artifact folder (from `leadscore train`) the worker scores with. "
        "Env: LEADSCORE_MODEL_DIR.",
    )
    significant_events: str = Field(
        ",".join(DEFAULT_SIGNIFICANT),
        description="Comma-separated selectors of events that trigger a re-score: an event "
        "type, or page_view:<page_category>. Env: LEADSCORE_SIGNIFICANT_EVENTS.",
    )
    min_score_change: int = Field(
        3,
        ge=0,
        description="Publish a score change when the score moves at least this many points (or "
        "the tier changes). Env: LEADSCORE_MIN_SCORE_CHANGE.",
    )
    top_factors: int = Field(
        3, ge=1, le=10, description="Factors per score change. Env: LEADSCORE_TOP_FACTORS."
    )
    batch_max: int = Field(
        500,
        ge=1,
        description="Most events per micro-batch (one model call per batch). "
        "Env: LEADSCORE_BATCH_MAX.",
    )
    batch_seconds: float = Field(
        0.05,
        gt=0,
        description="Longest wait to fill a micro-batch, seconds: the latency the batching may "
        "add. Env: LEADSCORE_BATCH_SECONDS.",
    )
    tier_hot: int = Field(80, description="Hot from this score up. Env: LEADSCORE_TIER_HOT.")
    tier_warm: int = Field(50, description="Warm from this score up. Env: LEADSCORE_TIER_WARM.")
    alert_hysteresis: int = Field(
        5,
        ge=0,
        description="A Hot lead leaves Hot only below tier_hot minus this, so a lead hovering "
        "at the threshold pages once. Env: LEADSCORE_ALERT_HYSTERESIS.",
    )
    spike_points: int = Field(
        20, description="Spike alert: a rise of this many points... Env: LEADSCORE_SPIKE_POINTS."
    )
    spike_hours: float = Field(
        24.0, description="...within this many hours. Env: LEADSCORE_SPIKE_HOURS."
    )
    decline_points: int = Field(
        20, description="Decline alert: a fall of this many points... "
        "Env: LEADSCORE_DECLINE_POINTS."
    )
    decline_days: float = Field(
        7.0, description="...within this many days. Env: LEADSCORE_DECLINE_DAYS."
    )
    alert_page_from: Literal["cold", "warm", "hot"] = Field(
        "warm",
        description="Spike and decline alerts page only when the spike ends at, or the decline "
        "starts from, this tier or above: a Cold lead going from 2 to 22 is no call to make. "
        "Entering Hot always pages. cold = every spike and decline. "
        "Env: LEADSCORE_ALERT_PAGE_FROM.",
    )
    idle_after_hours: float = Field(
        24.0,
        gt=0,
        description="A lead with no event for this long is re-scored by the idle timer, so decay "
        "lowers its score and declines are reported. Env: LEADSCORE_IDLE_AFTER_HOURS.",
    )
    idle_rescore_hours: float = Field(
        24.0,
        gt=0,
        description="...at most this often per lead. Env: LEADSCORE_IDLE_RESCORE_HOURS.",
    )
    idle_scan_seconds: float = Field(
        60.0,
        gt=0,
        description="How often each worker scans its leads for idle ones. "
        "Env: LEADSCORE_IDLE_SCAN_SECONDS.",
    )
    max_event_age_days: float = Field(
        400.0,
        gt=0,
        description="Events older than this (event time) are dead-lettered. "
        "Env: LEADSCORE_MAX_EVENT_AGE_DAYS.",
    )
    max_event_bytes: int = Field(
        65536,
        ge=256,
        description="Larger messages are dead-lettered. Env: LEADSCORE_MAX_EVENT_BYTES.",
    )

    # --- Consumers of our outputs: `leadscore pager` and `leadscore crm-sync` ---------------
    pager_config: Path | None = Field(
        None,
        description="The pager's routing file (TOML: webhooks, routes, quiet hours, caps); "
        "`leadscore pager --config` wins. Env: LEADSCORE_PAGER_CONFIG.",
    )
    pager_store: Path | None = Field(
        None,
        description="The pager's SQLite file: idempotency keys already paged, held pages, "
        "hourly counts, the profile and score views. Default: STATE_DIR/pager.sqlite3. "
        "Env: LEADSCORE_PAGER_STORE.",
    )
    pager_group: str = Field(
        "leadscore-pager",
        description="Consumer group of the pager on the alerts topic. Env: LEADSCORE_PAGER_GROUP.",
    )
    pager_metrics_port: int = Field(
        6067,
        ge=0,
        description="Port of the pager's Prometheus /metrics on 127.0.0.1 (0: off). "
        "Env: LEADSCORE_PAGER_METRICS_PORT.",
    )
    topic_pager_deadletter: str = Field(
        "scores.alerts.deadletter",
        description="Alerts (and digests) the pager could not deliver, with the reason. "
        "Env: LEADSCORE_TOPIC_PAGER_DEADLETTER.",
    )
    crm_database_url: SecretStr | None = Field(
        None,
        description="Where crm-sync writes: sqlite:///PATH or postgresql://USER:PASS@HOST/DB. "
        "Default: sqlite:///STATE_DIR/crm.sqlite3. Env: LEADSCORE_CRM_DATABASE_URL.",
    )
    crm_table: str = Field(
        "lead_scores",
        pattern=r"^[a-z_][a-z0-9_]{0,62}$",
        description="The table crm-sync keeps (created if missing). Env: LEADSCORE_CRM_TABLE.",
    )
    crm_group: str = Field(
        "leadscore-crm-sync",
        description="Consumer group of crm-sync on the score changes topic. "
        "Env: LEADSCORE_CRM_GROUP.",
    )
    crm_batch_max: int = Field(
        500,
        ge=1,
        description="Most score changes per database transaction. Env: LEADSCORE_CRM_BATCH_MAX.",
    )
    crm_batch_seconds: float = Field(
        0.5,
        gt=0,
        description="Longest wait to fill a batch, seconds: how stale the table may be. "
        "Env: LEADSCORE_CRM_BATCH_SECONDS.",
    )
    crm_metrics_port: int = Field(
        6068,
        ge=0,
        description="Port of crm-sync's Prometheus /metrics on 127.0.0.1 (0: off). "
        "Env: LEADSCORE_CRM_METRICS_PORT.",
    )
    topic_crm_deadletter: str = Field(
        "scores.changes.deadletter",
        description="Score changes crm-sync could not read, with the reason. "
        "Env: LEADSCORE_TOPIC_CRM_DEADLETTER.",
    )

    @property
    def input_topics(self) -> list[str]:
        return [
            self.topic_website,
            self.topic_email,
            self.topic_product,
            self.topic_profile,
            self.topic_outcomes,
        ]


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings from the environment, read once per process."""
    return Settings()
