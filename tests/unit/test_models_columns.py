"""The column-wise feature rows equal the reference (one lead at a time), bit for bit: with
the C code (models/_columns.c) and with the numpy code it replaces where there is no C
compiler."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import models.columns as columns
import models.reasons as reasons
from models.artifact import load
from models.columns import FEW, feature_rows, top_factors
from models.features import DEFAULT_FEATURE_CONFIG, FeatureConfig, features
from models.simulate import run as simulate
from models.state import DAY, LeadState, fold_into, merge, observe
from schemas import Event, parse_event


@pytest.fixture(params=["c", "numpy"], autouse=True)
def way(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test runs on both paths; the C one must have been built."""
    if request.param == "c":
        assert columns.native is not None, "models._columns is not built (no C compiler?)"
        assert reasons._native is not None
    else:
        monkeypatch.setattr(columns, "native", None)
        monkeypatch.setattr(reasons, "_native", None)
    return str(request.param)


@pytest.fixture(scope="module")
def leads(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[LeadState, float]]:
    """Simulated leads (every event type), snapshotted at several points of their history."""
    path = Path(tmp_path_factory.mktemp("sim")) / "events.jsonl"
    simulate(80, 60, seed=9, out=str(path), progress=False)
    states: dict[str, LeadState] = {}
    snaps: list[tuple[LeadState, float]] = []
    for i, line in enumerate(path.read_bytes().splitlines()):
        ev = parse_event(line, max_age=None)
        if not isinstance(ev, Event):
            continue
        st = states.setdefault(ev.key, LeadState.new(key=ev.key))
        fold_into(st, observe(ev))
        if i % 7 == 0:  # now, and later: windows, decay and "days since" move
            at = ev.occurred_at.timestamp()
            snaps += [(st.copy(), at), (st.copy(), at + 3.5 * DAY), (st.copy(), at + 40 * DAY)]
    first, second = list(states.values())[:2]
    snaps.append((merge(first, second), 1.8e9))
    snaps.append((LeadState.new(key="nobody"), 1.8e9))  # no events at all
    return snaps


def assert_rows_equal(got: np.ndarray, want: np.ndarray) -> None:
    # Bit for bit, NaN in the same places (equal_nan compares values, not payloads).
    assert got.dtype == want.dtype and got.shape == want.shape
    assert np.array_equal(got, want, equal_nan=True)
    assert np.array_equal(np.signbit(got), np.signbit(want))


def test_columns_equal_the_reference_rows(leads: list[tuple[LeadState, float]]) -> None:
    assert len(leads) > 300
    got = feature_rows([s for s, _ in leads], [at for _, at in leads])
    want = np.vstack([features(s, at) for s, at in leads])
    assert_rows_equal(got, want)


def test_with_a_trained_vocabulary_and_other_windows(
        leads: list[tuple[LeadState, float]]) -> None:
    cfg = FeatureConfig(windows_days=(2, 14), industries=("software", "retail"),
                        countries=("DE", "US"))
    got = feature_rows([s for s, _ in leads], [at for _, at in leads], cfg)
    want = np.vstack([features(s, at, cfg) for s, at in leads])
    assert_rows_equal(got, want)


def test_one_lead_and_none() -> None:
    s = LeadState.new(key="x")
    assert_rows_equal(feature_rows([s], [1.8e9]), features(s, 1.8e9).reshape(1, -1))
    assert feature_rows([], []).shape == (0, len(DEFAULT_FEATURE_CONFIG.specs))


def test_every_batch_size_around_the_switch_to_columns(
        leads: list[tuple[LeadState, float]]) -> None:
    for n in range(1, FEW + 3):  # the per-lead path below FEW, numpy's from FEW up
        some = leads[n * 7:n * 8]
        got = feature_rows([s for s, _ in some], [at for _, at in some])
        assert_rows_equal(got, np.vstack([features(s, at) for s, at in some]))


def test_top_factors_equal_scorer_explain(leads: list[tuple[LeadState, float]],
                                          small_model: Path) -> None:
    scorer = load(small_model)
    states, ats = [s for s, _ in leads], [at for _, at in leads]
    X = feature_rows(states, ats, scorer.config)
    for k in (1, 3, 10):
        want = [[(f.feature, f.points, f.sentence) for f in row]
                for row in scorer.explain(X, top_k=k, states=states, ats=ats)]
        assert top_factors(scorer, X, top_k=k, states=states, ats=ats) == want
    # Without the states the sentences cannot say when the latest action was; the same.
    want = [[(f.feature, f.points, f.sentence) for f in row] for row in scorer.explain(X)]
    assert top_factors(scorer, X) == want
    # A row's reasons do not depend on the batch it is in.
    one = [top_factors(scorer, X[i:i + 1], states=states[i:i + 1], ats=ats[i:i + 1])[0]
           for i in range(0, len(X), 37)]
    assert one == top_factors(scorer, X, states=states, ats=ats)[::37]
    assert top_factors(scorer, X[:0]) == []


def test_a_state_with_other_half_lives_is_refused(leads: list[tuple[LeadState, float]]) -> None:
    state = leads[5][0].copy()
    state.half_lives = (1.0, 2.0, 3.0)
    with pytest.raises(ValueError, match="half-lives"):
        features(state, 1.8e9)
    with pytest.raises(ValueError, match="half-lives"):
        feature_rows([leads[0][0], state], [1.8e9, 1.8e9])


def test_the_c_code_refuses_what_does_not_fit_its_spec(
        leads: list[tuple[LeadState, float]]) -> None:
    if columns.native is None:
        return  # the numpy run of this test: nothing to check (the C run asserts it is built)
    cfg = DEFAULT_FEATURE_CONFIG
    spec = columns._native_spec(cfg)
    state, at = leads[3]
    out = np.empty((1, len(cfg.specs)))
    with pytest.raises(ValueError, match="ats must be"):  # sizes that do not match
        columns.native.rows([state], np.zeros(2), out, spec)
    with pytest.raises(ValueError, match="ats must be"):
        columns.native.rows([state], np.zeros(1), np.empty((1, 5)), spec)
    bad = list(spec)
    bad[7] = (99,) * 13  # a timestamp index past the state's
    with pytest.raises(ValueError, match="out of range"):
        columns.native.rows([state], np.array([at]), out, tuple(bad))
    broken = state.copy()
    broken.buckets = {1: [1, 2]}  # a bucket with too few channels
    with pytest.raises(ValueError, match="bucket"):
        columns.native.rows([broken], np.array([at]), out, spec)
    columns.native.rows([state], np.array([at]), out, spec)  # the real ones are accepted


def test_latest_days_in_c_equal_numpy(leads: list[tuple[LeadState, float]],
                                      monkeypatch: pytest.MonkeyPatch, way: str) -> None:
    """Days since each channel's latest bucket, both ways, on every lead (empty ones too)."""
    states, ats = [s for s, _ in leads], [at for _, at in leads]
    got = reasons.latest_days(states, ats)
    monkeypatch.setattr(reasons, "_native", None)
    want = reasons.latest_days(states, ats)
    assert_rows_equal(got, want)
    assert np.isfinite(want).any() and np.isnan(want).any()
    for n in (1, 2, 7):
        assert_rows_equal(reasons.latest_days(states[:n], ats[:n]), want[:n])
