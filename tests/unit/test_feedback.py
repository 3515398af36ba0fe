"""Rep feedback (leads.feedback) in the scorer: validated like every input, folded, counted by
verdict; "contacted" holds the lead's alerts back for the quiet time, "not_a_fit" closes the
lead, "converted_outside_crm" closes it as a conversion; and the trainer's label rules."""

from __future__ import annotations

import math

import orjson
import pytest

from models.artifact import load
from models.features import FeatureConfig
from models.snapshots import SnapshotConfig, build, read_events
from schemas import Alert, DeadLetterRecord, parse_event
from schemas.fastpath import FastEvent, parse_event_fast
from streams.commands.replay import MemoryTables, run
from streams.core.alerting import AlertPolicy
from streams.core.record import LeadRecord
from tests.unit.test_processing import T0, TOPICS, by_topic, event, msg, pricing, processor

FEEDBACK_TOPIC = "leads.feedback"


@pytest.fixture(scope="module")
def scorer(small_model):  # type: ignore[no-untyped-def]
    return load(small_model)


def feedback(verdict: str, lead: str = "F1", hours: float = 0.0, **more) -> bytes:
    return event("rep_feedback", lead=lead, hours=hours, rep_id="ana@example.com",
                 verdict=verdict, **more)


def test_fast_and_reference_validators_agree_on_feedback() -> None:
    good = feedback("contacted", note="called, call back Tuesday")
    fast, ref = parse_event_fast(good), parse_event(good)
    assert isinstance(fast, FastEvent) and not isinstance(ref, DeadLetterRecord)
    assert fast.properties.verdict == ref.properties.verdict == "contacted"
    for bad in (feedback("maybe"), feedback("contacted", note="x" * 1001),
                event("rep_feedback", lead="F1", verdict="good_fit")):  # no rep_id
        assert isinstance(parse_event_fast(bad), DeadLetterRecord)
        assert isinstance(parse_event(bad), DeadLetterRecord)


def test_bad_feedback_is_dead_lettered_and_good_feedback_counted(scorer) -> None:
    proc = processor(scorer)
    bad = feedback("maybe")
    result = proc.process([msg(bad, "F1", topic=FEEDBACK_TOPIC),
                           msg(feedback("good_fit"), "F1", topic=FEEDBACK_TOPIC)], {}, {})
    [dl] = by_topic(result.outputs, TOPICS.deadletter)
    assert DeadLetterRecord.from_bytes(dl.value).original == bad
    assert result.counts["feedback:good_fit"] == 1
    reason = DeadLetterRecord.from_bytes(dl.value).reason_code.value
    assert result.counts[f"invalid:{FEEDBACK_TOPIC}:{reason}"] == 1


def _alerts(proc, raws):  # type: ignore[no-untyped-def]
    msgs = [msg(r, orjson.loads(r)["lead_id"],
                topic=FEEDBACK_TOPIC if b"rep_feedback" in r else "events.website")
            for r in raws]
    tables, outputs = run(proc, msgs, batch_size=1, tables=MemoryTables())
    return tables, [Alert.from_bytes(o.value) for o in by_topic(outputs, TOPICS.alerts)]


def test_contacted_holds_alerts_back_for_the_quiet_time_only(scorer) -> None:
    policy = {"alerts": AlertPolicy(hot=0, warm=0, spike_points=101)}
    # without feedback the first scored event pages (entered Hot)
    _, alerts = _alerts(processor(scorer, **policy), [pricing(lead="F1", hours=1)])
    assert [a.kind for a in alerts] == ["entered_tier"]
    # a rep said "contacted" an hour before: no page within the quiet time
    proc = processor(scorer, contacted_quiet_s=24 * 3600, **policy)
    tables, alerts = _alerts(proc, [feedback("contacted", lead="F1", hours=0),
                                    pricing(lead="F1", hours=1)])
    assert alerts == []
    rec = LeadRecord.from_bytes(tables.leads["L:F1"])
    assert rec.contacted_at is not None and rec.alert.in_hot  # the alert state moved on
    # outside the quiet time it pages as usual
    proc = processor(scorer, contacted_quiet_s=3600, **policy)
    _, alerts = _alerts(proc, [feedback("contacted", lead="F2", hours=0),
                               pricing(lead="F2", hours=2)])
    assert [a.lead_id for a in alerts] == ["F2"]


def test_not_a_fit_closes_the_lead_and_converted_outside_crm_converts_it(scorer) -> None:
    proc = processor(scorer)
    tables, outputs = run(proc, [msg(pricing(lead="F4", hours=0), "F4"),
                                 msg(feedback("not_a_fit", lead="F4", hours=1), "F4",
                                     topic=FEEDBACK_TOPIC),
                                 msg(pricing(lead="F4", hours=2), "F4")],
                          batch_size=1, tables=MemoryTables())
    changes = by_topic(outputs, TOPICS.changes)
    assert len(changes) == 1, "a closed lead is not scored again"
    state = LeadRecord.from_bytes(tables.leads["L:F4"]).state
    assert not math.isnan(state.closed_at)
    # the verdict is not the lead's behaviour: its last-activity time is the pricing view's
    tables, _ = run(processor(scorer),
                    [msg(feedback("converted_outside_crm", lead="F5", hours=5), "F5",
                         topic=FEEDBACK_TOPIC)], tables=MemoryTables())
    s = LeadRecord.from_bytes(tables.leads["L:F5"]).state
    assert not math.isnan(s.closed_at) and math.isnan(s.ts[1])


def test_verdicts_are_labels_in_retraining(tmp_path) -> None:
    """converted_outside_crm makes the snapshots before it positive; not_a_fit ends the
    lead's snapshots (closed, like a disqualification) and labels none positive."""
    lines = [pricing(lead=lead, hours=h) for lead in ("P", "N") for h in range(0, 24 * 30, 24)]
    lines.append(feedback("converted_outside_crm", lead="P", hours=24 * 31))
    lines.append(feedback("not_a_fit", lead="N", hours=24 * 10 + 1))
    lines.append(pricing(lead="Z", hours=24 * 120))  # the data run on past the label window
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    snaps = build(read_events(str(path)), FeatureConfig(), SnapshotConfig(at_events=False))
    by: dict[str, list[tuple[float, int]]] = {}
    for li, y, at in zip(snaps.lead, snaps.y, snaps.at, strict=True):
        by.setdefault(snaps.lead_ids[li], []).append((float(at), int(y)))
    assert by["P"] and all(y == 1 for at, y in by["P"] if at >= T0 + 3600 * 24 * 2)
    assert by["N"] and all(y == 0 for _, y in by["N"])
    assert max(at for at, _ in by["N"]) < T0 + 3600 * (24 * 10 + 1)
