"""Table declarations: RocksDB (rocksdict) locally, changelogged to Kafka for recovery.

Keys are str (JSON-serialised by Faust: a raw key serializer hangs recovery, see the team's
field notes); values are raw bytes we encode ourselves (``streams.record``).
"""

from __future__ import annotations

from typing import cast

from streams.app import app, settings
from streams.changelog import AckedTable

_rocks = {"block_cache_size": settings.rocksdb_block_cache_mb * 1024 * 1024}

# L:<lead_id> / A:<anonymous_id> -> LeadRecord bytes.
leads = cast(AckedTable, app.Table(
    "leads",
    key_type=str,
    value_type=bytes,  # Faust picks the raw serializer for bytes
    partitions=settings.topic_partitions,
    options=_rocks,
))

# anonymous_id -> lead_id (bytes), on the anonymous id's partition: later anonymous events
# for an identified visitor are forwarded to the lead.
aliases = cast(AckedTable, app.Table(
    "aliases",
    key_type=str,
    value_type=bytes,  # Faust picks the raw serializer for bytes
    partitions=settings.topic_partitions,
    options=_rocks,
))


def changelog_topic_names() -> list[str]:
    """The tables' changelog topics (``<app id>-<table>-changelog``)."""
    return [t.changelog_topic.get_topic_name() for t in (leads, aliases)]
