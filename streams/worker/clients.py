"""The one place that builds Kafka client configuration for the worker's own clients.

Faust's consumer and producer are configured through the app (``streams.worker.app``); the
hot path's librdkafka producer is configured here. Connection settings live in
:func:`client_config` alone, so that security settings (SASL, TLS) are added in one place
for every client built from it.
"""

from __future__ import annotations

from typing import Any

from streams.settings import Settings


def client_config(settings: Settings) -> dict[str, Any]:
    """What every librdkafka client needs to reach the brokers."""
    return {"bootstrap.servers": settings.kafka_bootstrap, "log_level": 3}


def producer_config(settings: Settings) -> dict[str, Any]:
    """The hot path's producer: idempotent and acks=all (a retried send is not a duplicate,
    and an acknowledged record survives a broker failover), Kafka's default partitioner
    (Java clients and Faust use murmur2: a lead's outputs and its handoffs land on the
    partition its state lives on), batching and compression from the settings."""
    return {
        **client_config(settings),
        "enable.idempotence": True,
        "acks": "all",
        "partitioner": "murmur2_random",
        "linger.ms": settings.producer_linger_ms,
        "batch.size": settings.producer_batch_kb * 1024,
        "compression.type": settings.producer_compression,
    }
