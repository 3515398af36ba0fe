"""The demo's view, status line and summary, from observations alone (no broker, no clock)."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest

from schemas import Alert, Factor, ScoreChange
from streams.commands.liveview import (
    Board,
    Summary,
    percentile,
    render_screen,
    render_status,
    render_summary,
)

AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _change(lead: str, score: int, tier: str = "warm", cause: str = "e1") -> ScoreChange:
    return ScoreChange(
        lead_id=lead, score=score, probability=score / 100, tier=tier, percentile=50.0,
        top_factors=[Factor(feature="recency", points=-2.0, sentence="Quiet for a week"),
                     Factor(feature="pricing_7d", points=9.0, sentence="Visited pricing twice")],
        trend="rising", recommended_action="Call today.", model_version="m1",
        cause_event_id=cause, cause_event_type="page_view", event_time=AT, emitted_at=AT)


def _alert(lead: str, from_score: int | None) -> Alert:
    return Alert(kind="entered_tier", lead_id=lead, from_tier="warm" if from_score else None,
                 to_tier="hot", from_score=from_score, to_score=85, score=85,
                 reason="Score crossed 80", idempotency_key=f"k-{lead}", cause_event_id="e1",
                 event_time=AT, emitted_at=AT, model_version="m1")


@pytest.mark.parametrize("values, q, expected", [
    ([], 50, None),
    ([0.2], 99, 0.2),
    ([1.0, 2.0, 3.0, 4.0], 50, 2.0),
    ([4.0, 1.0, 3.0, 2.0], 0, 1.0),
    ([4.0, 1.0, 3.0, 2.0], 100, 4.0),
    (list(range(101)), 99, 99.0),
])
def test_percentile_is_the_benchs_nearest_rank(values, q, expected):
    assert percentile(values, q) == expected


def test_board_keeps_each_leads_latest_score_and_ranks_the_hottest():
    b = Board()
    b.on_change(_change("a", 40), received=100.0, latency=0.05)
    b.on_change(_change("b", 90, "hot"), received=100.5, latency=0.15)
    b.on_change(_change("a", 70), received=101.0, latency=0.10)
    v = b.view(now=101.0, elapsed=3.0, sent_total=30, sent_rate=10.0)
    assert [(r.lead_id, r.score) for r in v.leads] == [("b", 90), ("a", 70)]
    assert v.leads[0].why == "Visited pricing twice"  # the strongest positive factor
    assert v.changes_total == 3 and v.samples == 3
    assert v.p50 == pytest.approx(0.10)


def test_window_forgets_old_latencies_but_the_run_keeps_them():
    b = Board(window_s=10.0)
    b.on_change(_change("a", 40), received=0.0, latency=5.0)
    b.on_change(_change("b", 50), received=20.0, latency=0.1)
    v = b.view(now=25.0, elapsed=25.0, sent_total=0, sent_rate=0.0)
    assert (v.samples, v.p99) == (1, 0.1)
    assert sorted(b.latencies) == [0.1, 5.0]


def test_changes_without_a_matched_send_count_but_add_no_latency():
    b = Board()
    b.on_change(_change("a", 40), received=1.0, latency=None)
    v = b.view(now=1.0, elapsed=1.0, sent_total=1, sent_rate=1.0)
    assert (v.changes_total, v.samples, v.p50) == (1, 0, None)


def test_screen_shows_leads_alerts_and_throughput_newest_alert_first():
    b = Board()
    b.on_change(_change("lead-1", 85, "hot"), received=1.0, latency=0.042)
    b.on_alert(_alert("lead-1", None), received=1.0)
    b.on_alert(_alert("lead-2", 70), received=2.0)
    b.on_dead_letter()
    text = render_screen(b.view(now=2.0, elapsed=2.0, sent_total=600, sent_rate=300.0),
                         header="HEADER", width=200)
    lines = text.splitlines()
    assert lines[0] == "HEADER"
    assert any("lead-1" in ln and "85" in ln and "hot" in ln and "rising" in ln for ln in lines)
    alerts = [ln for ln in lines if "entered_tier" in ln]
    assert "lead-2" in alerts[0] and "warm 70 -> hot 85" in alerts[0]
    assert "new -> hot 85" in alerts[1]
    assert any("300/s" in ln and "600" in ln for ln in lines)
    assert any("dead letters" in ln and ln.rstrip().endswith("1") for ln in lines)
    assert any("p50 42 ms" in ln for ln in lines)


def test_screen_lines_fit_the_terminal():
    b = Board()
    b.on_change(_change("lead-" + "x" * 80, 85, "hot"), received=1.0, latency=0.01)
    text = render_screen(b.view(now=1.0, elapsed=1.0, sent_total=1, sent_rate=1.0), "H", 60)
    assert max(len(ln) for ln in text.splitlines()) <= 60


def test_empty_view_says_so_instead_of_inventing_figures():
    v = Board().view(now=0.0, elapsed=0.0, sent_total=0, sent_rate=0.0)
    text = render_screen(v, "H")
    assert "(no score changes yet)" in text and "p50 -" in text
    assert "latency p50 - p99 -" in render_status(v)


def test_summary_reports_sustained_rate_latency_and_commands():
    s = Summary(sent=9000, send_seconds=30.0, changes=1200, alerts=7, dead_letters=12,
                latencies=[0.010, 0.020, 0.030, 1.5],
                worker_buckets=[(0.01, 2.0), (0.05, 4.0), (math.inf, 4.0)])
    text = render_summary(s, ["leadscore kafka start", "leadscore worker"])
    assert "9,000 in 30.0 s = 300 events/s sustained" in text
    assert "score changes        1,200" in text
    assert "p50 20 ms, p99 1,500 ms over 4 score changes" in text  # nearest rank, as the bench
    assert "the worker's histogram p50 10 ms, p99 49 ms" in text  # as Prometheus interpolates
    assert text.rstrip().endswith("leadscore worker")
    unread = render_summary(Summary(1, 1.0, 0, 0, 0, []), [])
    assert "the worker's histogram p50 -, p99 -" in unread


def test_summary_says_the_dead_letters_are_the_simulators_invalid_lines():
    s = Summary(sent=9000, send_seconds=30.0, changes=1200, alerts=7, dead_letters=12,
                latencies=[], invalid_sent=11)
    line = next(ln for ln in render_summary(s, []).splitlines() if "dead letters" in ln)
    assert ("dead letters         12 (the simulated traffic includes ~11 deliberately "
            "invalid") in line
    assert "original bytes and a reason" in line
    bare = render_summary(Summary(1, 1.0, 0, 0, 3, []), [])
    assert "dead letters         3\n" in bare, "no claim about where they came from when unknown"
