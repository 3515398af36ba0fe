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

from streams.settings import Settings


@dataclass(frozen=True)
class Tables:
    # L:<lead_id> / A:<anonymous_id> -> LeadRecord bytes.
    leads: Any  # faust.Table
    # anonymous_id -> lead_id (bytes), on the anonymous id's partition: later anonymous events
    # for an identified visitor are forwarded to the lead.
    aliases: Any

    def changelog_topic_names(self) -> list[str]:
        """The tables' changelog topics (``<app id>-<table>-changelog``)."""
        return [t.changelog_topic.get_topic_name() for t in (self.leads, self.aliases)]


def declare(app: faust.App, settings: Settings) -> Tables:
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

    return Tables(leads=table("leads"), aliases=table("aliases"))
