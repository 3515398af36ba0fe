"""Reading and writing the model topic (``LEADSCORE_TOPIC_MODELS``) with confluent-kafka.

Used by ``leadscore promote`` (read the registry on Kafka, publish artifacts and the pointer)
and once by ``leadscore worker`` before Faust starts: the worker must score its first batch
with the topic's champion, and a worker whose folder is empty (a new pod) has nothing else to
load. From then on the worker follows the topic through its Faust GlobalTable. The record
format is ``models/publish.py``'s.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import orjson

from models.errors import UsageError
from streams.kafkaconfig import client_config, redact
from streams.settings import Settings


def _not_ready() -> frozenset[int]:
    from confluent_kafka import KafkaError

    return frozenset({KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError.LEADER_NOT_AVAILABLE,
                      KafkaError.UNKNOWN_TOPIC_OR_PART})


_NOT_READY = _not_ready()


def ensure_topic(s: Settings) -> None:
    """Create the model topic when it is missing: compacted, one partition (the order of
    chunks, summary and pointer is the order a reader sees), the configured replication."""
    from streams.worker.changelog import create_changelog_topics

    try:
        create_changelog_topics(client_config(s), [s.topic_models], 1,
                                s.topic_replication_factor)
    except RuntimeError as exc:
        raise UsageError(redact(str(exc), s)) from None


def read(s: Settings, timeout: float = 60.0) -> dict[str, bytes]:
    """The model topic's newest value per key, read from its start to its end."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, TopicPartition

    consumer = Consumer({**client_config(s), "group.id": f"{s.app_id}-model-reader",
                         "enable.auto.commit": False, "auto.offset.reset": "earliest",
                         "log_level": 3})
    out: dict[str, bytes] = {}
    try:
        tp = TopicPartition(s.topic_models, 0)
        deadline = time.monotonic() + timeout
        while True:
            try:
                low, high = consumer.get_watermark_offsets(tp, timeout=timeout)
                break
            except KafkaException as exc:
                # A topic just created may have no leader yet ("Not leader for partition").
                err = exc.args[0]
                if not (err.retriable() or err.code() in _NOT_READY) \
                        or time.monotonic() > deadline:
                    raise UsageError(redact(f"cannot read the model topic {s.topic_models}: "
                                            f"{err.str()}", s)) from None
                time.sleep(0.2)
        if high <= low:
            return out
        consumer.assign([TopicPartition(s.topic_models, 0, OFFSET_BEGINNING)])
        last = -1
        while last < high - 1:
            if time.monotonic() > deadline:
                raise UsageError(f"the model topic {s.topic_models} was not read to its end "
                                 f"within {timeout:g} s (at offset {last} of {high})")
            m = consumer.poll(0.5)
            if m is None:
                continue
            err = m.error()
            if err is not None:
                raise UsageError(redact(f"cannot read the model topic {s.topic_models}: "
                                        f"{err.str()}", s))
            last = m.offset() or 0
            key = _key(m.key())
            if key is None:
                continue
            value = m.value()
            if value is None:
                out.pop(key, None)
            else:
                out[key] = value
        return out
    finally:
        consumer.close()


def publish(s: Settings, records: Iterable[tuple[str, bytes]], timeout: float = 60.0) -> int:
    """Produce ``records`` in order on the model topic's one partition and wait until the
    broker has every one (idempotent, all replicas); returns how many. A failure is a
    :class:`UsageError` (one line)."""
    from confluent_kafka import Producer

    producer = Producer({**client_config(s), "enable.idempotence": True, "acks": "all",
                         "linger.ms": 5, "log_level": 3})
    failed: list[str] = []

    def done(err: Any, _msg: Any) -> None:
        if err is not None:
            failed.append(err.str())

    n = 0
    for key, value in records:
        producer.produce(s.topic_models, key=orjson.dumps(key), value=value, partition=0,
                         on_delivery=done)
        producer.poll(0)
        n += 1
    left = producer.flush(timeout)
    if failed or left:
        raise UsageError(redact(f"publishing on {s.topic_models} failed: "
                                f"{failed[0] if failed else f'{left} records not delivered'}",
                                s))
    return n


def _key(raw: bytes | None) -> str | None:
    """A record's key as the GlobalTable reads it (a JSON string); None for anything else."""
    if raw is None:
        return None
    try:
        key = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    return key if isinstance(key, str) else None
