"""The one settings class. Every setting is read from an environment variable named in its
description (prefix ``LEADSCORE_``), so a worker is configured the same way on a laptop, in
docker-compose and in Kubernetes. Defaults run everything on this machine, on loopback.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal, get_args

from pydantic import Field, FilePath, SecretStr, ValidationError, field_validator, model_validator
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
        ge=1,
        le=65535,
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

    kafka_connect_timeout: float = Field(
        15.0,
        gt=0,
        le=600,
        description="Seconds every command (worker, produce, topics create, demo) waits for "
        "the brokers to answer before it gives up with one line and exit status 2. "
        "Env: LEADSCORE_KAFKA_CONNECT_TIMEOUT.",
    )

    # --- Kafka security (streams/kafkaconfig.py turns these into client configuration) --------
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_SSL"] = Field(
        "PLAINTEXT",
        description="How clients talk to the brokers: PLAINTEXT (no encryption, no "
        "authentication; loopback and private networks only), SSL (TLS; with a client "
        "certificate it is mutual TLS) or SASL_SSL (TLS plus a user name and password, as "
        "Confluent Cloud and Amazon MSK ask). Env: LEADSCORE_KAFKA_SECURITY_PROTOCOL.",
    )
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = Field(
        None,
        description="SASL mechanism, required with SASL_SSL: PLAIN (Confluent Cloud API keys), "
        "SCRAM-SHA-512 (Amazon MSK, Strimzi) or SCRAM-SHA-256. "
        "Env: LEADSCORE_KAFKA_SASL_MECHANISM.",
    )
    kafka_sasl_username: str | None = Field(
        None,
        description="SASL user name (Confluent Cloud: the API key). "
        "Env: LEADSCORE_KAFKA_SASL_USERNAME.",
    )
    kafka_sasl_password: SecretStr | None = Field(
        None,
        description="SASL password (Confluent Cloud: the API secret). Held as a secret: never "
        "logged, printed or shown in an error. Env: LEADSCORE_KAFKA_SASL_PASSWORD.",
    )
    kafka_ssl_ca_file: FilePath | None = Field(
        None,
        description="PEM file of the CA certificates that signed the brokers' certificates. "
        "Unset: the system's trusted CAs (enough for Confluent Cloud and Amazon MSK). The "
        "brokers' host names are always checked against their certificates. "
        "Env: LEADSCORE_KAFKA_SSL_CA_FILE.",
    )
    kafka_ssl_cert_file: FilePath | None = Field(
        None,
        description="PEM client certificate (chain) for mutual TLS, with "
        "LEADSCORE_KAFKA_SSL_KEY_FILE. Env: LEADSCORE_KAFKA_SSL_CERT_FILE.",
    )
    kafka_ssl_key_file: FilePath | None = Field(
        None,
        description="PEM private key of the client certificate. "
        "Env: LEADSCORE_KAFKA_SSL_KEY_FILE.",
    )
    kafka_ssl_key_password: SecretStr | None = Field(
        None,
        description="Password of an encrypted LEADSCORE_KAFKA_SSL_KEY_FILE. Held as a secret. "
        "Env: LEADSCORE_KAFKA_SSL_KEY_PASSWORD.",
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
    topic_replication_factor: int = Field(
        1,
        ge=1,
        description="Replicas of the topics the worker creates itself (its tables' changelogs "
        "and Faust's leader topic) and the default of `leadscore topics create`. 1 suits one "
        "local broker; use 3 on a production cluster (Confluent Cloud refuses anything else). "
        "Env: LEADSCORE_TOPIC_REPLICATION_FACTOR.",
    )
    web_host: str = Field(
        "127.0.0.1",
        description="Address the worker's web server (metrics, lookups) binds. "
        "Env: LEADSCORE_WEB_HOST.",
    )
    web_port: int = Field(
        6066,
        ge=1,
        le=65535,
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
    api_allow_unauthenticated: bool = Field(
        False,
        description="A worker whose LEADSCORE_WEB_HOST is not a loopback address refuses to "
        "start without LEADSCORE_API_TOKEN, since anyone who reaches its port could read every "
        "lead's score. true lets it start anyway: for networks where something else (a "
        "NetworkPolicy, a firewall, docker-compose's loopback-only ports) keeps others out. "
        "Env: LEADSCORE_API_ALLOW_UNAUTHENTICATED.",
    )
    log_level: str = Field(
        "warn",
        description="Worker log level: debug, info, warn, error. It is the root logger's level "
        "too (Faust leaves that at DEBUG, which builds a record for every debug call of "
        "aiokafka and Faust: ~5% of a busy worker). Env: LEADSCORE_LOG_LEVEL.",
    )
    rocksdb_block_cache_mb: int = Field(
        8,
        ge=1,
        description="RocksDB block cache per table partition, MiB. Faust's default is 2 GiB per "
        "partition, which grows memory with the partition count. Small on purpose: a batch "
        "reads what recent batches wrote (in the memtables) and the OS caches the files; "
        "with 100,000 leads, 64 MiB per partition took the worker from 395 to 480 MiB and "
        "saved no measurable CPU. Env: LEADSCORE_ROCKSDB_BLOCK_CACHE_MB.",
    )
    rocksdb_write_buffer_mb: int = Field(
        4,
        ge=1,
        description="RocksDB memtable size per table partition, MiB (two of them at most). "
        "Faust's default is 64 MiB x 3 per partition: every record write stays in memory "
        "until a memtable is flushed, so a busy worker's memory grew with it. "
        "Env: LEADSCORE_ROCKSDB_WRITE_BUFFER_MB.",
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
    topic_feedback: str = Field(
        "leads.feedback",
        description="Rep feedback in (verdicts on leads: schemas/feedback.py), keyed by lead "
        "id. Env: LEADSCORE_TOPIC_FEEDBACK.",
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
    topic_shadow: str = Field(
        "scores.shadow",
        description="A challenger's scores in shadow (leadscore promote --shadow), keyed by "
        "lead id: never paged. Env: LEADSCORE_TOPIC_SHADOW.",
    )
    topic_models: str = Field(
        "models.registry",
        description="The model registry on Kafka (compacted, one partition): the artifacts "
        "`leadscore promote` publishes, in chunks of 512 KiB, and the champion pointer. Every "
        "worker reads all of it (a Faust GlobalTable) and mirrors it into its "
        "LEADSCORE_MODEL_DIR, so a group converges on one version without a shared volume. "
        "Env: LEADSCORE_TOPIC_MODELS.",
    )
    topic_deadletter: str = Field(
        "events.deadletter",
        description="Rejected input with its original bytes and a reason. "
        "Env: LEADSCORE_TOPIC_DEADLETTER.",
    )

    # --- Scoring ------------------------------------------------------------------------------
    model_dir: Path = Field(
        Path(".leadscore/model"),
        description="Model artifact folder (from `leadscore train`) the worker scores with, or "
        "a registry: a folder of artifacts whose champion is named by its champion.json "
        "(`leadscore promote`), else the newest. Env: LEADSCORE_MODEL_DIR.",
    )
    model_check_seconds: float = Field(
        10.0,
        gt=0,
        description="How often the worker looks at LEADSCORE_MODEL_DIR for a new champion, "
        "which it validates and swaps in between batches (a refused one is logged once and "
        "counted; the old model keeps scoring). Env: LEADSCORE_MODEL_CHECK_SECONDS.",
    )
    feedback_contacted_hours: float = Field(
        72.0,
        ge=0,
        description="After a rep's \"contacted\" feedback on a lead, its alerts are not paged "
        "(not published) for this many hours of event time; scores still change. "
        "Env: LEADSCORE_FEEDBACK_CONTACTED_HOURS.",
    )
    quality_window_days: int = Field(
        30,
        ge=1,
        le=365,
        description="Rolling window of outcomes the model's online quality figures cover "
        "(leadscore_quality_*): outcomes of the last this many days, each joined with the "
        "lead's score 7 and 30 days before it. Env: LEADSCORE_QUALITY_WINDOW_DAYS.",
    )
    significant_events: str = Field(
        ",".join(DEFAULT_SIGNIFICANT),
        description="Comma-separated selectors of events that trigger a re-score: an event "
        "type, or page_view:<page_category>. Env: LEADSCORE_SIGNIFICANT_EVENTS.",
    )
    min_score_change: int = Field(
        3,
        ge=0,
        description="Publish a score change when the score moved at least this many points "
        "from the last PUBLISHED score (or the tier changes), so the compacted scores.changes "
        "always holds every lead's score within this many points. Env: "
        "LEADSCORE_MIN_SCORE_CHANGE.",
    )
    top_factors: int = Field(
        3, ge=1, le=10, description="Factors per score change. Env: LEADSCORE_TOP_FACTORS."
    )
    batch_max: int = Field(
        1000,
        ge=1,
        description="Most records per micro-batch: the batch is what one fetch from Kafka "
        "returns, so it is small at a trickle (no waiting to fill one) and up to this size "
        "under load, where larger batches spread the per-batch costs (one predict, one "
        "RocksDB write per partition, one commit). Env: LEADSCORE_BATCH_MAX.",
    )
    fetch_wait_ms: float = Field(
        5.0,
        ge=1,
        description="Longest time the broker holds the scorer's fetch when there is no new "
        "data (librdkafka fetch.wait.max.ms; with LEADSCORE_HOT_FETCH=faust aiokafka "
        "fetch_max_wait_ms, where Faust sets 1500). A client keeps one fetch per broker in "
        "flight and leaves out partitions whose records are not consumed yet, so new records "
        "of a busy partition can wait this long behind a fetch for idle ones: it bounds the "
        "latency that adds. The broker also holds a fetch this long to gather "
        "LEADSCORE_FETCH_MIN_KB, so a quiet worker takes one batch per wait rather than one "
        "per record. Lower: less latency, more fetches and batches; with Faust's consumer "
        "each empty fetch costs its thread ~0.75 ms of CPU (librdkafka's cost no Python). "
        "Measured with Faust's consumer on the bench's pricing views, two pairs "
        "of runs on a fresh broker, 5 against 10: p50 at 300/s 15-16 against 18-19 ms, at "
        "2,000/s 21-24 against 22-25 ms; the worker's cores at 300/s 0.54-0.58 against "
        "0.36-0.40, idle 0.16 against 0.10: 10 suits a deployment that values CPU over a "
        "few milliseconds. Env: LEADSCORE_FETCH_WAIT_MS.",
    )
    hot_fetch: Literal["faust", "librdkafka"] = Field(
        "librdkafka",
        description="Who fetches the scorer's records. librdkafka (the default): a "
        "librdkafka consumer assigned from Faust's group fetches them in its C threads, while "
        "Faust's consumer keeps the group, the changelogs and the commits "
        "(streams/worker/hotfetch.py): no Python and no GIL per fetch. faust: Faust's own "
        "(aiokafka) consumer fetches them too and hands its batches to the agent "
        "(streams/worker/fetch.py); one consumer, ~0.1-0.2 cores more. Measured on the bench "
        "in turns: p50 at 2,000/s 16-21 ms against 21-28, ~10-20 CPU-us less per event, the "
        "same memory (README, Performance). Env: LEADSCORE_HOT_FETCH.",
    )
    fetch_min_kb: int = Field(
        64,
        ge=0,
        description="How much new data the broker gathers before it answers the scorer's "
        "fetch early, KiB (librdkafka fetch.min.bytes, or aiokafka fetch_min_bytes); below "
        "it, the fetch is answered after "
        "LEADSCORE_FETCH_WAIT_MS. At 64 a quiet worker takes one batch per fetch wait, so a "
        "record waits for the rest of that wait (half of it on average). 0: the broker "
        "answers as soon as anything arrives: less latency, many more, smaller batches, and "
        "each costs the worker a fixed ~1-2 ms of CPU. Measured on the bench's pricing "
        "views at 300/s: p50 21 -> 16 ms, 0.35 -> 0.69 cores; at 2,000/s the cores run out "
        "(README, Performance). Env: LEADSCORE_FETCH_MIN_KB.",
    )
    order_wait_ms: float = Field(
        2000.0,
        ge=0,
        description="Event-time order across a lead's input topics: the records of the input "
        "partitions with the same number are handed to the scorer oldest event first, and "
        "while one of them has nothing fetched but more on the broker (fetch lag above 0) "
        "the others wait for it, at most this long (streams/worker/order.py). A fetch "
        "normally returns within a few LEADSCORE_FETCH_WAIT_MS, so the wait ends long "
        "before; the bound is for a partition that cannot be fetched (its leader down). "
        "A partition with nothing more on the broker is never waited for, so live traffic "
        "is not delayed (Kafka Streams' max.task.idle.ms=0). 0: never wait (order only "
        "what is fetched). Env: LEADSCORE_ORDER_WAIT_MS.",
    )
    record_cache: int = Field(
        5000,
        ge=0,
        description="Decoded lead records kept in memory between batches, the most recently "
        "written ones, so a busy lead's record is not decoded again every batch (decoding "
        "was ~13% of the worker at 2,000 events/s). A record is reused only when the table "
        "still holds exactly the bytes written from it. Each costs ~6-10 KiB: 5,000 is "
        "~30-50 MiB. 0: off. Env: LEADSCORE_RECORD_CACHE.",
    )
    commit_interval_ms: float = Field(
        100.0,
        gt=0,
        description="How often the state of the batches done since (changelog records, "
        "RocksDB) and their input offsets are written and committed, together: each key "
        "once, its last value. Outputs are sent as soon as a batch is processed whatever "
        "this is; a longer interval means fewer writes and more to redo after a crash. "
        "Env: LEADSCORE_COMMIT_INTERVAL_MS.",
    )
    batches_in_flight: int = Field(
        32,
        ge=1,
        description="Most batches processed but not yet committed; at this many the commit "
        "starts at once and the next batch waits for it. Env: LEADSCORE_BATCHES_IN_FLIGHT.",
    )
    producer_linger_ms: float = Field(
        2.0,
        ge=0,
        description="How long the worker's producer waits to fill a request (librdkafka "
        "linger.ms). A batch's outputs are produced at once, so this mostly merges batches; "
        "it adds up to this much to the event-to-score latency. "
        "Env: LEADSCORE_PRODUCER_LINGER_MS.",
    )
    producer_batch_kb: int = Field(
        1024,
        ge=16,
        description="Largest request per partition the worker's producer sends, KiB "
        "(librdkafka batch.size; aiokafka's 16 KiB default sent the changelog as many small "
        "requests). Env: LEADSCORE_PRODUCER_BATCH_KB.",
    )
    producer_compression: str = Field(
        "lz4",
        pattern=r"^(none|gzip|snappy|lz4|zstd)$",
        description="Compression of everything the worker produces: outputs, handoffs, "
        "changelogs (lz4: cheap to compress, and the changelog is read back on recovery). "
        "Env: LEADSCORE_PRODUCER_COMPRESSION.",
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

    @field_validator("kafka_sasl_username", "kafka_sasl_password", "kafka_ssl_ca_file",
                     "kafka_ssl_cert_file", "kafka_ssl_key_file", "kafka_ssl_key_password",
                     "kafka_sasl_mechanism", "api_token", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        """An empty variable (``KEY=`` in a shell or compose) means unset, not an empty
        password or a file named ''."""
        return None if value == "" else value

    @field_validator("kafka_security_protocol", "kafka_sasl_mechanism", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _security_is_complete(self) -> Settings:
        """Half a security configuration fails here, with the variables to set, rather than
        as a handshake error from deep inside a Kafka client."""
        protocol = self.kafka_security_protocol
        sasl = {"LEADSCORE_KAFKA_SASL_MECHANISM": self.kafka_sasl_mechanism,
                "LEADSCORE_KAFKA_SASL_USERNAME": self.kafka_sasl_username,
                "LEADSCORE_KAFKA_SASL_PASSWORD": self.kafka_sasl_password}
        tls = {"LEADSCORE_KAFKA_SSL_CA_FILE": self.kafka_ssl_ca_file,
               "LEADSCORE_KAFKA_SSL_CERT_FILE": self.kafka_ssl_cert_file,
               "LEADSCORE_KAFKA_SSL_KEY_FILE": self.kafka_ssl_key_file,
               "LEADSCORE_KAFKA_SSL_KEY_PASSWORD": self.kafka_ssl_key_password}
        if protocol == "SASL_SSL":
            missing = [name for name, value in sasl.items() if value is None]
            if missing:
                raise ValueError(f"LEADSCORE_KAFKA_SECURITY_PROTOCOL=SASL_SSL needs "
                                 f"{' and '.join(missing)}")
        else:
            given = [name for name, value in sasl.items() if value is not None]
            if given:
                raise ValueError(f"{', '.join(given)} set, but "
                                 f"LEADSCORE_KAFKA_SECURITY_PROTOCOL is {protocol}: set it to "
                                 "SASL_SSL (or unset them)")
        if protocol == "PLAINTEXT":
            given = [name for name, value in tls.items() if value is not None]
            if given:
                raise ValueError(f"{', '.join(given)} set, but LEADSCORE_KAFKA_SECURITY_PROTOCOL "
                                 "is PLAINTEXT: set it to SSL or SASL_SSL (or unset them)")
        if (self.kafka_ssl_cert_file is None) != (self.kafka_ssl_key_file is None):
            raise ValueError("LEADSCORE_KAFKA_SSL_CERT_FILE and LEADSCORE_KAFKA_SSL_KEY_FILE go "
                             "together: a client certificate needs its private key")
        if self.kafka_ssl_key_password is not None and self.kafka_ssl_key_file is None:
            raise ValueError("LEADSCORE_KAFKA_SSL_KEY_PASSWORD set without "
                             "LEADSCORE_KAFKA_SSL_KEY_FILE")
        return self

    @property
    def input_topics(self) -> list[str]:
        return [
            self.topic_website,
            self.topic_email,
            self.topic_product,
            self.topic_profile,
            self.topic_outcomes,
            self.topic_feedback,
        ]


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings from the environment, read once per process."""
    return Settings()


SECRET_FIELDS = frozenset(name for name, f in Settings.model_fields.items()
                          if f.annotation is SecretStr or SecretStr in get_args(f.annotation))


def describe_invalid(exc: ValidationError) -> str:
    """A settings validation error as one line that names each variable, for the CLI. The
    value given is quoted except for secrets, which are never shown."""
    parts = []
    for err in exc.errors(include_url=False):
        msg = str(err["msg"]).removeprefix("Value error, ")
        loc = [str(p) for p in err["loc"]]
        if not loc:  # a check across settings: its message names the variables
            parts.append(msg)
            continue
        name = loc[0]
        var = f"LEADSCORE_{name.upper()}"
        if name in SECRET_FIELDS or err["type"] == "missing":
            parts.append(f"{var}: {msg}")
        else:
            parts.append(f"{var}={err.get('input')!r}: {msg}")
    return "invalid settings: " + "; ".join(parts)
