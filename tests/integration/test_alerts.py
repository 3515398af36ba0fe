"""A threshold crossing on the real broker pages exactly once."""

from __future__ import annotations

import orjson
from confluent_kafka import Producer

from models.artifact import load
from schemas import Alert
from streams.alerting import AlertPolicy
from streams.processing import Message, Policy, Processor
from streams.record import LeadRecord
from streams.replay import MemoryTables, run
from tests.integration.helpers import consume, scorer_setup, worker_process
from tests.integration.test_worker_roundtrip import _event


def _pricing(lead: str, n: int) -> bytes:
    return _event("page_view", lead, n, url="https://x.io/pricing", path="/pricing",
                  page_category="pricing")


def test_crossing_the_hot_threshold_pages_once(kafka, topic_prefix, tmp_path, small_model):
    lead = "lead-hot"
    raws = [_pricing(lead, n) for n in range(12)]
    raws.append(_event("demo_request", lead, 20))
    # Offline, through the same code: the scores this lead goes through. The threshold is its
    # final score (however the worker batches the events, it ends there), and hysteresis is
    # wide, so leaving Hot cannot happen: exactly one crossing.
    proc = Processor(load(small_model), policy=Policy(max_age=None))
    tables, scores = MemoryTables(), []
    for raw in raws:
        run(proc, [Message("events.website", 0, 0, lead.encode(), raw)], tables=tables)
        scores.append(LeadRecord.from_bytes(tables.leads[f"L:{lead}"]).score)
    peak, first = scores[-1], scores[0]
    assert peak > first, f"the planned events must raise the score: {scores}"

    names, env = scorer_setup(
        kafka.bootstrap, topic_prefix, small_model, tier_hot=str(peak),
        tier_warm=str(min(first, peak - 1)), alert_hysteresis=str(peak),
        spike_points="101")  # only the crossing is under test
    producer = Producer({"bootstrap.servers": kafka.bootstrap, "partitioner": "murmur2_random"})
    for raw in raws:
        producer.produce(names["website"], key=lead.encode(), value=raw)
    # Then the same events again: duplicates must not page a second time.
    for raw in raws:
        producer.produce(names["website"], key=lead.encode(), value=raw)
    assert producer.flush(30) == 0
    with worker_process(env, tmp_path):
        changes = consume(kafka.bootstrap, names["changes"], timeout=120,
                          until=lambda m: any(orjson.loads(x.value())["score"] >= peak
                                              for x in m))
        alerts = consume(kafka.bootstrap, names["alerts"], until=lambda m: False, timeout=10)
    assert changes
    entered = [Alert.from_bytes(m.value()) for m in alerts]
    assert [(a.kind, a.to_tier, a.lead_id) for a in entered] == [("entered_tier", "hot", lead)]
    assert AlertPolicy(hot=peak).tier(peak) == "hot"
