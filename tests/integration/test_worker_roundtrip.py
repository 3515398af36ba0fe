"""Round trip through a real `leadscore worker` process on the real broker:
confluent-kafka producer -> Faust agent (validate, fold, score) -> confluent-kafka consumer."""

from __future__ import annotations

import time
import urllib.request
from datetime import UTC, datetime, timedelta

import orjson
from confluent_kafka import Producer

from schemas import DeadLetterRecord, ScoreChange
from streams.local.kafka import free_port
from tests.integration.helpers import consume, scorer_setup, worker_process


def _event(etype: str, lead: str, n: int, **props) -> bytes:
    at = datetime.now(UTC) - timedelta(hours=3) + timedelta(minutes=n)
    return orjson.dumps({"event_id": f"{lead}-{n}", "type": etype, "occurred_at": at.isoformat(),
                         "lead_id": lead, "source": "test", "schema_version": 2,
                         "properties": props})


def test_events_are_scored_and_bad_records_dead_lettered(kafka, topic_prefix, tmp_path,
                                                        small_model):
    names, env = scorer_setup(kafka.bootstrap, topic_prefix, small_model)
    producer = Producer({"bootstrap.servers": kafka.bootstrap, "partitioner": "murmur2_random"})
    leads = [f"lead-{i}" for i in range(6)]
    for i, lead in enumerate(leads):
        producer.produce(names["website"], key=lead.encode(), value=_event(
            "page_view", lead, i, url="https://x.io/pricing", path="/pricing",
            page_category="pricing"))
        # Not significant: folded, never scored on its own.
        producer.produce(names["email"], key=lead.encode(), value=_event(
            "email_open", lead, 100 + i, campaign_id="c", message_id="m"))
    bad = [b"\xff\xfe not json", b'{"type": "page_view"}', b"[]"]
    for raw in bad:
        producer.produce(names["website"], key=b"lead-0", value=raw)
    # rep feedback is an input like the others: a bad verdict is dead-lettered (both sent
    # 30 minutes ago: minute 200 would be 20 minutes ahead, past the 5-minute future skew, and
    # both would be dead-lettered for that, whatever their verdict)
    bad_feedback = _event("rep_feedback", "lead-0", 150, rep_id="ana", verdict="maybe")
    producer.produce(names["feedback"], key=b"lead-0", value=bad_feedback)
    producer.produce(names["feedback"], key=b"lead-1", value=_event(
        "rep_feedback", "lead-1", 151, rep_id="ana", verdict="good_fit"))
    assert producer.flush(30) == 0

    with worker_process(env, tmp_path) as proc:
        changes = consume(kafka.bootstrap, names["changes"], until=lambda m: len(m) >= 6,
                          timeout=120)
        dead = consume(kafka.bootstrap, names["deadletter"], until=lambda m: len(m) >= 4,
                       timeout=60)
        assert proc.poll() is None, (tmp_path / "worker.log").read_text()[-3000:]

    msgs = [ScoreChange.from_bytes(m.value()) for m in changes]
    assert sorted(c.lead_id for c in msgs) == leads, "one score change per significant event"
    assert all(c.cause_event_type == "page_view" for c in msgs)
    assert all(m.key() == ScoreChange.from_bytes(m.value()).lead_id.encode() for m in changes)
    records = [DeadLetterRecord.from_bytes(m.value()) for m in dead]
    assert sorted(r.original for r in records) == sorted([*bad, bad_feedback])
    assert all(r.source_topic == (names["feedback"] if r.original == bad_feedback
                                  else names["website"]) and r.reason_code for r in records)


def test_idle_leads_are_rescored_by_the_timer(kafka, topic_prefix, tmp_path, small_model):
    """The table scan also tallies the model's quality: a lead scored 25 days ago that
    converts now shows as one outcome joined with its score 7 days before."""
    port = free_port()
    names, env = scorer_setup(
        kafka.bootstrap, topic_prefix, small_model,
        idle_after_hours="0.001",  # 3.6 s of event time
        idle_rescore_hours="0.001", idle_scan_seconds="2", min_score_change="0",
        web_port=str(port))
    producer = Producer({"bootstrap.servers": kafka.bootstrap, "partitioner": "murmur2_random"})
    producer.produce(names["website"], key=b"lead-idle", value=_event(
        "page_view", "lead-idle", 0, url="https://x.io/pricing", path="/pricing",
        page_category="pricing"))
    start = datetime.now(UTC) - timedelta(days=25)
    producer.produce(names["website"], key=b"lead-won", value=_at(start, (
        "page_view", "lead-won", 0), url="https://x.io/pricing", path="/pricing",
        page_category="pricing"))
    assert producer.flush(30) == 0
    with worker_process(env, tmp_path):
        consume(kafka.bootstrap, names["changes"], timeout=120,
                until=lambda m: any(x.key() == b"lead-won" for x in m))
        producer.produce(names["outcomes"], key=b"lead-won", value=_at(
            start + timedelta(days=24), ("converted", "lead-won", 99), deal_value=1000.0,
            currency="EUR"))
        assert producer.flush(30) == 0
        changes = consume(
            kafka.bootstrap, names["changes"], timeout=120,
            until=lambda m: any(b'"cause_event_type":"decay"' in x.value() for x in m))
        metrics = _poll_metrics(port, 'leadscore_quality_conversions{lookback="7"')
    kinds = [ScoreChange.from_bytes(m.value()).cause_event_type for m in changes
             if m.key() == b"lead-idle"]
    assert kinds[0] == "page_view" and "decay" in kinds
    line = next(x for x in metrics.splitlines()
                if x.startswith("leadscore_quality_conversions{lookback=\"7\""))
    assert line.endswith(" 1.0"), line


def _at(when: datetime, what: tuple[str, str, int], **props) -> bytes:
    etype, lead, n = what
    return orjson.dumps({"event_id": f"{lead}-{n}", "type": etype,
                         "occurred_at": when.isoformat(), "lead_id": lead, "source": "test",
                         "schema_version": 2, "properties": props})


def _poll_metrics(port: int, wanted: str, timeout: float = 60.0) -> str:
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        try:
            text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics",
                                          timeout=5).read().decode()
        except OSError:
            text = ""
        if any(x.startswith(wanted) and not x.endswith(" 0.0") for x in text.splitlines()):
            return text
        time.sleep(0.5)
    return text
