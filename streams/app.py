"""The Faust application object, configured from :mod:`streams.settings`.

Faust wants one module-level ``app`` that agents, topics and tables register on at import
time; building it from environment-driven settings keeps every worker configurable without
code changes. Agents live in :mod:`streams.agents` (one module each) and are imported by
:func:`load_agents`, so importing ``streams.app`` alone stays cheap.
"""

from __future__ import annotations

import faust

from streams.changelog import AckedTable
from streams.recovery import SeekFirstTableManager
from streams.settings import get_settings

settings = get_settings()


def broker_urls(bootstrap: str) -> list[str]:
    """'h1:9092,h2:9092' -> ['kafka://h1:9092', 'kafka://h2:9092'] (Faust's URL form)."""
    return [f"kafka://{hp.strip()}" for hp in bootstrap.split(",") if hp.strip()]


app = faust.App(
    settings.app_id,
    broker=broker_urls(settings.kafka_bootstrap),
    store="rocksdb://",
    datadir=str(settings.state_dir / f"worker-{settings.web_port}"),
    topic_partitions=settings.topic_partitions,
    web_host=settings.web_host,
    web_port=settings.web_port,
    canonical_url=settings.canonical_url or f"http://{settings.web_host}:{settings.web_port}",
    # At-least-once with idempotent state (see the agents); concurrency stays 1 per agent
    # because concurrency > 1 can commit past an in-flight message (faust-streaming #606).
    processing_guarantee="at_least_once",
    # Faust's 60 s default makes a group join after a crash wait a minute.
    broker_session_timeout=10.0,
    broker_heartbeat_interval=3.0,
    consumer_auto_offset_reset="earliest",
    autodiscover=False,
    # The agent waits for each batch's changelog records (streams/changelog.py), and a
    # restarted worker seeks its inputs before fetching them (streams/recovery.py).
    Table=AckedTable,
    TableManager=SeekFirstTableManager,
)


def load_agents() -> None:
    """Import the agent and timer modules so their decorators register."""
    from streams import idle, views  # noqa: F401
    from streams.agents import lead_events  # noqa: F401
