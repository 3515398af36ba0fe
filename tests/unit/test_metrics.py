"""Metrics, the table scan and the lookup answer, without a broker: the same batch results the
worker records, checked through the Prometheus registry."""

from __future__ import annotations

import pytest

from models.artifact import load
from models.state import T
from schemas import ScoreChange
from streams.commands.replay import MemoryTables, run
from streams.core.lookup import lead_score, valid_lead_id
from streams.core.percentile import ScoreHistogram
from streams.core.record import LeadRecord
from streams.core.tablescan import scan
from streams.worker.metrics import ConsumerCollector, Metrics
from tests.unit.test_processing import NOW, TOPICS, event, msg, pricing, processor

SOURCES = {"events.website": "website", "events.email": "email"}


@pytest.fixture(scope="module")
def scorer(small_model):
    return load(small_model)


def value(m: Metrics, name: str, **labels: str) -> float:
    v = m.registry.get_sample_value(name, labels)
    return 0.0 if v is None else v


def test_a_batch_is_counted_by_source_type_reason_tier_and_latency(scorer):
    proc, m = processor(scorer), Metrics(process=False)
    batch = [msg(pricing(lead="L1"), "L1"),
             msg(event("email_open", lead="L1", campaign_id="c", message_id="m"), "L1",
                 topic="events.email"),
             msg(b"not json", "L1"),
             msg(pricing(lead="L2"), "L2")]
    result = proc.process(batch, {}, {})
    m.record_batch(result, SOURCES, [NOW - 1.5] * len(batch), len(batch), 0.02, acked_at=NOW)

    assert value(m, "leadscore_events_consumed_total", source="website", type="page_view") == 2
    assert value(m, "leadscore_events_consumed_total", source="email", type="email_open") == 1
    assert value(m, "leadscore_events_consumed_total", source="website", type="invalid") == 1
    assert value(m, "leadscore_events_invalid_total", source="website",
                 reason="unparseable_json") == 1
    assert value(m, "leadscore_scores_computed_total") == 2
    tiers = [ScoreChange.from_bytes(o.value).tier for o in result.outputs
             if o.topic == TOPICS.changes]
    assert sum(value(m, "leadscore_score_changes_total", tier=t) for t in set(tiers)) == 2
    assert value(m, "leadscore_score_points_count") == 2
    # Latency runs from the causing record's Kafka timestamp to the acknowledgement.
    assert value(m, "leadscore_event_to_score_seconds_count") == 2
    assert value(m, "leadscore_event_to_score_seconds_sum") == pytest.approx(3.0)
    assert value(m, "leadscore_batch_messages_sum") == 4
    assert value(m, "leadscore_batch_processing_seconds_count") == 1


def test_a_redelivered_event_counts_as_duplicate_not_as_a_score(scorer):
    proc, m = processor(scorer), Metrics(process=False)
    tables = MemoryTables()
    raw = pricing(lead="L1", event_id="same")
    run(proc, [msg(raw, "L1")], tables=tables)
    result = proc.process([msg(raw, "L1")], tables.leads, tables.aliases)
    m.record_batch(result, SOURCES, [NOW], 1, 0.01, acked_at=NOW)
    assert value(m, "leadscore_events_duplicate_total") == 1
    assert value(m, "leadscore_scores_computed_total") == 0


def test_names_follow_prometheus_conventions_and_labels_are_bounded():
    m = Metrics(process=False)
    allowed = {"source", "type", "reason", "kind", "tier", "topic", "partition", "version",
               "outcome", "verdict", "lookback", "feature", "le"}
    for fam in m.registry.collect():
        assert fam.name.startswith("leadscore_")
        if fam.type == "counter":
            assert all(s.name.endswith(("_total", "_created")) for s in fam.samples)
        for s in fam.samples:
            assert set(s.labels) <= allowed, (fam.name, s.labels)
    assert {f.name for f in m.registry.collect() if f.type == "histogram"} >= {
        "leadscore_event_to_score_seconds", "leadscore_batch_processing_seconds"}


