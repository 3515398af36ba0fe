"""Alert rules: one page per crossing, hysteresis, spikes and declines, deterministic keys."""

from __future__ import annotations

from streams.core.alerting import DAY, MAX_HISTORY, AlertPolicy, AlertState, evaluate

H = 3600.0
DEFAULT = AlertPolicy()


def run(scores_at: list[tuple[float, int]], policy: AlertPolicy = DEFAULT):
    state, prev, out = AlertState(), None, []
    for i, (at, score) in enumerate(scores_at):
        state, alerts = evaluate(state, lead_id="L1", prev_score=prev, score=score, at=at,
                                 cause_event_id=f"e{i}", policy=policy)
        out.extend(alerts)
        prev = score
    return state, out


def test_crossing_into_hot_pages_exactly_once():
    _, alerts = run([(0, 40), (1 * H, 55), (30 * H, 79), (31 * H, 82), (32 * H, 90)])
    assert [a.kind for a in alerts] == ["entered_tier"]
    assert (alerts[0].from_tier, alerts[0].to_tier, alerts[0].to_score) == ("warm", "hot", 82)


def test_hovering_at_the_threshold_does_not_page_twice():
    _, alerts = run([(i * 2 * DAY, s) for i, s in enumerate([78, 81, 79, 80, 77, 81, 76, 80])])
    assert [a.kind for a in alerts] == ["entered_tier"]


def test_leaving_hot_past_the_hysteresis_band_is_a_decline_then_reentry_pages_again():
    _, alerts = run([(0, 85), (2 * DAY, 74), (4 * DAY, 86)])
    assert [a.kind for a in alerts] == ["entered_tier", "decline", "entered_tier"]
    assert "leaving Hot" in alerts[1].reason


def test_spike_of_20_points_within_24h_pages_once_per_rise():
    _, alerts = run([(0, 30), (2 * H, 40), (4 * H, 51), (5 * H, 55), (6 * H, 60)])
    assert [a.kind for a in alerts] == ["spike"]
    assert alerts[0].to_score == 51


def test_a_spike_that_stays_cold_does_not_page_by_default():
    state, alerts = run([(0, 2), (H, 22), (2 * H, 35)])
    assert alerts == [] and state.last_spike_at is None  # no trace: nothing was paged
    # ...and a later rise into Warm is measured from the low, so it still pages
    _, alerts = run([(0, 2), (H, 22), (2 * H, 52)])
    assert [(a.kind, a.to_score) for a in alerts] == [("spike", 52)]
    assert "50 points" in alerts[0].reason


def test_paging_cold_spikes_and_declines_is_configurable():
    every = AlertPolicy(page_from="cold")
    _, alerts = run([(0, 2), (H, 22)], every)
    assert [a.kind for a in alerts] == ["spike"]
    _, alerts = run([(0, 40), (DAY, 15)], every)
    assert [a.kind for a in alerts] == ["decline"]
    _, alerts = run([(0, 40), (DAY, 15)])  # default: a decline within Cold is not a page
    assert alerts == []
    hot_only = AlertPolicy(page_from="hot")
    _, alerts = run([(0, 30), (H, 60)], hot_only)
    assert alerts == []


def test_a_rise_spread_over_more_than_24h_is_not_a_spike():
    _, alerts = run([(0, 10), (20 * H, 20), (40 * H, 29), (60 * H, 38)])
    assert alerts == []


def test_a_jump_into_hot_is_one_alert_not_also_a_spike():
    _, alerts = run([(0, 50), (1 * H, 85)])
    assert [a.kind for a in alerts] == ["entered_tier"]


def test_a_spike_scored_twice_at_the_same_event_time_pages_once():
    """Late events can re-score a lead at an unchanged event time (its newest event)."""
    _, alerts = run([(10 * H, 30), (10 * H, 54), (10 * H, 54), (11 * H, 56)])
    assert [a.kind for a in alerts] == ["spike"]


def test_first_score_has_no_from_score():
    _, alerts = run([(0, 90)])
    assert [(a.kind, a.from_score, a.from_tier) for a in alerts] == [
        ("entered_tier", None, None)]


def test_decline_of_20_points_within_7_days():
    _, alerts = run([(0, 60), (2 * DAY, 50), (5 * DAY, 39), (6 * DAY, 35)])
    assert [a.kind for a in alerts] == ["decline"]
    assert alerts[0].to_score == 39


def test_idempotency_key_is_deterministic_and_distinct_per_event():
    _, first = run([(0, 40), (H, 85)])
    _, again = run([(0, 40), (H, 85)])
    assert first[0].idempotency_key == again[0].idempotency_key
    _, other = run([(0, 40), (H, 30), (2 * H, 85)])
    assert other[0].idempotency_key != first[0].idempotency_key


def test_state_round_trips_and_stays_bounded():
    state, _ = run([(i * 60.0, i % 97) for i in range(5000)])
    assert len(state.history) <= MAX_HISTORY
    assert AlertState.from_dict(state.to_dict()) == state


def test_thresholds_are_configurable():
    policy = AlertPolicy(hot=70, warm=40)
    _, alerts = run([(0, 60), (DAY, 71)], policy)
    assert [a.kind for a in alerts] == ["entered_tier"]
    assert policy.tier(45) == "warm" and policy.tier(39) == "cold"
