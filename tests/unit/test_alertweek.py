"""The simulated week of alerts: the worker's rules over a week of scores, per rep per day."""

from __future__ import annotations

import pytest

from models.week import ScorePoint, WeekScores
from streams.core.alerting import AlertPolicy
from streams.core.alertweek import rep_of, simulate_week, summary_lines

DAY = 86400.0
START = 1_000 * DAY
H = 3600.0


def _week(leads: dict[str, list[tuple[float, int]]], converted: dict[str, float]
          ) -> WeekScores:
    ws = WeekScores(START, START + 7 * DAY, START - 8 * DAY, converted_at=converted)
    for lead, pts in leads.items():
        ws.leads[lead] = [ScorePoint(t, s, f"{lead}-{i}") for i, (t, s) in enumerate(pts)]
    return ws


def test_counts_alerts_inside_the_week_per_rep_and_day() -> None:
    leads = {
        # entered Hot during the warm-up: remembered, not counted, and not paged again
        "warm-up": [(START - 2 * DAY, 85), (START + DAY, 88)],
        # enters Hot on day 2, converts a week later
        "buyer": [(START - DAY, 40), (START + 2 * DAY, 60), (START + 2 * DAY + H, 84)],
        # a Cold spike (2 -> 22): not a page by default
        "noise": [(START + 3 * DAY, 2), (START + 3 * DAY + H, 22)],
        # a spike into Warm on day 4 that does not convert
        "riser": [(START + 4 * DAY, 30), (START + 4 * DAY + H, 55)],
    }
    ws = _week(leads, {"buyer": START + 9 * DAY, "warm-up": START - DAY})
    a = simulate_week(ws, AlertPolicy(), reps=3)
    assert a["alerts"] == {"entered_tier": 1, "spike": 1, "decline": 0, "total": 2}
    assert a["per_rep_day"]["mean"] == pytest.approx(2 / 21)
    assert a["per_rep_day"]["max"] == 1 and a["per_rep_day"]["within_budget"]
    assert a["paged_leads"]["entered_tier"] == {"leads": 1, "converted": 1, "share": 1.0}
    assert a["paged_leads"]["spike"] == {"leads": 1, "converted": 0, "share": 0.0}
    assert a["paged_leads"]["any"]["share"] == 0.5
    assert a["leads_scored"] == 4
    assert a["scored_leads_converting"] == pytest.approx(1 / 4)  # buyer only (warm-up
    # converted before the week started)
    assert a["paging_every_spike_and_decline"]["total"] == 3  # the Cold spike too
    text = "\n".join(summary_lines(a))
    assert "for 3 reps" in text and "budget 15: met" in text


def test_a_flood_of_alerts_is_reported_as_over_budget() -> None:
    leads = {f"l{i}": [(START + H * j, 10 + 50 * (j % 2)) for j in range(48)]
             for i in range(20)}
    a = simulate_week(_week(leads, {}), AlertPolicy(decline_points=20), reps=2)
    assert a["per_rep_day"]["max"] > 15 and not a["per_rep_day"]["within_budget"]
    assert "MISSED" in "\n".join(summary_lines(a))


def test_reps_get_leads_by_a_stable_hash() -> None:
    reps = [rep_of(f"lead-{i}", 10) for i in range(2000)]
    assert set(reps) == set(range(10))
    assert max(reps.count(r) for r in range(10)) < 260
    assert rep_of("lead-7", 10) == rep_of("lead-7", 10)
