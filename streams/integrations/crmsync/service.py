"""crm-sync's loop: a batch of score changes -> one transaction -> the offsets after it.

Per batch (up to LEADSCORE_CRM_BATCH_MAX records, waiting at most LEADSCORE_CRM_BATCH_SECONDS):
records that are not valid score changes go to the dead-letter topic (acknowledged first);
the valid ones are reduced to one row per lead (newest wins, see ``table``) and written in
one transaction whose statement also refuses to overwrite a newer row; only after COMMIT are
the batch's offsets committed to Kafka. A kill -9 anywhere re-reads the batch, and writing it
again changes nothing. If the database is away, the same batch is retried (backoff up to 30
s) and nothing is committed meanwhile; a broker bounce only delays the commit.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from confluent_kafka import Consumer, Message

from schemas import ScoreChange
from streams.integrations.crmsync.database import Database, DatabaseError
from streams.integrations.crmsync.metrics import Metrics
from streams.integrations.crmsync.table import Row, plan, row_of
from streams.integrations.kafkaio import (
    DeadLetters,
    Offsets,
    dead_letter,
    make_consumer,
    read_output,
    usable,
)

log = logging.getLogger("leadscore")


class CrmSync:
    def __init__(self, *, kafka: Mapping[str, Any], topic: str, group: str, db: Database,
                 deadletter_topic: str, metrics: Metrics | None = None, batch_max: int = 500,
                 batch_seconds: float = 0.5) -> None:
        self.kafka, self.topic, self.group, self.db = kafka, topic, group, db
        self.deadletters = DeadLetters(kafka, deadletter_topic)
        self.metrics = metrics or Metrics()
        self.batch_max, self.batch_seconds = batch_max, batch_seconds
        self.offsets = Offsets()
        self.batches = 0

    def run(self, stop: threading.Event,
            on_batch: Callable[[int], None] | None = None) -> None:
        """Until ``stop`` is set; ``on_batch(records)`` after each committed batch."""
        consumer = make_consumer(self.kafka, self.group, [self.topic],
                                 on_revoke=self._on_revoke)
        try:
            while not stop.is_set():
                msgs = [m for m in consumer.consume(self.batch_max, self.batch_seconds)
                        if usable(m)]
                if msgs:
                    self.process(msgs, stop)
                    self.offsets.done(msgs)
                if self.offsets.commit(consumer) and msgs:
                    self.batches += 1
                    if on_batch is not None:
                        on_batch(len(msgs))
        finally:
            self.offsets.commit(consumer)
            consumer.close()

    def _on_revoke(self, consumer: Consumer, partitions: list) -> None:
        self.offsets.commit(consumer)
        self.offsets.forget(partitions)

    def process(self, msgs: list[Message], stop: threading.Event) -> None:
        m = self.metrics
        m.consumed.inc(len(msgs))
        m.batch_size.observe(len(msgs))
        items: list[tuple[str, Row | None]] = []
        for msg in msgs:
            value = msg.value()
            if value is None:  # a tombstone: the key is the lead
                key = msg.key()
                if key:
                    items.append((key.decode("utf-8", "replace"), None))
                continue
            got = read_output(ScoreChange, value)
            if isinstance(got, ScoreChange):
                items.append((got.lead_id, row_of(got)))
                continue
            code, why = got
            self.deadletters.send(dead_letter(msg, code, why), msg.key())
            m.dead_letters.labels(code.value).inc()
            log.warning("dead-lettered %s[%s]@%s: %s", msg.topic(), msg.partition(),
                        msg.offset(), why)
        self.deadletters.flush()
        todo = plan(items)
        upserts = [r for r in todo.values() if r is not None]
        deletes = [lead for lead, r in todo.items() if r is None]
        delay = 0.5
        while True:
            t0 = time.monotonic()
            try:
                applied = self.db.apply(upserts, deletes)
                break
            except DatabaseError as exc:
                m.db_errors.inc()
                log.error("transaction failed, retrying in %.1f s: %s", delay, exc)
                if stop.wait(delay):
                    raise
                delay = min(delay * 2, 30.0)
        m.transaction_seconds.observe(time.monotonic() - t0)
        m.rows.labels("written").inc(applied.written)
        m.rows.labels("stale").inc(applied.stale)
        m.rows.labels("deleted").inc(applied.deleted)
        if upserts:
            m.last_event_time.set(max(r.event_time for r in upserts).timestamp())

