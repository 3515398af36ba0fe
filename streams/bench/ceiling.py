"""The ceiling: a bare confluent-kafka + rocksdict loop on the same broker and machine."""

from __future__ import annotations

import time
from typing import Any

import orjson

from models.errors import UsageError
from streams.bench.prepare import Run, _producer, _send
from streams.settings import Settings


def ceiling(run: Run, s: Settings, out_topic: str, n: int) -> tuple[float, float]:
    """The bare loop. Returns (events/s, seconds) from the first message received to the last
    output delivered and the offsets committed."""
    from confluent_kafka import Consumer
    from rocksdict import Rdict

    consumer = Consumer({**run.client, "group.id": f"{out_topic}-group",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False,
                         "log_level": 3})
    consumer.subscribe(s.input_topics)
    producer = _producer(run.client)
    db = Rdict(str(run.work / "ceiling-rocksdb"))
    done, t0 = 0, 0.0
    try:
        deadline = time.monotonic() + 120
        while done < n:
            if time.monotonic() > deadline:
                raise UsageError(f"the ceiling loop read {done:,} of {n:,} events in 120 s")
            batch = consumer.consume(num_messages=1000, timeout=0.5)
            if batch and not t0:
                t0 = time.monotonic()
            for msg in batch:
                if msg.error() is None:
                    _ceiling_step(db, producer, out_topic, msg.key(), msg.value() or b"")
                    done += 1
            producer.poll(0)
        producer.flush(60)
        consumer.commit(asynchronous=False)
        secs = time.monotonic() - t0
    finally:
        consumer.close()
        db.close()
    return n / secs, secs


def _ceiling_step(db: Any, producer: Any, out_topic: str, key: bytes | None,
                  value: bytes) -> None:
    """Per event: parse it, read-modify-write a small JSON value for its key, produce it."""
    try:
        ev = orjson.loads(value)
        at = ev.get("occurred_at") if isinstance(ev, dict) else None
    except orjson.JSONDecodeError:
        at = None
    k = key or b"-"
    old = db.get(k)
    state = orjson.loads(old) if old is not None else {"n": 0}
    state["n"] += 1
    state["last"] = at
    new = orjson.dumps(state)
    db[k] = new
    _send(producer, out_topic, k, new)
