"""What the pager and crm-sync share: the consumer that commits only what is done, the
dead-letter producer, the reading of our own output contracts, and stopping on a signal.

The guarantee, in one place: a consumer never commits on its own (``enable.auto.commit`` and
``enable.auto.offset.store`` off); the loop commits, synchronously, the offsets after the
messages whose side effect is done (page delivered or recorded, transaction committed, dead
letter acknowledged by the broker). A kill -9 at any point re-delivers at most the messages
after the last commit, and both consumers are idempotent on those (the pager's store of
idempotency keys; crm-sync's newest-wins upsert).

Dynamic group membership with a 10 s session timeout: a consumer restarted after kill -9
gets its partitions once the broker has expired the dead member (at most 10 s). Static
membership (``group.instance.id``) would skip that wait, but a consumer using it stopped
consuming after a broker restart in our bounce test (1 run in 4; the same as
confluent-kafka-go issue 494), so it is not used.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Iterable, Mapping
from typing import Any, Protocol, TypeVar

import orjson
from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition
from pydantic import ValidationError

from schemas import DeadLetterRecord, OutputMessage, ReasonCode

M = TypeVar("M", bound=OutputMessage)
log = logging.getLogger("leadscore")


def setup_logging(name: str, level: str = "info") -> logging.Logger:
    """One line per record on stderr: ``2026-03-02 09:14:05 pager WARNING ...``."""
    logging.basicConfig(format=f"%(asctime)s {name} %(levelname)s %(message)s",
                        datefmt="%Y-%m-%d %H:%M:%S",
                        level=getattr(logging, level.upper(), logging.INFO))
    logging.getLogger("leadscore").setLevel(getattr(logging, level.upper(), logging.INFO))
    return log


def make_consumer(kafka: Mapping[str, Any], group: str, topics: list[str], *,
                  max_poll_seconds: float = 300.0, on_revoke: Any = None,
                  **extra: Any) -> Consumer:
    """A group consumer on ``topics`` that commits only when told, from the earliest offset
    on its first start. ``kafka``: the brokers and their security, from
    :func:`streams.kafkaconfig.client_config`."""
    consumer = Consumer({
        **kafka,
        "group.id": group,
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": "earliest",
        "session.timeout.ms": 10000,
        "max.poll.interval.ms": int(max_poll_seconds * 1000),
        "log_level": 3,
        **extra,
    })
    if on_revoke is None:
        consumer.subscribe(topics)
    else:
        consumer.subscribe(topics, on_revoke=on_revoke)
    return consumer


class Offsets:
    """The next offset to commit per partition; committed synchronously, retried while the
    broker is away (a bounce), dropped for partitions this consumer no longer owns."""

    def __init__(self) -> None:
        self.pending: dict[tuple[str, int], int] = {}

    def done(self, messages: Iterable[Message]) -> None:
        for m in messages:
            topic, part, off = m.topic(), m.partition(), m.offset()
            if topic is not None and part is not None and off is not None and off >= 0:
                key = (topic, part)
                self.pending[key] = max(self.pending.get(key, 0), off + 1)

    def commit(self, consumer: Consumer) -> bool:
        """Commit what is pending; False (and still pending) when the broker cannot be
        reached now. A partition lost in a rebalance is not retried: its next owner reads
        from the last commit and drops what was already done."""
        if not self.pending:
            return True
        offsets = [TopicPartition(t, p, o) for (t, p), o in sorted(self.pending.items())]
        try:
            consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as exc:
            err = exc.args[0]
            if err.code() in (KafkaError.ILLEGAL_GENERATION, KafkaError.UNKNOWN_MEMBER_ID,
                              KafkaError.REBALANCE_IN_PROGRESS,
                              KafkaError._ASSIGNMENT_LOST, KafkaError._NO_OFFSET):
                log.warning("commit skipped (%s): the partition's next owner re-reads and "
                            "drops what was done", err.str())
                self.pending.clear()
                return True
            log.warning("commit failed, retrying: %s", err.str())
            return False
        self.pending.clear()
        return True

    def forget(self, partitions: Iterable[TopicPartition]) -> None:
        for tp in partitions:
            self.pending.pop((tp.topic, tp.partition), None)


class DeadLetterSink(Protocol):
    """Where dead letters go: :class:`DeadLetters` on Kafka (tests of routing use a list)."""

    def send(self, record: DeadLetterRecord, key: bytes | None) -> None: ...

    def flush(self, timeout: float = 300.0) -> None: ...


class DeadLetters:
    """Dead-letter records produced with an idempotent producer; :meth:`flush` returns only
    once the broker acknowledged every one (the caller commits the offsets after it)."""

    def __init__(self, kafka: Mapping[str, Any], topic: str) -> None:
        self.topic = topic
        self.producer = Producer({**kafka, "enable.idempotence": True,
                                  "linger.ms": 5, "log_level": 3})
        self.failed: list[str] = []

    def send(self, record: DeadLetterRecord, key: bytes | None) -> None:
        def on_delivery(err: Any, _msg: Any) -> None:
            if err is not None:
                self.failed.append(str(err))

        while True:
            try:
                self.producer.produce(self.topic, key=key, value=record.to_bytes(),
                                      on_delivery=on_delivery)
                return
            except BufferError:
                self.producer.poll(0.1)

    def flush(self, timeout: float = 300.0) -> None:
        """Wait for every acknowledgement (librdkafka retries through a broker bounce); raise
        after ``timeout`` s or on a failed delivery, so that no offset gets committed."""
        deadline = time.monotonic() + timeout
        while self.producer.flush(1.0) > 0:
            if time.monotonic() > deadline:
                raise RuntimeError(f"dead letters to {self.topic} not acknowledged within "
                                   f"{timeout:.0f} s")
        if self.failed:
            errors, self.failed = self.failed, []
            raise RuntimeError(f"dead letters to {self.topic} failed: {errors[0]}")


def read_output(model: type[M], raw: bytes) -> M | tuple[ReasonCode, str]:
    """Our own output contract read strictly; a bad record comes back as a reason code and a
    one-line description, for its dead letter."""
    try:
        orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return ReasonCode.UNPARSEABLE_JSON, f"not JSON: {exc}"[:500]
    try:
        return model.from_bytes(raw)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        first = errors[0]
        kinds = {e["type"] for e in errors}
        code = (ReasonCode.NOT_AN_OBJECT if "model_type" in kinds
                else ReasonCode.UNSUPPORTED_SCHEMA_VERSION if "unsupported_schema_version" in kinds
                else ReasonCode.MISSING_FIELD if "missing" in kinds
                else ReasonCode.INVALID_VALUE)
        where = ".".join(str(p) for p in first["loc"]) or "(message)"
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        return code, f"not a valid {model.__name__}: {where}: {first['msg']}{more}"


def usable(m: Message) -> bool:
    """A consumed record to process; transient client errors are logged and skipped, a
    fatal one ends the loop."""
    err = m.error()
    if err is None:
        return True
    if err.fatal():
        raise RuntimeError(f"Kafka: {err.str()}")
    log.warning("Kafka: %s", err.str())
    return False


def dead_letter(m: Message, code: ReasonCode, message: str) -> DeadLetterRecord:
    return DeadLetterRecord.create(m.value() or b"", code, message, source_topic=m.topic(),
                                   partition=m.partition(), offset=m.offset())


def stop_on_signals() -> threading.Event:
    """SIGTERM and SIGINT end the loop after the batch in hand (then a last commit)."""
    stop = threading.Event()

    def handler(_sig: int, _frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    return stop


def serve_metrics(registry: Any, host: str, port: int) -> None:
    """Prometheus ``/metrics`` on host:port (port 0: not served)."""
    if port:
        from prometheus_client import start_http_server

        start_http_server(port, addr=host, registry=registry)


def ensure_topic(kafka: Mapping[str, Any], name: str, partitions: int) -> None:
    """Create ``name`` if it is missing (broker's default replication); keep it if not."""
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({**kafka, "log_level": 3})
    fut = admin.create_topics([NewTopic(name, partitions, -1)], request_timeout=30)[name]
    try:
        fut.result(timeout=30)
    except KafkaException as exc:
        if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
            raise RuntimeError(f"cannot create topic {name}: {exc.args[0].str()}") from None
