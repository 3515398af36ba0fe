"""Table declarations (RocksDB-backed via rocksdict, changelogged to Kafka)."""

from __future__ import annotations

from streams.app import app, settings

_rocks = {"block_cache_size": settings.rocksdb_block_cache_mb * 1024 * 1024}

# Events seen per input key (lead id or anonymous id). The foundation's proof that state
# lives in RocksDB and survives restarts; the scorer replaces it with full lead state.
event_counts = app.Table(
    "event_counts",
    default=int,
    key_type=str,
    value_type=int,
    partitions=settings.topic_partitions,
    options=_rocks,
)
