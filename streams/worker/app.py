"""The Faust application object, configured from :mod:`streams.settings`, and the one place
that wires the worker together.

Faust wants one module-level ``app``; building it from environment-driven settings keeps every
worker configurable without code changes. This module declares the topics and tables on it and
registers the agents (:mod:`streams.worker.agents`, one module each), the timers
(:mod:`streams.worker.timers`) and the web views (:mod:`streams.worker.views`). Those modules
import nothing from here: each offers ``register(app, ctx)``, so dependencies point one way.
"""

from __future__ import annotations

import faust

from streams.kafkaconfig import faust_options
from streams.settings import Settings, get_settings
from streams.worker import tables as tables_
from streams.worker import topics as topics_
from streams.worker import views
from streams.worker.agents import lead_events
from streams.worker.changelog import AckedTable
from streams.worker.context import WorkerContext
from streams.worker.recovery import SeekFirstTableManager
from streams.worker.timers import idle


def build_app(settings: Settings) -> faust.App:
    return faust.App(
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
        # The agent waits for each batch's changelog records (streams/worker/changelog.py), and
        # a restarted worker seeks its inputs before fetching them (streams/worker/recovery.py).
        Table=AckedTable,
        TableManager=SeekFirstTableManager,
    )


settings = get_settings()
app = build_app(settings)
context = WorkerContext(settings, topics_.declare(app, settings), tables_.declare(app, settings))
lead_events.register(app, context)
idle.register(app, context)
views.register(app, context)
