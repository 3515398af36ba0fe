"""Simulator output validity, snapshot look-ahead safety, artifact round trip, explanations."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import lightgbm as lgb
import numpy as np
import orjson
import pytest

import schemas
from models import artifact
from models.calibration import choose
from models.errors import UsageError
from models.features import CATEGORICAL, FeatureConfig, manifest
from models.metrics import ece, top_fraction_rate
from models.rules import rules_score
from models.simulate import main as simulate_main
from models.simulate import run as simulate
from models.snapshots import DENSE, UNIFORM, SnapshotConfig, build, read_events

NOW = datetime(9999, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def sim_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    path = tmp_path_factory.mktemp("sim") / "events.jsonl"
    stats = simulate(120, 150, seed=3, out=str(path), progress=False)
    return path, stats


def test_simulated_events_parse_except_the_malformed_share(sim_file: tuple) -> None:
    path, stats = sim_file
    lines = path.read_bytes().splitlines()
    parsed = [schemas.parse_event(line, now=NOW, max_age=None) for line in lines]
    bad = [p for p in parsed if isinstance(p, schemas.DeadLetterRecord)]
    assert stats["malformed"] > 0
    assert len(bad) == stats["malformed"]
    types = {p.type for p in parsed if not isinstance(p, schemas.DeadLetterRecord)}
    # all types (reply is rare; rep feedback is not simulated)
    assert set(schemas.EVENT_TYPES) - types <= {"email_reply", "rep_feedback"}
    ids = [orjson.loads(line)["event_id"] for line in lines[:2000]
           if not isinstance(schemas.parse_event(line, now=NOW, max_age=None),
                             schemas.DeadLetterRecord)]
    assert len(ids) > len(set(ids))  # duplicates are part of the realism


def test_simulate_bad_arguments_are_one_line_errors(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as e:
        simulate_main(["--leads", "0", "--days", "10", "--out", str(tmp_path / "x")])
    assert e.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert "positive" in err[-1] and "Traceback" not in "\n".join(err)
    with pytest.raises(UsageError):
        simulate(5, 5, 0, str(tmp_path / "missing-dir" / "x.jsonl"))


def _plant(log, lead: str, ts: float, n: int = 5) -> None:  # type: ignore[no-untyped-def]
    for i in range(n):
        raw = orjson.dumps({
            "event_id": f"planted-{i}", "type": "demo_request" if i == 0 else "page_view",
            "occurred_at": datetime.fromtimestamp(ts, UTC).isoformat(),
            "lead_id": lead, "source": "test", "schema_version": schemas.CURRENT_SCHEMA_VERSION,
            "properties": {} if i == 0 else {"url": "https://x.example/pricing",
                                             "path": "/pricing", "page_category": "pricing"}})
        ev = schemas.parse_event(raw, now=NOW, max_age=None)
        assert not isinstance(ev, schemas.DeadLetterRecord), ev
        from models.snapshots import _add

        _add(log, ev)


def test_features_never_see_the_future(sim_file: tuple) -> None:
    path, _ = sim_file
    cfg, scfg = FeatureConfig(), SnapshotConfig(label_days=10, max_idle_days=400)
    base = build(read_events(str(path)), cfg, scfg)
    li = int(np.bincount(base.lead).argmax())  # the lead with most snapshots
    lead = base.lead_ids[li]
    rows = np.flatnonzero(base.lead == li)
    s_mid = float(base.at[rows[len(rows) // 2]])
    log = read_events(str(path))
    _plant(log, lead, s_mid + 0.001)  # one millisecond after a snapshot
    planted = build(log, cfg, scfg, end=float(base.at.max()) + 10 * 86400)
    assert planted.lead_ids == base.lead_ids
    p_rows = np.flatnonzero(planted.lead == li)
    n = min(len(rows), len(p_rows))
    before = base.at[rows[:n]] <= s_mid
    assert np.array_equal(base.X[rows[:n]][before], planted.X[p_rows[:n]][before],
                          equal_nan=True)
    after = ~before
    assert after.any()
    assert not np.array_equal(base.X[rows[:n]][after], planted.X[p_rows[:n]][after],
                              equal_nan=True)  # the planted events are used once past


@pytest.mark.parametrize("per_period", [2, 3, 7])
def test_trees_only_rows_leave_the_population_rows_as_they_were(sim_file: tuple,
                                                                per_period: int) -> None:
    """`uniform_per_period` adds rows evenly between a lead's uniform-time rows (kind DENSE,
    for the trees); the population rows (uniform and at events) are exactly those of the
    plain build, so the calibrator, the test fold and `leadscore evaluate` do not move."""
    path, _ = sim_file
    log = read_events(str(path))
    cfg, scfg = FeatureConfig(), SnapshotConfig(label_days=10, max_idle_days=400)
    plain = build(log, cfg, scfg)
    dense = build(log, cfg, SnapshotConfig(label_days=10, max_idle_days=400,
                                           uniform_per_period=per_period))
    pop = dense.kind != DENSE
    assert pop.sum() == len(plain.y) and (~pop).sum() > len(plain.y) // 2
    for a, b in ((dense.X[pop], plain.X), (dense.at[pop], plain.at), (dense.y[pop], plain.y),
                 (dense.lead[pop], plain.lead), (dense.kind[pop], plain.kind)):
        np.testing.assert_array_equal(a, b)
    step = scfg.every_days * 86400 / per_period
    for li in np.unique(dense.lead[~pop])[:50]:
        u = dense.at[(dense.lead == li) & (dense.kind == UNIFORM)]
        d = dense.at[(dense.lead == li) & (dense.kind == DENSE)]
        # each extra row is 1 .. per_period - 1 steps after one of the lead's uniform rows
        k = np.searchsorted(u, d, side="right") - 1
        assert (k >= 0).all()
        j = (d - u[k]) / step
        np.testing.assert_allclose(j, np.rint(j), atol=1e-6)
        assert ((np.rint(j) >= 1) & (np.rint(j) < per_period)).all()


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    cfg = FeatureConfig(industries=("software", "retail"), countries=("US",))
    names = cfg.names
    rng = np.random.default_rng(0)
    X = rng.poisson(1.0, size=(3000, len(names))).astype(np.float32)
    X[:, names.index("department")] = rng.integers(0, 9, 3000)
    X[rng.random(X.shape) < 0.05] = np.nan
    logit = -3 + 0.8 * np.nan_to_num(X[:, names.index("pricing_view_7d")]) \
        + 0.5 * np.nan_to_num(X[:, names.index("demo_request_30d")])
    y = (rng.random(3000) < 1 / (1 + np.exp(-logit))).astype(int)
    cat = [names.index(c) for c in CATEGORICAL]
    params = {"objective": "binary", "num_leaves": 7, "verbosity": -1, "num_threads": 1,
              "deterministic": True, "seed": 1}
    booster = lgb.train(params, lgb.Dataset(X, y, feature_name=names, categorical_feature=cat),
                        num_boost_round=30)
    cal, _ = choose(booster.predict(X, raw_score=True), y.astype(float))
    man = manifest(cfg)
    man.update({"snapshot": {"label_days": 30.0, "every_days": 7.0, "max_idle_days": 120.0,
                             "max_per_lead": 40},
                "tiers": {"hot": 80, "warm": 50}, "label": "test",
                "value_model": {"constant": 1000.0, "smearing": 1.0}})
    folder = artifact.save(tmp_path_factory.mktemp("art"), booster=booster, calibrator=cal,
                           manifest=man)
    return folder, booster, cal, X, y


def test_artifact_round_trip(tiny_model) -> None:  # type: ignore[no-untyped-def]
    folder, booster, cal, X, _ = tiny_model
    scorer = artifact.load(folder)
    assert scorer.version in folder.name
    np.testing.assert_array_equal(scorer.raw(X), booster.predict(X, raw_score=True))
    b = scorer.score_batch(X)
    np.testing.assert_allclose(b.probability, np.clip(cal(booster.predict(X, raw_score=True)),
                                                      0, 1))
    assert set(b.tier) <= {"hot", "warm", "cold"}
    assert np.all((b.score >= 0) & (b.score <= 100))
    np.testing.assert_allclose(b.expected_value, b.probability * 1000.0)
    again = artifact.load(folder)
    np.testing.assert_array_equal(again.score_batch(X).score, b.score)


def test_explanations_sum_to_the_raw_score_and_the_points(tiny_model) -> None:  # type: ignore
    folder, _, _, X, _ = tiny_model
    scorer = artifact.load(folder)
    rows = X[:200]
    contrib = scorer.contributions(rows)
    np.testing.assert_allclose(contrib.sum(axis=1), scorer.raw(rows), atol=1e-9)
    pts, base = scorer.points(rows)
    p = scorer.score_batch(rows).probability
    np.testing.assert_allclose(base + pts.sum(axis=1), 100 * p, atol=1e-6)
    factors = scorer.explain(rows[:5], top_k=3)
    assert all(len(f) <= 3 for f in factors)
    # The planted signal (pricing and demo features) is one reason, in words, not numbers.
    assert any(f.feature == "intent" and "pricing" in f.sentence for fs in factors for f in fs)
    # Reasons' points are their features' points summed: all of them add up to the score.
    every = scorer.explain(rows[:5], top_k=99)
    for r, fs in enumerate(every):
        assert sum(f.points for f in fs) == pytest.approx(pts[r].sum(), abs=0.05 * len(fs))


def test_metrics_helpers() -> None:
    y = np.array([1, 0, 0, 0, 1, 0, 0, 0, 0, 0], dtype=float)
    tied = np.ones(10)
    assert top_fraction_rate(tied, y, 0.2) == pytest.approx(0.2)  # ties shared pro rata
    assert top_fraction_rate(y, y, 0.2) == pytest.approx(1.0)
    assert ece(np.full(10, 0.2), y) == pytest.approx(0.0)
    assert ece(y, y) == pytest.approx(0.0)
    assert ece(np.full(10, 0.5), y) == pytest.approx(0.3)
    names = FeatureConfig().names
    X = np.zeros((1, len(names)))
    X[0, names.index("pricing_view_total")] = 2
    X[0, names.index("seniority")] = 5
    assert rules_score(X, names)[0] == 35.0


def test_train_rejects_unusable_input_with_a_usage_error(tmp_path: Path) -> None:
    from models.train import TrainConfig
    from models.train import run as train

    with pytest.raises(UsageError):
        train(str(tmp_path / "nope.jsonl"), str(tmp_path / "out"), progress=False)
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"not json\n")
    with pytest.raises(UsageError):
        train(str(empty), str(tmp_path / "out"), progress=False)
    with pytest.raises(UsageError):
        TrainConfig(hot=40, warm=50).validate()


def test_isotonic_calibration_does_not_promise_certainty_from_a_few_rows() -> None:
    from models.calibration import fit_isotonic, fit_platt

    rng = np.random.default_rng(0)
    raw = rng.normal(size=5000)
    y = (rng.random(5000) < 1 / (1 + np.exp(-(raw - 4)))).astype(float)
    y[np.argsort(raw)[-3:]] = 1.0  # the three top-scored rows happen to convert
    iso = fit_isotonic(raw, y)
    assert iso(np.array([raw.max()]))[0] < 0.5
    assert np.all(np.diff(iso(np.sort(raw))) >= 0)
    platt = fit_platt(raw, y)
    assert platt.a > 0
