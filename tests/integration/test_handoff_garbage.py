"""Garbage produced to the handoff topic on the real broker is dead-lettered, and the worker
keeps scoring (before: the first undecodable handoff crash-looped it)."""

from __future__ import annotations

import hashlib

from confluent_kafka import Producer

from schemas import DeadLetterRecord, ScoreChange
from tests.integration.helpers import consume, scorer_setup, worker_process
from tests.integration.test_worker_roundtrip import _event
from tests.unit.test_handoff import GARBAGE


def test_garbage_on_the_handoff_topic_is_dead_lettered_and_scoring_goes_on(
        kafka, topic_prefix, tmp_path, small_model):
    names, env = scorer_setup(kafka.bootstrap, topic_prefix, small_model)
    # Records the broker takes (its limit is 1 MB); a tombstone too.
    garbage = [(name, key, value, reason) for name, key, value, reason in GARBAGE
               if value is None or len(value) < 900_000]
    producer = Producer({"bootstrap.servers": kafka.bootstrap, "partitioner": "murmur2_random",
                         "message.max.bytes": 2_000_000})

    def pricing(lead: str, n: int) -> bytes:
        return _event("page_view", lead, n, url="https://x.io/pricing", path="/pricing",
                      page_category="pricing")

    before = [f"before-{i}" for i in range(8)]
    for i, lead in enumerate(before):
        producer.produce(names["website"], key=lead.encode(), value=pricing(lead, i))
    for i, (_, key, value, _) in enumerate(garbage):
        producer.produce(names["handoff"], key=key, value=value, partition=i % 4)
    assert producer.flush(30) == 0

    with worker_process(env, tmp_path) as proc:
        dead = consume(kafka.bootstrap, names["deadletter"],
                       until=lambda m: len(m) >= len(garbage), timeout=120)
        # After the garbage: new traffic is still scored by the same, still running worker.
        after = [f"after-{i}" for i in range(8)]
        for i, lead in enumerate(after):
            producer.produce(names["website"], key=lead.encode(), value=pricing(lead, i))
        assert producer.flush(30) == 0
        wanted = set(before) | set(after)
        changes = consume(
            kafka.bootstrap, names["changes"], timeout=120,
            until=lambda m: wanted <= {ScoreChange.from_bytes(x.value()).lead_id for x in m})
        assert proc.poll() is None, "the worker is still running"

    scored = {ScoreChange.from_bytes(m.value()).lead_id for m in changes}
    assert wanted <= scored
    records = [DeadLetterRecord.from_bytes(m.value()) for m in dead]
    assert len(records) == len(garbage)
    assert all(r.source_topic == names["handoff"] for r in records)
    got = sorted((r.original_size or 0, r.original_sha256 or "", r.reason_code.value)
                 for r in records)

    want = sorted((len(v or b""), hashlib.sha256(v or b"").hexdigest(), reason.value)
                  for _, _, v, reason in garbage)
    assert got == want
    log = (tmp_path / "worker.log").read_text()
    assert "Traceback" not in log, log[-3000:]
