"""The model's quality from outcomes (streams/core/quality.py): the bounded score history in the
lead record, outcomes joined with the scores 7 and 30 days before, the rolling window's figures
from the table scan, and their gauges."""

from __future__ import annotations

import math
import struct

import numpy as np
import orjson
import pytest
from sklearn.metrics import roc_auc_score

from models.artifact import load
from models.metrics import ece
from models.state import LeadState
from streams.commands.replay import MemoryTables, run
from streams.core import quality
from streams.core.quality import (
    HISTORY_DAYS,
    QualityTally,
    observe_outcome,
    remember_score,
    version_bytes,
)
from streams.core.record import LeadRecord
from streams.core.tablescan import scan
from streams.worker.metrics import Metrics
from tests.unit.test_processing import T0, event, msg, pricing, processor

V = version_bytes("5c1e0a7d9b21")


def test_history_keeps_one_entry_per_day_and_is_bounded() -> None:
    rec = LeadRecord(LeadState.new())
    for d in range(60):
        remember_score(rec, d * 86400 + 100, 0.1, V)
        remember_score(rec, d * 86400 + 200, d / 100, V)  # the day's last score wins
    assert len(rec.history) == HISTORY_DAYS - 1 or len(rec.history) == HISTORY_DAYS
    # The probability as the record stores it (float32): the history in memory is what a
    # record read back from the table holds (streams.core.recordcache relies on it).
    assert rec.history[-1] == (59, struct.unpack("<f", struct.pack("<f", 0.59))[0], V)
    assert rec.history[-1][1] == pytest.approx(0.59, abs=1e-7)
    assert all(b[0] == a[0] + 1 for a, b in zip(rec.history, rec.history[1:], strict=False))
    assert LeadRecord.from_bytes(rec.to_bytes()).history == rec.history


def test_an_outcome_is_joined_with_the_scores_7_and_30_days_before() -> None:
    rec = LeadRecord(LeadState.new())
    for d in (1, 5, 12, 30):
        remember_score(rec, d * 86400, d / 100, V)
    assert observe_outcome(rec, 40 * 86400 + 5, 1) == 2
    assert [(o[0], o[1], round(o[2], 6), o[4]) for o in rec.observed] == [
        (7, 1, 0.3, 40), (30, 1, 0.05, 40)]
    # too new a lead for either look-back: nothing observed, earlier observations kept
    young = LeadRecord(LeadState.new())
    remember_score(young, 39 * 86400, 0.5, V)
    assert observe_outcome(young, 40 * 86400, 0) == 0 and young.observed == []


@pytest.fixture(scope="module")
def scorer(small_model):  # type: ignore[no-untyped-def]
    return load(small_model)


def test_the_scorer_records_scores_and_joins_outcomes(scorer) -> None:
    proc = processor(scorer, min_change=0)
    raws = [pricing(lead="Q1", hours=24 * d) for d in range(0, 20)]
    raws.append(event("converted", lead="Q1", hours=24 * 20 + 1, deal_value=1000.0,
                      currency="EUR"))
    msgs = [msg(r, "Q1", topic="leads.outcomes" if b"converted" in r else "events.website")
            for r in raws]
    tables, outputs = run(proc, msgs, batch_size=1, tables=MemoryTables())
    rec = LeadRecord.from_bytes(tables.leads["L:Q1"])
    probs = {orjson.loads(o.value)["cause_event_id"]: orjson.loads(o.value)["probability"]
             for o in outputs if o.topic == "scores.changes"}
    day13 = orjson.loads(raws[13])["event_id"]
    [obs7] = rec.observed
    assert obs7[:2] == (7, 1) and obs7[3] == version_bytes(scorer.version)
    assert obs7[2] == pytest.approx(probs[day13], abs=1e-6)  # stored as float32
    assert obs7[4] == int((T0 + 3600 * (24 * 20 + 1)) // 86400)


def test_window_figures_equal_the_offline_metrics() -> None:
    rng = np.random.default_rng(3)
    p = rng.uniform(0, 1, 400)
    y = (rng.uniform(0, 1, 400) < p).astype(int)
    tally = QualityTally(now_day=1000, window_days=30)
    tally.add([(7, int(y[i]), float(p[i]), V, 990) for i in range(400)])
    tally.add([(7, 1, 0.9, V, 960)])  # outside the window
    f = tally.figures()[(V, 7)]
    assert (f.outcomes, f.conversions) == (400, int(y.sum()))
    assert f.auc == pytest.approx(roc_auc_score(y, p), abs=1e-12)
    assert f.brier == pytest.approx(float(np.mean((p - y) ** 2)))
    assert f.ece == pytest.approx(ece(p, y.astype(float)))
    hot = p >= 0.8
    assert f.tiers["hot"] == (int(hot.sum()), int(y[hot].sum()), pytest.approx(p[hot].sum()))
    assert sum(n for n, _, _ in f.tiers.values()) == 400


def test_the_table_scan_tallies_observations_and_the_gauges_export_them() -> None:
    recs = []
    for i in range(6):
        r = LeadRecord(LeadState.new(key=f"x{i}"))
        r.observed = [(7, int(i >= 3), 0.2 + 0.1 * i, V, 500), (30, int(i >= 3), 0.3, V, 500)]
        recs.append((f"L:x{i}", r.to_bytes()))
    tally = QualityTally(now_day=505, window_days=30)
    scan(recs, None, 1.0, 1.0, 10, tally)
    figs = tally.figures()
    assert figs[(V, 7)].outcomes == 6 and figs[(V, 7)].auc == 1.0
    m = Metrics(process=False)
    m.record_quality(figs, {"5c1e0a7d9b21": V}, quality.LOOKBACKS)
    get = m.registry.get_sample_value
    lb = {"version": "5c1e0a7d9b21", "lookback": "7"}
    assert get("leadscore_quality_outcomes", lb) == 6
    assert get("leadscore_quality_conversions", lb) == 3
    assert get("leadscore_quality_auc", lb) == 1.0
    assert get("leadscore_quality_tier_outcomes", {**lb, "tier": "cold"}) == 3
    # after a swap, the old version's series are gone
    m.record_quality({}, {"000000000001": version_bytes("000000000001")}, quality.LOOKBACKS)
    assert get("leadscore_quality_outcomes", lb) is None
    assert math.isnan(get("leadscore_quality_auc", {"version": "000000000001",
                                                    "lookback": "7"}))
