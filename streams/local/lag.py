"""How far a consumer group is behind, from outside the group (the bench and the broker
tests wait on it; the worker's own view is the consumer-lag gauge in /metrics)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class LagProbe:
    """Committed-offset lag of a consumer group, read with a consumer handle in the group that
    never subscribes (so it never joins). AdminClient.list_consumer_group_offsets crashed the
    process with SIGSEGV inside librdkafka 2.16 against Kafka 4.1 before the group existed."""

    def __init__(self, client: Mapping[str, Any], group: str, topics: list[str]) -> None:
        """``client``: the confluent-kafka configuration (streams.kafkaconfig.client_config)."""
        from confluent_kafka import Consumer, TopicPartition

        self.c = Consumer({**client, "group.id": group,
                           "enable.auto.commit": False, "log_level": 3})
        md = self.c.list_topics(timeout=10)
        self.tps = [TopicPartition(t, p) for t in topics for p in md.topics[t].partitions]

    def lag(self) -> int | None:
        """Total lag, or None while the group has committed nothing (or is being set up)."""
        from confluent_kafka import KafkaException

        total, seen = 0, False
        try:
            for tp in self.c.committed(self.tps, timeout=10):
                _, high = self.c.get_watermark_offsets(tp, timeout=10)
                seen = seen or tp.offset >= 0
                total += max(0, high - tp.offset) if tp.offset >= 0 else high
        except KafkaException:  # e.g. NOT_COORDINATOR while the group is being set up
            return None
        return total if seen else None

    def close(self) -> None:
        self.c.close()
