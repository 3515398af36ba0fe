"""Malformed records of 50+ kinds land in the dead-letter topic, each with its original bytes
and reason, while valid traffic interleaved with them keeps being scored; records up to the
broker's 1 MB limit and a tombstone too, without stopping the worker."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from confluent_kafka import Producer

from schemas import DeadLetterRecord, Event, ReasonCode, ScoreChange, parse_event
from tests.integration.helpers import consume, scorer_setup, worker_process
from tests.integration.test_worker_roundtrip import _event
from tests.unit.test_schemas_validate import BAD_INPUTS


def test_fifty_kinds_of_bad_records_are_dead_lettered_and_traffic_flows(
        kafka, topic_prefix, tmp_path, small_model):
    now = datetime.now(UTC)
    # The contract's table of bad inputs, minus the few that are only bad relative to the
    # table's fixed clock; the expected reason is what the contract says today.
    bad = [(name, raw, parse_event(raw, now=now)) for name, raw, _ in BAD_INPUTS]
    bad = [(name, raw, dl.reason_code) for name, raw, dl in bad if not isinstance(dl, Event)]
    assert len(bad) >= 50
    # Records near the broker's limit (their dead letters must still fit) and a tombstone.
    big = [("64KB", b"{" * 66_000), ("450KB", b"\x01" * 450_000), ("600KB", b"x" * 600_000),
           ("1MB", b"[" * 1_040_000)]

    names, env = scorer_setup(kafka.bootstrap, topic_prefix, small_model)
    producer = Producer({"bootstrap.servers": kafka.bootstrap, "partitioner": "murmur2_random",
                         "message.max.bytes": 2_000_000})
    leads = []
    for i, (_, raw, _) in enumerate(bad):
        producer.produce(names["website"], key=f"k{i}".encode(), value=raw)
        lead = f"lead-{i}"
        leads.append(lead)
        producer.produce(names["website"], key=lead.encode(), value=_event(
            "page_view", lead, i, url="https://x.io/pricing", path="/pricing",
            page_category="pricing"))
    for name, raw in big:
        producer.produce(names["website"], key=name.encode(), value=raw)
    producer.produce(names["website"], key=b"tomb", value=None)
    assert producer.flush(30) == 0
    expected_dead = len(bad) + len(big) + 1

    with worker_process(env, tmp_path) as proc:
        dead = consume(kafka.bootstrap, names["deadletter"],
                       until=lambda m: len(m) >= expected_dead, timeout=120)
        changes = consume(kafka.bootstrap, names["changes"],
                          until=lambda m: len(m) >= len(leads), timeout=120)
        assert proc.poll() is None, "the worker is still running"

    records = [DeadLetterRecord.from_bytes(m.value()) for m in dead]
    got = {r.original: r for r in records
           if not r.original_truncated and r.reason_code != ReasonCode.TOMBSTONE}
    for name, raw, reason in bad:
        assert raw in got, f"{name} not dead-lettered"
        assert got[raw].reason_code == reason, name
        assert got[raw].source_topic == names["website"] and got[raw].message
    assert {ScoreChange.from_bytes(m.value()).lead_id for m in changes} == set(leads)
    by_hash = {r.original_sha256: r for r in records}
    for name, raw in big:
        rec = by_hash[hashlib.sha256(raw).hexdigest()]
        assert rec.original_size == len(raw), name
        assert raw.startswith(rec.original) and rec.original_truncated == (len(raw) > 512 * 1024)
        assert rec.reason_code == ReasonCode.PAYLOAD_TOO_LARGE, name
    tombstones = [r for r in records if r.reason_code == ReasonCode.TOMBSTONE]
    assert len(tombstones) == 1 and tombstones[0].original_size == 0
