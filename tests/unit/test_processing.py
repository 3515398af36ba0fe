"""The scorer's batch logic without a broker: validation, routing, stitching, scoring, alerts."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import numpy as np
import orjson
import pytest

from models.artifact import load
from models.state import T
from schemas import Alert, DeadLetterRecord, ScoreChange
from streams.commands.replay import MemoryTables, final_scores, run
from streams.core.alerting import AlertPolicy
from streams.core.processing import Message, Policy, Processor, TopicNames, due_for_rescore
from streams.core.record import LeadRecord

NOW = datetime(2026, 11, 23, tzinfo=UTC).timestamp()
T0 = datetime(2026, 11, 1, tzinfo=UTC).timestamp()
TOPICS = TopicNames()


@pytest.fixture(scope="module")
def scorer(small_model):
    return load(small_model)


def processor(scorer, **policy) -> Processor:
    return Processor(scorer, TOPICS, Policy(max_age=None, **policy), clock=lambda: NOW)


_n = iter(range(10**9))


def event(etype: str, lead: str | None = "L1", anon: str | None = None, hours: float = 0.0,
          event_id: str | None = None, **props) -> bytes:
    doc = {"event_id": event_id or f"ev-{next(_n)}", "type": etype,
           "occurred_at": datetime.fromtimestamp(T0 + hours * 3600, UTC).isoformat(),
           "source": "test", "schema_version": 2, "properties": props}
    if lead:
        doc["lead_id"] = lead
    if anon:
        doc["anonymous_id"] = anon
    return orjson.dumps(doc)


def pricing(**kw) -> bytes:
    return event("page_view", url="https://x.io/pricing", path="/pricing",
                 page_category="pricing", **kw)


def msg(value: bytes, key: str | None, topic: str = "events.website", offset: int = 0) -> Message:
    return Message(topic, 0, offset, key.encode() if key is not None else None, value)


def by_topic(outputs, topic):
    return [o for o in outputs if o.topic == topic]


def test_significant_event_yields_one_contract_valid_score_change(scorer):
    proc = processor(scorer)
    raw = pricing(lead="L1", event_id="e-pricing")
    result = proc.process([msg(raw, "L1")], {}, {})
    [out] = by_topic(result.outputs, TOPICS.changes)
    change = ScoreChange.from_bytes(out.value)
    assert out.key == b"L1"
    assert (change.lead_id, change.cause_event_id, change.cause_event_type) == (
        "L1", "e-pricing", "page_view")
    assert change.model_version == scorer.version
    assert 0 <= change.score <= 100 and change.score == round(100 * change.probability)
    assert change.top_factors and all(f.sentence for f in change.top_factors)
    # Reasons, each a different thing, in words: the pricing view is what the lead did.
    assert len({f.feature for f in change.top_factors}) == len(change.top_factors)
    assert ("intent", "Viewed pricing once in the last 30 days, the latest today") in [
        (f.feature, f.sentence) for f in change.top_factors]
    assert result.outputs == [out]


def test_insignificant_event_updates_state_but_sends_nothing(scorer):
    proc = processor(scorer)
    result = proc.process([msg(event("email_open", campaign_id="c", message_id="m"), "L1",
                               topic="events.email")], {}, {})
    assert result.outputs == []
    assert [w.key for w in result.writes] == ["L:L1"]


def test_malformed_record_goes_to_dead_letter_and_the_batch_goes_on(scorer):
    proc = processor(scorer)
    bad = b'{"event_id": "x", "type": "page_view", oops'
    result = proc.process([msg(bad, "L1", offset=7), msg(pricing(lead="L2"), "L2", offset=8)],
                          {}, {})
    [dl_out] = by_topic(result.outputs, TOPICS.deadletter)
    dl = DeadLetterRecord.from_bytes(dl_out.value)
    assert dl.original == bad
    assert (dl.reason_code.value, dl.source_topic, dl.partition, dl.offset) == (
        "unparseable_json", "events.website", 0, 7)
    assert len(by_topic(result.outputs, TOPICS.changes)) == 1


def test_the_same_event_twice_changes_nothing_and_sends_nothing(scorer):
    proc = processor(scorer)
    tables = MemoryTables()
    raw = pricing(lead="L1")
    run(proc, [msg(raw, "L1")], tables=tables)
    before = LeadRecord.from_bytes(tables.leads["L:L1"])
    _, outputs = run(proc, [msg(raw, "L1")], tables=tables)
    after = LeadRecord.from_bytes(tables.leads["L:L1"])
    assert outputs == []
    at = before.state.ts[T["last"]]
    assert np.array_equal(scorer.features(after.state, at), scorer.features(before.state, at),
                          equal_nan=True)
    assert (after.score, after.probability, after.alert) == (
        before.score, before.probability, before.alert)


def test_identify_hands_anonymous_history_to_the_lead_and_rescores(scorer):
    proc = processor(scorer)
    leads: dict[str, bytes] = {}
    aliases: dict[str, bytes] = {}

    def apply(result):
        for w in result.writes:
            target = leads if w.table == "leads" else aliases
            if w.value is None:
                target.pop(w.key, None)
            else:
                target[w.key] = w.value

    anon_views = [msg(pricing(lead=None, anon="A1", hours=h), "A1") for h in (0, 1, 2)]
    first = proc.process(anon_views, leads, aliases)
    apply(first)
    assert first.outputs == [] and "A:A1" in leads

    identify = event("identify", lead="L9", anon="A1", hours=3, email="ada@acme.example")
    second = proc.process([msg(identify, "A1")], leads, aliases)
    apply(second)
    [handoff] = second.outputs
    assert handoff.topic == TOPICS.handoff and handoff.key == b"L9"
    assert "A:A1" not in leads and aliases["A1"] == b"L9"

    third = proc.process([Message(TOPICS.handoff, 0, 0, handoff.key, handoff.value)],
                         leads, aliases)
    apply(third)
    [change] = [ScoreChange.from_bytes(o.value) for o in third.outputs]
    assert change.lead_id == "L9" and change.cause_event_type == "identify"
    merged = LeadRecord.from_bytes(leads["L:L9"]).state
    assert sum(merged.totals) >= 4  # three anonymous page views + the identify

    later = proc.process([msg(pricing(lead=None, anon="A1", hours=4), "A1")], leads, aliases)
    [fwd] = later.outputs
    assert fwd.topic == TOPICS.handoff and fwd.key == b"L9"
    assert orjson.loads(fwd.value)["k"] == "event"


def test_an_event_keyed_wrongly_is_rerouted_to_its_lead(scorer):
    proc = processor(scorer)
    raw = pricing(lead="L5")
    result = proc.process([msg(raw, "not-the-lead")], {}, {})
    [out] = result.outputs
    assert out.topic == TOPICS.handoff and out.key == b"L5"
    assert base64.b64decode(orjson.loads(out.value)["raw"]) == raw
    assert result.writes == []



def test_crossing_the_hot_threshold_pages_exactly_once(scorer):
    # Spikes off: this is about the threshold crossing alone (rules: test_alerting.py).
    proc = processor(scorer, alerts=AlertPolicy(hot=0, warm=0, spike_points=101))
    tables = MemoryTables()
    _, outputs = run(proc, [msg(pricing(lead="L3", hours=h), "L3") for h in (0, 1, 2, 3)],
                     batch_size=1, tables=tables)
    alerts = [Alert.from_bytes(o.value) for o in by_topic(outputs, TOPICS.alerts)]
    assert [(a.kind, a.to_tier) for a in alerts] == [("entered_tier", "hot")]


def test_final_scores_do_not_depend_on_arrival_order_within_lateness(scorer):
    """What the Kafka parity test relies on: topics interleave differently than the file."""
    raws = [pricing(lead=f"L{i % 7}", hours=i) for i in range(40)]
    raws += [event("email_click", lead=f"L{i % 7}", hours=i, campaign_id="c", message_id="m",
                   url="https://x.io", topic="pricing") for i in range(40)]
    msgs = [msg(r, orjson.loads(r)["lead_id"]) for r in raws]
    proc = processor(scorer)
    a, _ = run(proc, msgs)
    b, _ = run(processor(scorer), list(reversed(msgs)), batch_size=7)
    fa, fb = final_scores(proc, a.leads.items()), final_scores(proc, b.leads.items())
    assert fa.keys() == fb.keys() == {f"L{i}" for i in range(7)}
    for lead in fa:
        assert abs(fa[lead].probability - fb[lead].probability) < 1e-9, lead


def test_an_idle_lead_is_rescored_at_a_later_time_and_decays(scorer):
    proc = processor(scorer)
    tables = MemoryTables()
    raws = [pricing(lead="L7", hours=h) for h in range(6)]
    raws.append(event("demo_request", lead="L7", hours=6))
    run(proc, [msg(r, "L7") for r in raws], tables=tables)
    header = LeadRecord.peek(tables.leads["L:L7"])
    last = header["le"]
    assert not due_for_rescore(header, last + 3600, idle_s=86400, every_s=86400)
    later = last + 60 * 86400
    assert due_for_rescore(header, later, idle_s=86400, every_s=86400)

    rescore = Message(TOPICS.handoff, 0, 0, b"L7", orjson.dumps({"k": "rescore", "at": later}))
    _, outputs = run(proc, [rescore], tables=tables)
    after = LeadRecord.from_bytes(tables.leads["L:L7"])
    assert after.scored_at == later
    assert after.score is not None and after.score <= header["s"]
    changes = [ScoreChange.from_bytes(o.value) for o in by_topic(outputs, TOPICS.changes)]
    assert all(c.cause_event_type == "decay" for c in changes)
    # Scored once at that time: the same rescore again sends nothing new.
    _, again = run(proc, [rescore], tables=tables)
    assert by_topic(again, TOPICS.changes) == []


def test_stream_now_follows_event_time_not_the_calendar(scorer):
    clock = [1000.0]
    proc = Processor(scorer, TOPICS, Policy(max_age=None), clock=lambda: clock[0])
    assert proc.stream_now() is None
    proc.saw_event_time(T0)
    clock[0] += 30
    assert proc.stream_now() == T0 + 30
