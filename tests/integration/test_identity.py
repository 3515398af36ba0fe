"""Identity stitching on the real broker: an identify merges the anonymous history into the
lead (on the lead's partition) and re-scores it; later anonymous events are forwarded."""

from __future__ import annotations

from confluent_kafka import Producer

from models.artifact import load
from schemas import ScoreChange
from streams.commands.replay import run
from streams.core.processing import Message, Policy, Processor
from streams.core.record import LeadRecord
from tests.integration.helpers import (
    consume,
    read_table,
    scorer_setup,
    wait_caught_up,
    worker_process,
)
from tests.integration.test_worker_roundtrip import _event


def _anon_view(anon: str, n: int) -> bytes:
    raw = _event("page_view", "x", n, url="https://x.io/pricing", path="/pricing",
                 page_category="pricing")
    return raw.replace(b'"lead_id":"x"', f'"anonymous_id":"{anon}"'.encode()).replace(
        b'"event_id":"x-', f'"event_id":"{anon}-'.encode())


def test_identify_merges_anonymous_history_and_rescores(kafka, topic_prefix, tmp_path,
                                                        small_model):
    names, env = scorer_setup(kafka.bootstrap, topic_prefix, small_model)
    anon, lead = "anon-77", "lead-77"
    identify = _event("identify", lead, 10, email="ada@acme.example").replace(
        b'"lead_id":', f'"anonymous_id":"{anon}","lead_id":'.encode())
    raws = [_anon_view(anon, n) for n in range(3)] + [identify, _anon_view(anon, 20)]
    producer = Producer({"bootstrap.servers": kafka.bootstrap, "partitioner": "murmur2_random"})
    for raw in raws:
        producer.produce(names["website"], key=anon.encode(), value=raw)
    assert producer.flush(30) == 0

    with worker_process(env, tmp_path):
        # The merge and the forwarded view can land in one batch, which then scores the lead
        # once, caused by the view: wait for the lead's score, whatever caused it.
        changes = consume(kafka.bootstrap, names["changes"], timeout=120, until=lambda m: any(
            ScoreChange.from_bytes(x.value()).lead_id == lead for x in m))
        app_id = env["LEADSCORE_APP_ID"]
        wait_caught_up(kafka.bootstrap, app_id, [names["website"], names["handoff"]])
        table = read_table(kafka.bootstrap, f"{app_id}-leads-changelog")

    assert any(ScoreChange.from_bytes(m.value()).lead_id == lead for m in changes)
    assert f"A:{anon}" not in table, "the anonymous record was handed over"
    # The same five events offline: the lead's activity counts must be exactly these.
    offline, _ = run(Processor(load(small_model), policy=Policy(max_age=None)),
                     [Message("events.website", 0, 0, anon.encode(), raw) for raw in raws])
    expected = LeadRecord.from_bytes(offline.leads[f"L:{lead}"]).state
    state = LeadRecord.from_bytes(table[f"L:{lead}"]).state
    assert state.totals == expected.totals and sum(state.totals) > 0
