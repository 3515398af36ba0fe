"""Snapshots at significant events, the truth lookup, the week of scores, and the figures the
report is built from (intervals, bands, targets)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import orjson
import pytest

import schemas
from models import truth as truth_mod
from models.features import FeatureConfig
from models.metrics import band_target, check_targets, score_bands, summarise, wilson
from models.snapshots import EVENT, UNIFORM, EventLog, SnapshotConfig, _add, build
from models.week import IDLE, _points, last_full_week

DAY = 86400.0
T0 = datetime(2025, 3, 3, tzinfo=UTC).timestamp()  # a Monday
NOW = datetime(9999, 1, 1, tzinfo=UTC)


def _event(i: int, typ: str, ts: float, lead: str = "L1", **props: object) -> schemas.Event:
    raw = orjson.dumps({"event_id": f"{lead}-e{i}", "type": typ,
                        "occurred_at": datetime.fromtimestamp(ts, UTC).isoformat(),
                        "lead_id": lead, "source": "test",
                        "schema_version": schemas.CURRENT_SCHEMA_VERSION, "properties": props})
    ev = schemas.parse_event(raw, now=NOW, max_age=None)
    assert not isinstance(ev, schemas.DeadLetterRecord), ev
    return ev


def _pricing(i: int, ts: float, lead: str = "L1") -> schemas.Event:
    return _event(i, "page_view", ts, lead, url="https://x.example/pricing", path="/pricing",
                  page_category="pricing")


def _log(events: list[schemas.Event]) -> EventLog:
    log = EventLog()
    for ev in events:
        _add(log, ev)
    return log


def test_event_snapshots_fold_the_event_in_and_take_one_per_day() -> None:
    evs = [_event(0, "form_submit", T0, form_id="contact"),
           _pricing(1, T0 + 1 * DAY + 3600),
           _pricing(2, T0 + 1 * DAY + 7200),  # same day: one snapshot for the day
           _event(3, "page_view", T0 + 2 * DAY, url="https://x.example/blog", path="/blog",
                  page_category="blog"),  # not significant
           _event(4, "demo_request", T0 + 4 * DAY),
           _event(5, "login", T0 + 60 * DAY)]  # keeps the label window inside the data
    cfg = FeatureConfig()
    snaps = build(_log(evs), cfg, SnapshotConfig(label_days=10))
    at_events = snaps.at[snaps.kind == EVENT]
    assert len(at_events) == 3
    assert at_events[0] == pytest.approx(T0)
    assert at_events[1] in (pytest.approx(T0 + DAY + 3600), pytest.approx(T0 + DAY + 7200))
    assert at_events[2] == pytest.approx(T0 + 4 * DAY)
    demo = cfg.names.index("demo_request_total")
    pricing = cfg.names.index("pricing_view_total")
    ev_rows = snaps.X[snaps.kind == EVENT]
    assert ev_rows[2, demo] == 1  # the demo request itself is part of its snapshot
    assert ev_rows[1, pricing] in (1, 2) and ev_rows[0, pricing] == 0
    uni = snaps.X[snaps.kind == UNIFORM]
    assert len(uni) >= 1 and np.all(snaps.at[snaps.kind == UNIFORM] > T0)
    none = build(_log(evs), cfg, SnapshotConfig(label_days=10, at_events=False))
    assert np.all(none.kind == UNIFORM) and len(none.y) == len(uni)


def test_truth_lookup_is_a_step_function(tmp_path: Path) -> None:
    p = tmp_path / "t.jsonl"
    p.write_bytes(b'{"truth_format": 1, "label_days": 30}\n'
                  b'{"lead_id": "a", "t": [100, 200], "p": [0.1, 0.9], "stage": ["x", "y"]}\n')
    tr = truth_mod.load(p)
    got = tr.lookup(["a", "b"], np.array([0, 0, 0, 0, 1]),
                    np.array([50.0, 100.0, 150.0, 200.0, 150.0]))
    np.testing.assert_array_equal(got[1:4], [0.1, 0.1, 0.9])
    assert np.isnan(got[0]) and np.isnan(got[4])  # before the lead existed; unknown lead
    assert tr.stage(["a"], np.array([0, 0]), np.array([150.0, 250.0])) == ["x", "y"]


def test_wilson_interval() -> None:
    lo, hi = wilson(8, 10)
    assert lo < 0.8 < hi and lo == pytest.approx(0.4902, abs=1e-3)
    assert wilson(0, 50)[0] == pytest.approx(0.0, abs=1e-12) and np.isnan(wilson(0, 0)[0])


def test_bands_and_their_target() -> None:
    rng = np.random.default_rng(0)
    p = rng.uniform(0, 1, 40_000)
    y = (rng.random(40_000) < p).astype(float)
    bands = score_bands(p, y, truth=p)
    assert [b["band"] for b in bands][0] == "0-9" and bands[-1]["band"] == "90-100"
    assert sum(b["rows"] for b in bands) == 40_000
    assert all(abs(b["truth"] - b["predicted"]) < 1e-9 for b in bands)
    assert band_target(bands)["ok"]
    off = score_bands(np.clip(p + 0.1, 0, 1), y)
    assert not band_target(off)["ok"]
    empty = score_bands(p[p < 0.5], y[p < 0.5])
    assert not band_target(empty)["ok"]  # no score in the upper bands: the promise is unmet


@pytest.mark.parametrize("seed", (1, 2, 3))
def test_targets_for_a_model_that_knows_the_truth(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 60_000
    r = rng.random(n)
    t = np.where(r < 0.03, rng.uniform(0.8, 0.97, n),
                 np.where(r < 0.08, rng.uniform(0.2, 0.8, n), rng.beta(0.5, 12, n)))
    y = (rng.random(n) < t).astype(float)
    rules = (rng.random(n) < 0.2) * 20.0  # a rules score that knows nothing
    m = summarise(t, y, np.rint(100 * t), rules, truth=t)
    got = {x["target"]: x["met"] for x in check_targets(m)}
    assert all(got.values()), got
    assert m["truth"]["ece_truth"] == 0.0 and m["truth"]["auc_truth"] == m["auc"]
    # the same scores shrunk toward the mean are as well ranked but not calibrated
    flat = 0.5 * t + 0.5 * t.mean()
    m2 = summarise(flat, y, np.rint(100 * flat), rules, truth=t)
    got2 = {x["target"]: x["met"] for x in check_targets(m2)}
    assert not got2["ECE against the true probabilities"]
    assert not got2["Hot tier non-empty, converting >= 4.7x Cold"]  # nobody reaches Hot
    assert got2["AUC within 0.01 of the true probabilities' AUC"]
    event_targets = [x["target"] for x in check_targets(m, ranking=False)]
    assert "Hot tier non-empty" in event_targets and not any("4.7x" in x for x in event_targets)


def test_the_week_is_a_whole_monday_week_with_a_label_window_after_it() -> None:
    log = _log([_event(0, "login", T0), _event(1, "login", T0 + 100 * DAY + 5)])
    start, end = last_full_week(log, 30)
    assert end - start == 7 * DAY
    assert datetime.fromtimestamp(start, UTC).weekday() == 0
    assert end <= T0 + 70 * DAY + 5 and end > T0 + 60 * DAY


def test_week_points_after_significant_events_and_daily_when_idle() -> None:
    from models.state import observe

    items = [(T0, 1, observe(_event(0, "form_submit", T0, form_id="c"))),
             (T0 + 3600, 1, observe(_event(1, "login", T0 + 3600))),  # not significant
             (T0 + 3 * DAY, 1, observe(_pricing(2, T0 + 3 * DAY)))]
    types, pages = SnapshotConfig().matcher()
    pts = list(_points(items, types, pages, T0, T0 + 5 * DAY, DAY))
    assert [(round((t - T0) / 3600), c, k) for t, c, k in pts] == [
        (0, "L1-e0", 1),            # right after the form, with it folded
        (25, IDLE, 2), (49, IDLE, 2),  # a day of silence after the login, then daily
        (72, "L1-e2", 3),           # the pricing visit
        (96, IDLE, 3)]


def test_which_event_snapshots_are_kept_never_depends_on_the_future() -> None:
    """A busy lead's event snapshots are capped; the kept days must not depend on whether
    (or when) the lead later converts, or the labels of the kept rows are biased."""
    daily = [_pricing(i, T0 + i * DAY + 3600) for i in range(60)]
    tail = [_event(99, "login", T0 + 200 * DAY)]
    cfg = FeatureConfig()
    scfg = SnapshotConfig(label_days=10, max_event_per_lead=20)
    open_ = build(_log(daily + tail), cfg, scfg)
    won = build(_log([*daily, _event(98, "converted", T0 + 45 * DAY, deal_value=1000.0,
                                     currency="USD"), *tail]), cfg, scfg)
    kept_open = open_.at[open_.kind == EVENT]
    kept_won = won.at[won.kind == EVENT]
    assert len(kept_open) == 20
    np.testing.assert_array_equal(kept_won, kept_open)  # same days, converted or not
    assert won.y[won.kind == EVENT].sum() == 0  # all 20 are more than 10 days before it


@pytest.mark.parametrize("seed", (1, 2, 3))
def test_band_intervals_over_leads_are_as_wide_as_the_leads_not_the_rows(seed: int) -> None:
    """40 rows per lead that share the lead's fate: the data holds as much evidence as the
    leads, so the band's interval must be about a lead-level Wilson interval, not the 40x
    narrower-looking one over rows."""
    rng = np.random.default_rng(seed)
    leads = 300
    p_lead = rng.uniform(0.5, 0.59, leads)  # all in band 50-59
    y_lead = (rng.random(leads) < p_lead).astype(float)
    lead = np.repeat(np.arange(leads), 40)
    p, y = p_lead[lead], y_lead[lead]
    b_rows = score_bands(p, y)[5]
    b_leads = score_bands(p, y, groups=lead)[5]
    assert b_rows["interval"] == "rows" and b_leads["interval"] == "leads"
    w_rows = b_rows["ci"][1] - b_rows["ci"][0]
    w_leads = b_leads["ci"][1] - b_leads["ci"][0]
    lo, hi = wilson(float(y_lead.sum()), leads)
    assert w_leads > 4 * w_rows
    assert abs(w_leads - (hi - lo)) < 0.25 * (hi - lo)
    assert b_leads["ci"][0] < b_leads["observed"] < b_leads["ci"][1]


@pytest.mark.parametrize("seed", (1, 2, 3))
def test_band_target_is_judged_against_the_truth_when_known(seed: int) -> None:
    """Where the data has true probabilities, a band's actual conversion is its mean true
    probability: labels add binomial noise a calibrated model cannot follow."""
    rng = np.random.default_rng(seed)
    n = 60_000
    t = rng.uniform(0, 1, n)
    lead = np.arange(n) // 3
    y = (rng.random(n) < t).astype(float)
    y_unlucky = y.copy()
    y_unlucky[(t >= 0.6) & (t < 0.7) & (rng.random(n) < 0.2)] = 0.0  # 60-69 loses 13 points
    honest = score_bands(t, y_unlucky, truth=t, groups=lead)
    assert band_target(honest)["ok"] and band_target(honest)["against"] == "truth"
    assert not band_target(score_bands(t, y_unlucky, groups=lead))["ok"]  # against labels
    shifted = np.clip(t + 0.08, 0, 1)
    off = score_bands(shifted, y, truth=t, groups=lead)
    assert not band_target(off)["ok"]
    assert {v["against"] for v in band_target(off)["bands"]} == {"truth"}
