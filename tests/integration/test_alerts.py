"""A threshold crossing on the real broker pages exactly once."""

from __future__ import annotations

import orjson
from confluent_kafka import Producer

from models.artifact import load
from schemas import Alert
from streams.commands.replay import MemoryTables, run
from streams.core.alerting import AlertPolicy
from streams.core.processing import Message, Policy, Processor
from streams.core.record import LeadRecord
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


def _candidate(lead: str, seed: int) -> list[bytes]:
    """A seeded mix of website events, hours apart, so the score rises and falls."""
    import random

    rng = random.Random(seed)
    raws, minute = [], 0
    for n in range(14):
        minute += rng.choice([30, 240, 1440, 2880])
        kind = rng.choice(["pricing", "case_study", "demo_request", "content_download"])
        if kind in ("pricing", "case_study"):
            raws.append(_event("page_view", lead, minute - 30 * 1440, url="https://x.io/p",
                               path="/p", page_category=kind))
        elif kind == "demo_request":
            raws.append(_event("demo_request", lead, minute - 30 * 1440))
        else:
            raws.append(_event("content_download", lead, minute - 30 * 1440,
                               content_type="whitepaper", title=f"Guide {n}"))
    return raws


def _hover_plan(scores: list[int]) -> tuple[int, int] | None:
    """(threshold, hysteresis) such that the scores cross the threshold upwards at least
    twice (so without hysteresis it would page twice) but never fall below threshold minus
    hysteresis after first reaching it (so with it, one page)."""
    for hot in range(max(2, min(scores) + 1), max(scores) + 1):
        ups = sum(1 for a, b in zip(scores, scores[1:], strict=False) if a < hot <= b)
        if ups < 2 or scores[0] >= hot:
            continue
        first = next(i for i, s in enumerate(scores) if s >= hot)
        dip = hot - min(scores[first:])
        if 0 < dip <= 8 and hot - dip - 1 > 0:
            return hot, dip
    return None


def test_hovering_at_the_threshold_pages_once(kafka, topic_prefix, tmp_path, small_model):
    lead = "lead-hover"
    scorer = load(small_model)
    # Offline, through the same code, one event per batch as the test will send them: find
    # events whose scores hover around some threshold.
    for seed in range(300):
        raws = _candidate(lead, seed)
        proc = Processor(scorer, policy=Policy(max_age=None, min_change=0))
        tables, scores = MemoryTables(), []
        for raw in raws:
            run(proc, [Message("events.website", 0, 0, lead.encode(), raw)], tables=tables)
            scores.append(LeadRecord.from_bytes(tables.leads[f"L:{lead}"]).score)
        plan = _hover_plan(scores)
        if plan:
            break
    assert plan, "no seeded event mix hovers around a threshold"
    hot, band = plan

    names, env = scorer_setup(
        kafka.bootstrap, topic_prefix, small_model, tier_hot=str(hot),
        tier_warm=str(max(0, hot - band - 1)), alert_hysteresis=str(band),
        min_score_change="0", spike_points="101", decline_points="101")
    producer = Producer({"bootstrap.servers": kafka.bootstrap, "partitioner": "murmur2_random"})
    seen: list[int] = []
    with worker_process(env, tmp_path):
        for i, raw in enumerate(raws):  # one at a time: each is scored on its own
            producer.produce(names["website"], key=lead.encode(), value=raw)
            assert producer.flush(30) == 0
            changes = consume(kafka.bootstrap, names["changes"], timeout=120,
                              until=lambda m, n=i + 1: len(m) >= n)
            seen = [orjson.loads(m.value())["score"] for m in changes]
        alerts = consume(kafka.bootstrap, names["alerts"], until=lambda m: False, timeout=10)
    assert seen == scores, "the worker's scores follow the offline plan"
    ups = sum(1 for a, b in zip(seen, seen[1:], strict=False) if a < hot <= b)
    assert ups >= 2, f"the lead crossed {hot} upwards {ups} times: {seen}"
    paged = [Alert.from_bytes(m.value()) for m in alerts]
    assert [(a.kind, a.to_tier) for a in paged] == [("entered_tier", "hot")], (seen, hot, band)
