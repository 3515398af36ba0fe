"""The Faust application object, configured from :mod:`streams.settings`, and the one place
that wires the worker together.

Faust wants one module-level ``app``; building it from environment-driven settings keeps every
worker configurable without code changes. This module declares the topics and tables on it and
registers the agents (:mod:`streams.worker.agents`, one module each), the timers
(:mod:`streams.worker.timers`) and the web views (:mod:`streams.worker.views`). Those modules
import nothing from here: each offers ``register(app, ctx)``, so dependencies point one way.

The app is Faust's with three classes swapped in through its documented hooks: the consumer
(:mod:`streams.worker.fetch`: whole fetched batches to the scorer agent), the table manager
(:mod:`streams.worker.recovery`: seek before fetching) and the worker (root logger level).
"""

from __future__ import annotations

import logging
from typing import Any

import faust
from faust.worker import Worker

from streams.kafkaconfig import faust_options
from streams.settings import Settings, get_settings
from streams.worker import tables as tables_
from streams.worker import topics as topics_
from streams.worker import views
from streams.worker.agents import lead_events
from streams.worker.context import WorkerContext
from streams.worker.fetch import BatchSink, BatchTransport
from streams.worker.recovery import SeekFirstTableManager
from streams.worker.timers import idle, modelwatch

LOG_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING,
              "error": logging.ERROR}


class LeadscoreApp(faust.App):
    """Faust's App whose consumer hands the scorer agent whole fetched batches."""

    batch_sink: BatchSink | None = None
    fetch_wait_ms: float | None = None  # the broker's fetch wait (streams/worker/fetch.py)

    def _new_transport(self) -> Any:
        return BatchTransport(self.conf.broker_consumer, self)


class LeadscoreWorker(Worker):
    """Faust's worker, with the root logger back at the configured level.

    Faust's start-up spinner sets the root logger to DEBUG (for its own handler) and leaves
    it there: every debug call of aiokafka and Faust then builds a LogRecord, ~5% of a busy
    worker (team field notes). The handlers keep the configured level either way."""

    def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
        super().on_setup_root_logger(logger, level)
        logger.setLevel(level)


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
    return app


def wire(app: LeadscoreApp, settings: Settings) -> WorkerContext:
    """Declare topics and tables, register the agent, timer and views; return the context."""
    ctx = WorkerContext(settings, topics_.declare(app, settings),
                        tables_.declare(app, settings))
    app.batch_sink = lead_events.register(app, ctx)
    idle.register(app, ctx)
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