def test_model_info_and_seen_timestamps():
    m = Metrics(process=False)
    m.record_model("lgbm-x", 0.25)
    m.record_seen(SOURCES, ["events.website", "events.email", "events.website", "handoff"],
                  [10.0, 20.0, 30.0, 40.0])
    assert value(m, "leadscore_model_info", version="lgbm-x") == 1
    assert value(m, "leadscore_model_load_seconds") == 0.25
    assert value(m, "leadscore_last_event_timestamp_seconds", source="website") == 30.0
    assert value(m, "leadscore_last_event_timestamp_seconds", source="email") == 20.0


def test_consumer_lag_is_read_at_scrape_time_and_survives_errors():
    m = Metrics(process=False)
    rows = [("events.website", 0, 7), ("events.website", 1, 0)]
    m.registry.register(ConsumerCollector(lambda: rows))
    assert value(m, "leadscore_consumer_lag_messages", topic="events.website",
                 partition="0") == 7
    broken = Metrics(process=False)

    def fails():
        raise RuntimeError("mid-rebalance")

    broken.registry.register(ConsumerCollector(fails))
    assert b"leadscore_consumer_lag_messages" in broken.exposition()  # empty, not a 500


def test_table_scan_tallies_tiers_and_finds_idle_leads(scorer):
    proc = processor(scorer)
    tables = MemoryTables()
    run(proc, [msg(pricing(lead=f"L{i}"), f"L{i}") for i in range(3)]
        + [msg(event("email_open", lead="L9", campaign_id="c", message_id="m"), "L9",
               topic="events.email"),
           msg(event("page_view", lead=None, anon="anon-1", url="https://x.io/",
                     path="/", page_category="blog"), "anon-1")], tables=tables)
    records = {k: LeadRecord.from_bytes(v) for k, v in tables.leads.items() if k[:2] == "L:"}
    found = scan(tables.leads.items(), None, 3600, 3600, max_due=10)
    assert (found.leads, found.anonymous) == (4, 1)
    assert sum(found.tiers.values()) == 3  # L9 was never scored
    assert sum(found.score_counts) == 3 and found.due == []  # no "now": nothing due
    last = max(r.state.ts[T["last"]] for r in records.values())
    later = scan(tables.leads.items(), last + 30 * 86400, 3600, 3600, max_due=2)
    assert len(later.due) == 2  # bounded per scan


def test_histogram_reset_replaces_counts():
    h = ScoreHistogram()
    h.move(None, 10)
    counts = [0] * 101
    counts[50], counts[90] = 3, 1
    h.reset(counts)
    assert h.total == 4 and h.percentile(90) == 87.5
    with pytest.raises(ValueError):
        h.reset([0] * 100)


def test_lookup_answers_the_stored_score_with_factors(scorer):
    proc = processor(scorer)
    tables = MemoryTables()
    _, outputs = run(proc, [msg(pricing(lead="L1"), "L1")], tables=tables)
    [change] = [ScoreChange.from_bytes(o.value) for o in outputs if o.topic == TOPICS.changes]
    answer = lead_score(proc, "L1", tables.leads["L:L1"])
    assert (answer.lead_id, answer.score, answer.probability, answer.tier) == (
        "L1", change.score, change.probability, change.tier)
    # The lookup explains the stored score as the worker did: same reasons, points, words.
    assert answer.top_factors == change.top_factors
    assert answer.updated_at == change.event_time
    assert answer.model_version == scorer.version and answer.recommended_action


def test_lookup_scores_a_known_but_never_scored_lead_without_writing(scorer):
    proc = processor(scorer)
    tables = MemoryTables()
    run(proc, [msg(event("email_open", lead="L2", campaign_id="c", message_id="m"), "L2",
                   topic="events.email")], tables=tables)
    stored = tables.leads["L:L2"]
    assert LeadRecord.from_bytes(stored).score is None
    answer = lead_score(proc, "L2", stored)
    assert 0 <= answer.score <= 100 and answer.top_factors
    assert tables.leads["L:L2"] == stored


@pytest.mark.parametrize("lead_id,ok", [("lead-1", True), ("x" * 128, True), ("", False),
                                        ("x" * 129, False), ("bad\x01id", False),
                                        ("zero\u200bwidth", False)])
def test_lead_ids_follow_the_contract(lead_id, ok):
    assert valid_lead_id(lead_id) is ok
