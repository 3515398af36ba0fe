"""The hot path's librdkafka producer configuration.

Connection and security settings come from :func:`streams.kafkaconfig.client_config`, the
one place every Kafka client of the project takes them from; what is added here is what the
hot path needs of a producer.
"""

from __future__ import annotations

import logging
from typing import Any

from streams.kafkaconfig import client_config
from streams.settings import Settings


def producer_config(settings: Settings) -> dict[str, Any]:
    """The hot path's producer: idempotent and acks=all (a retried send is not a duplicate,
    and an acknowledged record survives a broker failover), Kafka's default partitioner
    (Java clients and Faust use murmur2: a lead's outputs and its handoffs land on the
    partition its state lives on), batching and compression from the settings.

    librdkafka's own log goes through Python's logging (``kafka.librdkafka``, delivered by
    the producer's poll thread) instead of straight to stderr, so the worker's log filters
    (:mod:`streams.worker.logs`) see it: during a broker outage it wrote two "Connection
    refused" lines a second that no filter could hold back."""
    return {
        **client_config(settings),
        "log_level": 3,
        "logger": logging.getLogger("kafka.librdkafka"),
        "enable.idempotence": True,
        "acks": "all",
        "partitioner": "murmur2_random",
        "linger.ms": settings.producer_linger_ms,
        "batch.size": settings.producer_batch_kb * 1024,
        "compression.type": settings.producer_compression,
    }


# What librdkafka may hold fetched and not yet consumed, KiB: its default, 64 MiB, would be
# most of a worker's memory budget when it starts behind a backlog. The bench's worker (13,779
# leads) peaked at 326-333 MiB with 8 MiB, 301-310 with 2 MiB (Faust's consumer: 290-292).
# Smaller queues starve the scorer (512 KiB: 7,061 events/s at 0.61 cores busy; at most 1,000
# messages a partition: 6,824-6,871 at 0.65-0.69). With 100,000 leads the peak was 433-485
# MiB whatever the bound until orjson's 4 KiB buffers were fixed (schemas/jsonbytes.py):
# 340-371 since, with this bound (README, Performance).
HOT_FETCH_QUEUE_KB = 2 * 1024


def hot_consumer_config(settings: Settings) -> dict[str, Any]:
    """The scorer's librdkafka consumer (``LEADSCORE_HOT_FETCH=librdkafka``,
    :mod:`streams.worker.hotfetch`): assigned by hand, never committing (the commits go
    through Faust's consumer, the group's member); the group id only to read the group's
    committed offsets. Fetch wait and size as Faust's consumer has them (the settings),
    ``auto.offset.reset`` as Faust's (``earliest``), uncommitted records read as aiokafka
    reads them."""
    return {
        **client_config(settings),
        "log_level": 3,
        "logger": logging.getLogger("kafka.librdkafka"),
        "group.id": settings.app_id,
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": "earliest",
        "isolation.level": "read_uncommitted",
        "enable.partition.eof": False,
        "fetch.wait.max.ms": int(settings.fetch_wait_ms),
        "fetch.min.bytes": max(1, settings.fetch_min_kb * 1024),
        "queued.max.messages.kbytes": HOT_FETCH_QUEUE_KB,
    }
