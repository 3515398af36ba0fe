"""Table declarations: RocksDB (rocksdict) locally, changelogged to Kafka for recovery.

Keys are str (JSON-serialised by Faust: a raw key serializer hangs recovery, see the team's
field notes); values are raw bytes we encode ourselves (``streams.core.record``). Declared on
an app passed in (:func:`declare`), like the topics. The scorer agent writes them in Faust's
format without Faust's per-record write path (:mod:`streams.worker.state`); Faust recovers
them, keeps standby replicas and serves reads (the lookup view, the idle scan).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import faust
from faust.tables.globaltable import GlobalTable
from faust.types import TopicT

from streams.settings import Settings


class ModelTable(GlobalTable):
    """The model topic read in full by every worker (models/publish.py has its records).

    A GlobalTable because every worker needs every record (each mirrors the registry into its
    own folder), which no consumer-group member of a topic gets; Faust assigns a global
    table's changelog partitions to every member and keeps reading them after recovery.
    ``synchronize_all_active_partitions``: keep reading what another writer (``leadscore
    promote``) puts there, not only what this app writes. One partition and a recovery
    buffer of 1, as Faust advises against a recovery loop with several instances. In memory:
    a worker reads the whole (small) topic at each start anyway.

    The changelog is the configured topic (LEADSCORE_TOPIC_MODELS), but Faust's assignor
    asks a global table for its changelog by ``_changelog_topic_name()``, which assumes the
    ``<app id>-<table>-changelog`` default; this names the topic actually read."""

    def _changelog_topic_name(self) -> str:
        if self._changelog_topic is not None:
            return self._changelog_topic.get_topic_name()
        return super()._changelog_topic_name()


@dataclass(frozen=True)
class Tables:
    # L:<lead_id> / A:<anonymous_id> -> LeadRecord bytes.
    leads: Any  # faust.Table
    # anonymous_id -> lead_id (bytes), on the anonymous id's partition: later anonymous events
    # for an identified visitor are forwarded to the lead.
    aliases: Any
    # key (text, models/publish.py) -> the model topic's newest value
    models: Any = None

    def changelog_topic_names(self) -> list[str]:
        """The tables' changelog topics (``<app id>-<table>-changelog``)."""
        return [t.changelog_topic.get_topic_name() for t in (self.leads, self.aliases)]


def declare(app: faust.App, settings: Settings, models_topic: TopicT | None = None) -> Tables:
    rocks = {"block_cache_size": settings.rocksdb_block_cache_mb * 1024 * 1024,
             "write_buffer_size": settings.rocksdb_write_buffer_mb * 1024 * 1024,
             "max_write_buffer_number": 2}

    def table(name: str) -> Any:
        return app.Table(
            name,
            key_type=str,
            value_type=bytes,  # Faust picks the raw serializer for bytes
            partitions=settings.topic_partitions,
            options=rocks,
        )

    models = None
    if models_topic is not None:
        models = app.tables.add(ModelTable(
            app, name="models", key_type=str, value_type=bytes, partitions=1,
            changelog_topic=models_topic, store="memory://", recovery_buffer_size=1,
            standby_buffer_size=1, is_global=True, synchronize_all_active_partitions=True,
            beacon=app.tables.beacon))
    return Tables(leads=table("leads"), aliases=table("aliases"), models=models)
