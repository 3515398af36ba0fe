"""Consumes every input topic and keeps a per-key event count.

This is the foundation's minimal worker, there to prove the whole path (Kafka -> Faust
agent -> RocksDB table -> Kafka) on a real broker. It does not parse events: the scorer,
built on the schemas and the model, replaces it.
"""

from __future__ import annotations

import orjson

from streams import topics
from streams.app import app
from streams.tables import event_counts


def activity_record(key: str, count: int, topic: str, partition: int, offset: int) -> bytes:
    """The message published for each consumed event (pure, so it is unit-testable)."""
    return orjson.dumps(
        {"key": key, "events_seen": count, "topic": topic, "partition": partition,
         "offset": offset}
    )


@app.agent(topics.all_inputs, concurrency=1)
async def count_input_events(stream):
    async for event in stream.events():
        raw_key = event.key
        key = raw_key.decode("utf-8", "replace") if isinstance(raw_key, bytes) else "<no key>"
        event_counts[key] += 1
        msg = event.message
        await topics.activity.send(
            key=key.encode(),
            value=activity_record(key, event_counts[key], msg.topic, msg.partition, msg.offset),
        )
