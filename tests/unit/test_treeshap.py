"""The TreeSHAP tables give LightGBM's pred_contrib, for every split rule LightGBM has."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pytest

from models import artifact
from models.scoring import TABLE_MIN_ROWS
from models.treeshap import PathTables, explainer, native

# Both ways of computing the tables' contributions: the C extension (models/_treeshap.c, what
# an install with a C compiler uses) and the numpy code (the fallback without one).
WAYS = ["c", "numpy"]


def _tables(booster: lgb.Booster, way: str) -> PathTables:
    tables = PathTables(booster)
    if way == "c":
        assert tables.use_native, "models._treeshap is not built (no C compiler at install?)"
    tables.use_native = way == "c"
    return tables


def _data(seed: int, rows: int = 3000) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, 8))
    X[:, 2] = rng.integers(0, 9, size=rows)  # a category
    X[:, 3] = np.where(rng.random(rows) < 0.3, 0.0, X[:, 3])  # many zeros
    X[rng.random((rows, 8)) < 0.1] = np.nan  # missing everywhere (the category too)
    logit = (np.nan_to_num(X[:, 0]) * 1.5 - np.nan_to_num(X[:, 1])
             + np.isin(X[:, 2], [1, 4, 7]) * 2.0 + (X[:, 3] == 0) * 1.0
             + np.nan_to_num(X[:, 4]) * np.nan_to_num(X[:, 5]))
    y = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(float)
    return X, y


def _train(seed: int, **params: object) -> lgb.Booster:
    X, y = _data(seed)
    base = {"objective": "binary", "num_leaves": 15, "learning_rate": 0.1, "verbose": -1,
            "min_data_in_leaf": 5, "seed": seed}
    base.update(params)
    return lgb.train(base, lgb.Dataset(X, y, categorical_feature=[2]), num_boost_round=40)


def _rows(booster: lgb.Booster, seed: int) -> np.ndarray:
    X, _ = _data(seed + 100, rows=400)
    probe = PathTables(booster).probe(np.random.default_rng(seed), rows=400)
    odd = np.array([[np.nan] * 8, [0.0] * 8, [-0.5] * 8, [1e-40] * 8, [2.7] * 8, [50.0] * 8])
    return np.vstack([X, probe, odd, X.astype(np.float32).astype(np.float64)])


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("params", [
    {},  # missing values as NaN, a categorical feature
    {"zero_as_missing": True},  # missing_type Zero
    {"use_missing": False},  # missing_type None: NaN is 0
    {"num_leaves": 31, "max_depth": 12, "min_data_in_leaf": 2},  # deeper paths
])
def test_tables_equal_pred_contrib(seed: int, params: dict[str, object], way: str) -> None:
    booster = _train(seed, **params)
    X = _rows(booster, seed)
    expected = booster.predict(X, pred_contrib=True)
    tables = _tables(booster, way)
    got = tables.contributions(X)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-9)
    # And the sum is the raw score, as TreeSHAP promises.
    np.testing.assert_allclose(got.sum(axis=1), booster.predict(X, raw_score=True), atol=1e-9)
    # Any batch size gives the same rows (the C code has a one-row-at-a-time path for small
    # blocks and a vectorised one for blocks of many rows; numpy works in blocks of 96).
    for lo, hi in ((0, 1), (1, 4), (5, 12), (12, 80), (80, 300)):
        np.testing.assert_allclose(tables.contributions(X[lo:hi]), expected[lo:hi], atol=1e-9)


def test_the_c_code_refuses_a_structure_it_would_read_out_of_bounds() -> None:
    booster = _train(10)
    tables = _tables(booster, "c")
    assert native is not None
    X = _rows(booster, 10)[:5]
    with pytest.raises(ValueError, match="X or out"):  # a row of the wrong width
        native.block(tables.native, np.zeros((5, 7)), np.zeros((5, 9)), 5)
    with pytest.raises(ValueError, match="X or out"):  # fewer rows than it says
        native.block(tables.native, X, np.zeros((5, 9)), 6)
    args = _native_args(booster)
    native.prepare(*args)  # the real structure is accepted
    for i, bad, match in (
            (1, np.full_like(args[1], 8), "split 0"),  # a feature beyond the row
            (8, np.full_like(args[8], 10**9), "path 0"),  # a table offset beyond the tables
            (11, np.full_like(args[11], -1), "condition 0"),  # a node before the first
            (14, args[14][:-1], "path")):  # ... or fewer numbers than the paths need
        broken = list(args)
        broken[i] = bad
        with pytest.raises(ValueError, match=match):
            native.prepare(*broken)


def _native_args(booster: lgb.Booster) -> tuple[Any, ...]:
    """What PathTables gave models._treeshap.prepare, rebuilt from its numpy structure."""
    import models.treeshap as ts

    calls: list[tuple[Any, ...]] = []
    real = ts.native
    assert real is not None

    class Spy:
        def prepare(self, *args: object) -> object:
            calls.append(args)
            return real.prepare(*args)

        block = real.block

    ts.native = Spy()  # type: ignore[assignment]
    try:
        PathTables(booster)
    finally:
        ts.native = real
    return calls[0]


def test_trees_without_splits_only_move_the_base_value() -> None:
    X, y = _data(4)
    booster = lgb.train({"objective": "binary", "verbose": -1, "min_data_in_leaf": 10_000},
                        lgb.Dataset(X, y), num_boost_round=3)
    tables = PathTables(booster)
    got = tables.contributions(X[:50])
    np.testing.assert_allclose(got, booster.predict(X[:50], pred_contrib=True), atol=1e-12)
    assert np.all(got[:, :-1] == 0.0)


def test_an_empty_batch_has_no_rows() -> None:
    booster = _train(5)
    assert PathTables(booster).contributions(np.zeros((0, 8))).shape == (0, 9)


def test_a_model_the_tables_do_not_cover_keeps_lightgbm() -> None:
    X, y = _data(6)
    booster = lgb.train({"objective": "multiclass", "num_class": 3, "verbose": -1},
                        lgb.Dataset(X, (y + (X[:, 0] > 1)).clip(0, 2)), num_boost_round=3)
    fn, kind = explainer(booster)
    assert kind.startswith("lightgbm (") and "tree per iteration" in kind
    np.testing.assert_array_equal(fn(X[:5]), booster.predict(X[:5], pred_contrib=True))


def test_tables_that_disagree_with_lightgbm_are_not_used() -> None:
    booster = _train(7)
    fn, kind = explainer(booster)
    assert kind == "tables"
    import models.treeshap as ts

    original = ts._path_table
    try:  # a wrong table (every contribution doubled) must be caught by the check
        ts._path_table = lambda zero, value: original(zero, 2 * value)  # type: ignore
        fn, kind = explainer(booster)
    finally:
        ts._path_table = original
    assert kind.startswith("lightgbm (the tables differ")
    X, _ = _data(8, rows=20)
    np.testing.assert_array_equal(fn(X), booster.predict(X, pred_contrib=True))


def test_the_scorer_explains_with_the_tables(small_model: Path) -> None:
    scorer = artifact.load(small_model)
    assert scorer.explainer == "not built yet"
    X, _ = _data(9, rows=40)
    X = np.random.default_rng(9).normal(size=(40, scorer.n_features))
    for n in (1, TABLE_MIN_ROWS, 40):  # below the threshold LightGBM's own call
        got = scorer.contributions(X[:n])
        expected = scorer.booster.predict(X[:n].astype(np.float32), pred_contrib=True)
        np.testing.assert_allclose(got, expected, atol=1e-9)
    assert scorer.explainer == "tables"
