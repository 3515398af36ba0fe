"""The Faust application object, configured from :mod:`streams.settings`, and the one place
that wires the worker together.

Faust wants one module-level ``app``; building it from environment-driven settings keeps every
worker configurable without code changes. This module declares the topics and tables on it and
registers the agents (:mod:`streams.worker.agents`, one module each), the timers
(:mod:`streams.worker.timers`) and the web views (:mod:`streams.worker.views`). Those modules
import nothing from here: each offers ``register(app, ctx)``, so dependencies point one way.

The app is Faust's with three classes swapped in through its documented hooks: the consumer
(:mod:`streams.worker.fetch`: whole fetched batches to the scorer agent), the table manager
(:mod:`streams.worker.recovery`: seek before fetching) and the worker (root logger level, and
the filters that keep a Kafka outage to two log lines: :mod:`streams.worker.logs`).
"""

from __future__ import annotations

import logging
from typing import Any

import faust
from faust.worker import Worker

from streams.kafkaconfig import faust_options
from streams.settings import Settings, get_settings
from streams.worker import logs, views
from streams.worker import tables as tables_
from streams.worker import topics as topics_
from streams.worker.agents import lead_events
from streams.worker.batches import BatchSink
from streams.worker.clients import hot_consumer_config
from streams.worker.context import WorkerContext
from streams.worker.fetch import BatchTransport
from streams.worker.recovery import SeekFirstTableManager
from streams.worker.timers import idle, kafka_probe, modelwatch

LOG_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING,
              "error": logging.ERROR}


class LeadscoreApp(faust.App):
    """Faust's App whose consumer hands the scorer agent whole fetched batches."""

    batch_sink: BatchSink | None = None
    fetch_wait_ms: float | None = None  # the broker's fetch wait (streams/worker/fetch.py)
    fetch_min_kb: int | None = None  # what the broker gathers before answering early
    # librdkafka's settings when it fetches the scorer's topics (streams/worker/hotfetch.py)
    hot_fetch_config: dict[str, Any] | None = None
    order_wait_ms: float | None = None  # the event-time ordering's wait (streams/worker/order.py)
    kafka_outage: logs.KafkaOutage | None = None  # the outage log filter (streams/worker/logs.py)
    kafka_bootstrap: str = "Kafka"  # named in the outage lines

    def _new_transport(self) -> Any:
        return BatchTransport(self.conf.broker_consumer, self)


class LeadscoreWorker(Worker):
    """Faust's worker, with the root logger back at the configured level, and no spinner
    unless stdout is a terminal.

    Faust's start-up spinner sets the root logger to DEBUG (for its own handler) and leaves
    it there: every debug call of aiokafka and Faust then builds a LogRecord, ~5% of a busy
    worker (team field notes). The handlers keep the configured level either way. Faust
    draws the spinner whatever stdout is, so a worker's log file (the demo's, a container's)
    got cursor escape codes and backspaces in it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.stdout.isatty():
            self.spinner = None

    def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
        super().on_setup_root_logger(logger, level)
        logger.setLevel(level)
        # An outage is two lines (lost, back), not one per failed connection attempt.
        app = self.app
        if isinstance(app, LeadscoreApp) and app.kafka_outage is None:
            app.kafka_outage = logs.install(logger, app.kafka_bootstrap)


def build_app(settings: Settings) -> LeadscoreApp:
    app = LeadscoreApp(
        settings.app_id,
        # The brokers and, unless PLAINTEXT, the credentials (SASL_SSL, mutual TLS).
        **faust_options(settings),
        store="rocksdb://",
        datadir=str(settings.state_dir / f"worker-{settings.web_port}"),
        topic_partitions=settings.topic_partitions,
        # Changelog and leader topics: 3 on a production cluster (Confluent Cloud demands it).
        topic_replication_factor=settings.topic_replication_factor,
        web_host=settings.web_host,
        web_port=settings.web_port,
        canonical_url=(settings.canonical_url
                       or f"http://{settings.web_host}:{settings.web_port}"),
        # At-least-once with idempotent state (see the agents); concurrency stays 1 per agent
        # because concurrency > 1 can commit past an in-flight message (faust-streaming #606).
        processing_guarantee="at_least_once",
        # Faust's 60 s default makes a group join after a crash wait a minute.
        broker_session_timeout=10.0,
        broker_heartbeat_interval=3.0,
        consumer_auto_offset_reset="earliest",
        autodiscover=False,
        # One fetch is one batch for the scorer agent (streams/worker/fetch.py).
        broker_max_poll_records=settings.batch_max,
        # Faust's own producer (the idle timer's handoffs, anything Faust sends itself) batches
        # like the hot path's (streams/worker/clients.py) instead of 16 KiB, linger 0.
        producer_linger=settings.producer_linger_ms / 1000.0,
        producer_max_batch_size=settings.producer_batch_kb * 1024,
        producer_compression_type=(None if settings.producer_compression == "none"
                                   else settings.producer_compression),
        # A restarted worker seeks its inputs before fetching them (streams/worker/recovery.py).
        TableManager=SeekFirstTableManager,
        Worker=LeadscoreWorker,
    )
    app.fetch_wait_ms = settings.fetch_wait_ms
    app.fetch_min_kb = settings.fetch_min_kb
    app.hot_fetch_config = (hot_consumer_config(settings) if settings.hot_fetch == "librdkafka"
                            else None)
    app.order_wait_ms = settings.order_wait_ms
    app.kafka_bootstrap = settings.kafka_bootstrap
    return app


def wire(app: LeadscoreApp, settings: Settings) -> WorkerContext:
    """Declare topics and tables, register the agent, timer and views; return the context."""
    topics = topics_.declare(app, settings)
    ctx = WorkerContext(settings, topics, tables_.declare(app, settings, topics.models))
    app.batch_sink = lead_events.register(app, ctx)
    idle.register(app, ctx)
    kafka_probe.register(app, ctx)
    modelwatch.register(app, ctx)
    views.register(app, ctx)

    async def close_producer(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        # After the consumer waited for the agent's batches (Faust stops it first).
        ctx.close_producer()

    app.on_before_shutdown.connect(close_producer)

    return ctx


settings = get_settings()
app = build_app(settings)
context = wire(app, settings)
