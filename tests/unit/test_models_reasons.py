"""Reasons a rep reads: every feature in one reason, every reason's sentence in plain words at
typical, zero, missing and extreme values, points that add up, distinct top reasons."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest

from models.artifact import load
from models.features import DEFAULT_FEATURE_CONFIG, FeatureConfig, features, reason_of
from models.reasons import REASONS, example_lead, latest_days, reasons_for, table
from models.simulate import run as simulate
from models.state import CHANNELS, DAY, LeadState, Obs, fold_into, observe
from schemas import Event, parse_event

README = Path(__file__).resolve().parents[2] / "README.md"
CONFIGS = (DEFAULT_FEATURE_CONFIG,
           FeatureConfig(windows_days=(2, 14), half_lives_days=(3.0, 10.0, 60.0),
                         industries=("software", "retail_trade"), countries=("FR", "ZZ")))
# What a rep must never read: model quantities, code, unformatted values.
FORBIDDEN = re.compile(r"half-life|decay|velocity|nan|inf\b|None|_|\{|\}|\d\.\d|=|\bx\b",
                       re.IGNORECASE)


def plain(sentence: str) -> bool:
    return (0 < len(sentence) <= 300 and (sentence[0].isupper() or sentence[0].isdigit())
            and not FORBIDDEN.search(sentence) and not sentence.endswith((".", ",", ";")))


@pytest.mark.parametrize("cfg", CONFIGS)
def test_every_feature_belongs_to_exactly_one_reason(cfg: FeatureConfig) -> None:
    rs = reasons_for(cfg)
    members = sorted(int(j) for m in rs.members for j in m)
    assert members == list(range(len(cfg.names)))
    assert {reason_of(n) for n in cfg.names} == {r.name for r in REASONS}
    with pytest.raises(KeyError, match="no reason"):
        reason_of("brand_new_feature_7d")


@pytest.mark.parametrize("cfg", CONFIGS)
def test_every_sentence_reads_at_typical_zero_missing_and_extreme_values(
        cfg: FeatureConfig) -> None:
    rs = reasons_for(cfg)
    n = len(cfg.names)
    state, at = example_lead(cfg.state_config)
    typical = features(state, at, cfg).tolist()
    latest = latest_days([state], [at])[0].tolist()
    huge = [1e6] * n
    codes = [0.0] * n
    for name in ("revenue_band", "seniority", "department", "industry", "country",
                 "funding_round"):
        codes[cfg.names.index(name)] = 99.0
    rows = {"typical": (typical, latest), "typical, no state": (typical, None),
            "zero": ([0.0] * n, None), "missing": ([math.nan] * n, None),
            "huge": (huge, [0.0] * len(CHANNELS)), "codes out of range": (codes, None)}
    for what, (row, lat) in rows.items():
        for i, r in enumerate(REASONS):
            s = rs.sentence(i, row, lat)
            assert plain(s), f"{r.name} at {what}: {s!r}"


def test_the_example_leads_sentences() -> None:
    rs = reasons_for(FeatureConfig(industries=("software",), countries=("FR",)))
    state, at = example_lead()
    row = features(state, at, rs.config).tolist()
    latest = latest_days([state], [at])[0].tolist()
    said = {r.name: rs.sentence(i, row, latest) for i, r in enumerate(REASONS)}
    assert said["intent"] == ("Requested a demo, viewed pricing 4 times and a competitor "
                              "comparison once in the last 30 days, the latest today")
    assert said["activity"] == "16 actions in the last 7 days, up from about 2 a week before"
    assert said["trial"] == "Started a trial 8 days ago"
    assert said["role"] == "A VP in marketing"
    assert said["country"] == "Based in France"
    assert said["company_size"] == "A company of 1,200 employees, revenue 50M-250M"
    assert said["email"].startswith("Clicked 1 email link and opened emails 3 times")


def lead(events: list[tuple[float, str, str | None]], at: float) -> LeadState:
    s = LeadState.new(key="x")
    for i, (days_ago, type_, sub) in enumerate(sorted(events, key=lambda e: -e[0])):
        fold_into(s, Obs(f"e{i}", at - days_ago * DAY, type_, sub))
    return s


def test_absence_reads_as_absence() -> None:
    rs = reasons_for(DEFAULT_FEATURE_CONFIG)
    at = 1.8e9
    s = lead([(d, "page_view", "pricing") for d in (40, 25, 19)]
             + [(d, "login", None) for d in (45, 19)], at)
    row = features(s, at).tolist()
    latest = latest_days([s], [at])[0].tolist()
    said = {r.name: rs.sentence(i, row, latest) for i, r in enumerate(REASONS)}
    assert said["activity"] == "No activity for 19 days"
    assert said["intent"] == "Viewed pricing twice in the last 30 days, the latest 19 days ago"
    s = lead([(d, "page_view", "pricing") for d in (40, 33)] + [(32, "login", None)], at)
    row = features(s, at).tolist()
    latest = latest_days([s], [at])[0].tolist()
    said = {r.name: rs.sentence(i, row, latest) for i, r in enumerate(REASONS)}
    assert said["intent"] == ("No pricing, competitor or demo page visits in the last 30 "
                              "days; the last 33 days ago")
    assert said["product"] == "Has not logged in for 32 days"
    assert said["activity"] == "No activity for 32 days"


def test_latest_days_equal_a_walk_over_each_leads_buckets(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    simulate(60, 50, seed=4, out=str(path), progress=False)
    states: dict[str, LeadState] = {}
    for line in path.read_bytes().splitlines():
        ev = parse_event(line, max_age=None)
        if isinstance(ev, Event):
            fold_into(states.setdefault(ev.key, LeadState.new(key=ev.key)), observe(ev))
    leads = [*states.values(), LeadState.new(key="nobody")]
    ats = [1.77e9 + 86400.0 * (i % 50) for i in range(len(leads))]
    got = latest_days(leads, ats)
    for s, at, row in zip(leads, ats, got, strict=True):
        day = int(at // DAY)
        for c in range(len(CHANNELS)):
            seen = [max(0, day - d) for d, b in s.buckets.items() if b[c]]
            want = min(seen) if seen else math.nan
            assert row[c] == want or (math.isnan(want) and math.isnan(row[c]))
    assert latest_days([], []).shape == (0, len(CHANNELS))


def test_reasons_sum_their_features_points_and_are_distinct(small_model: Path) -> None:
    scorer = load(small_model)
    state, at = example_lead()
    idle = lead([(d, "page_view", "pricing") for d in (60, 41, 30, 22)]
                + [(d, "login", None) for d in (40, 21, 20)], at)
    states = [state, idle]
    X = np.vstack([scorer.features(s, at) for s in states])
    pts, _ = scorer.points(X)
    rs = reasons_for(scorer.config)
    for r, fs in enumerate(scorer.explain(X, top_k=len(REASONS), states=states,
                                          ats=[at, at])):
        names = [f.feature for f in fs]
        assert len(names) == len(set(names))
        for f in fs:
            cols = [j for j, n in enumerate(scorer.names) if reason_of(n) == f.feature]
            assert f.points == round(float(pts[r, cols].sum()), 1)
            assert plain(f.sentence)
        assert abs(sum(f.points for f in fs) - pts[r].sum()) <= 0.05 * len(fs)
        assert [abs(f.points) for f in fs] == sorted((abs(f.points) for f in fs),
                                                     reverse=True)
    assert rs.points(pts).shape == (2, len(REASONS))
    # The idle lead's activity reason counts against it, and says why in words.
    quiet = [f for f in scorer.explain(X[1:], top_k=len(REASONS), states=[idle],
                                       ats=[at])[0] if f.feature == "activity"]
    assert quiet and quiet[0].points < 0 and quiet[0].sentence == "No activity for 20 days"


def test_the_readme_shows_the_table_of_sentences() -> None:
    assert table() in README.read_text(), "README's table of reasons is stale: " \
        "paste the output of python -m models.reasons"
