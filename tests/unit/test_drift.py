"""Drift (streams/core/drift.py): PSI against the artifact's deciles, the ring of recent rows,
and ``leadscore drift`` replaying a file through the worker's code."""

from __future__ import annotations

import math

import numpy as np
import orjson
import pytest

from streams.cli import main
from streams.core.drift import RecentRows, Reference, psi

LEVELS = [i / 10 for i in range(11)]


def _ref(values: np.ndarray) -> Reference:
    ok = values[~np.isnan(values)]
    return Reference(np.quantile(ok, LEVELS).tolist(), LEVELS, float(np.isnan(values).mean()))


def test_psi_is_small_for_the_same_population_and_large_for_a_shifted_one() -> None:
    rng = np.random.default_rng(1)
    train = rng.normal(0, 1, 20_000)
    ref = _ref(train)
    assert psi(rng.normal(0, 1, 5000), ref) < 0.02
    assert psi(rng.normal(1, 1, 5000), ref) > 0.25
    assert math.isnan(psi(np.array([]), ref))


def test_tied_deciles_and_missing_values_are_bins_of_their_own() -> None:
    rng = np.random.default_rng(2)
    # 70% zeros (the deciles up to 0.7 tie at 0), 10% missing
    train = np.where(rng.uniform(size=20_000) < 0.7, 0.0, rng.exponential(3, 20_000))
    train[rng.uniform(size=20_000) < 0.1] = np.nan
    ref = _ref(train)
    same = np.where(rng.uniform(size=5000) < 0.7, 0.0, rng.exponential(3, 5000))
    same[rng.uniform(size=5000) < 0.1] = np.nan
    assert psi(same, ref) < 0.02
    more_missing = same.copy()
    more_missing[: 2000] = np.nan
    assert psi(more_missing, ref) > 0.25


def test_recent_rows_keep_the_last_capacity_rows() -> None:
    r = RecentRows(2, capacity=5)
    for start in range(0, 12, 3):
        X = np.arange(start, start + 3, dtype=np.float32).repeat(2).reshape(3, 2)
        r.add(X, X[:, 0].astype(float))
    X, p = r.rows()
    assert sorted(X[:, 0].tolist()) == [7, 8, 9, 10, 11] and sorted(p.tolist()) == [7, 8, 9, 10, 11]


@pytest.fixture(scope="module")
def events(tmp_path_factory) -> str:  # type: ignore[no-untyped-def]
    from models.simulate import run as simulate

    out = tmp_path_factory.mktemp("drift") / "events.jsonl"
    simulate(150, 60, seed=11, out=str(out), progress=False)
    return str(out)


def test_leadscore_drift_prints_the_figures(small_model, events, capsys) -> None:
    assert main(["drift", "--model", str(small_model), "--events", events, "--json"]) == 0
    doc = orjson.loads(capsys.readouterr().out)
    ref = orjson.loads((small_model / "reference.json").read_bytes())
    assert set(doc["features"]) == set(ref["features"]) and doc["rows"] > 100
    assert doc["score_psi"] >= 0
    assert main(["drift", "--model", str(small_model), "--events", events, "--top", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].startswith("score (probability)") and len(lines) == 5
