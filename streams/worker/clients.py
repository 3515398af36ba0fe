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
