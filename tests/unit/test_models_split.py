"""How `leadscore train` splits its rows: the test fold is the newest time; before it, the
calibrator learns from scores of trees that never saw the lead: cross-fitted over folds of
leads (`calibration_split = "crossfit"`, the default) or one held-out share ("leads").

Synthetic snapshot tables, several seeds: leads arrive through the year and give a row a
week for a random number of weeks, so early and late leads, short and long lives, all occur.
"""

from __future__ import annotations

import numpy as np
import pytest

from models.errors import UsageError
from models.snapshots import DENSE, Snapshots
from models.state import DAY
from models.train import (
    TrainConfig,
    fit_cross,
    held_out_leads,
    lead_folds,
    split_by_time,
    split_folds,
)

SEEDS = (1, 2, 3, 4)


def _snapshots(seed: int, leads: int = 2000) -> Snapshots:
    rng = np.random.default_rng(seed)
    start = rng.uniform(0, 330, leads) * DAY
    weeks = rng.integers(1, 30, leads)
    lead = np.repeat(np.arange(leads), weeks)
    at = start[lead] + 7 * DAY * np.concatenate([np.arange(w) for w in weeks])
    n = len(at)
    return Snapshots(X=np.zeros((n, 1), np.float32), y=(rng.random(n) < 0.1).astype(np.int8),
                     value=np.full(n, np.nan), currency=[None] * n, at=at, lead=lead,
                     lead_ids=[f"lead-{seed}-{i}" for i in range(leads)],
                     kind=np.zeros(n, np.int8), converted_at=np.full(n, np.nan))


@pytest.mark.parametrize("seed", SEEDS)
def test_no_lead_is_in_both_the_trees_and_the_calibration_fold(seed: int) -> None:
    s = _snapshots(seed)
    cfg = TrainConfig(seed=seed, calibration_split="leads")
    train, cal, test = split_folds(s, cfg)
    tree_leads, cal_leads = set(s.lead[train].tolist()), set(s.lead[cal].tolist())
    assert tree_leads and cal_leads
    assert not tree_leads & cal_leads
    # About the configured share of the leads that have rows before the test fold calibrate.
    before = set(s.lead[~test].tolist())
    assert abs(len(cal_leads) / len(before) - cfg.calibration_leads) < 0.04
    # Every row before the test fold is in exactly one of the two, or purged from the trees.
    assert not (train & cal).any() and not ((train | cal) & test).any()


@pytest.mark.parametrize("seed", SEEDS)
def test_the_test_fold_is_the_newest_rows_whichever_the_split(seed: int) -> None:
    s = _snapshots(seed)
    by_leads = split_folds(s, TrainConfig(seed=seed, calibration_split="leads"))
    by_time = split_folds(s, TrainConfig(seed=seed, calibration_split="time"))
    np.testing.assert_array_equal(by_leads[2], by_time[2])
    np.testing.assert_array_equal(by_time[2], split_by_time(s.at, 30.0, 0.6, 0.2)[2])
    assert s.at[by_leads[2]].min() >= np.quantile(s.at, 0.8)
    assert s.at[~by_leads[2]].max() < s.at[by_leads[2]].min()


@pytest.mark.parametrize("seed", SEEDS)
def test_no_training_label_looks_into_the_test_period(seed: int) -> None:
    s = _snapshots(seed)
    cfg = TrainConfig(seed=seed, calibration_split="leads")
    train, cal, test = split_folds(s, cfg)
    t2 = np.quantile(s.at, cfg.train_fraction + cfg.calibration_fraction)
    assert s.at[test].min() >= t2
    assert np.all(s.at[train] + cfg.label_days * DAY <= t2)
    assert np.all(s.at[cal] < t2)
    # Purging removes only the trees' rows of the last label window: none of the held-out
    # leads' rows, and none of the other leads' rows older than a window.
    held = held_out_leads(s.lead_ids, cfg.calibration_leads, cfg.seed)[s.lead]
    assert np.array_equal(cal, held & ~test)
    assert np.array_equal(train, ~held & ~test & (s.at + cfg.label_days * DAY <= t2))


@pytest.mark.parametrize("seed", SEEDS)
def test_a_leads_place_depends_only_on_its_id_and_the_seed(seed: int) -> None:
    ids = [f"lead-{i}" for i in range(3000)]
    held = held_out_leads(ids, 0.25, seed)
    again = held_out_leads(ids[::-1], 0.25, seed)[::-1]
    np.testing.assert_array_equal(held, again)  # order of the file does not matter
    assert abs(held.mean() - 0.25) < 0.03
    other = held_out_leads(ids, 0.25, seed + 100)
    assert (held != other).mean() > 0.2  # another seed draws other leads
    # A larger share keeps every lead held at the smaller share (the hash is compared
    # with the share), so --calibration-leads only moves leads one way.
    assert np.all(held_out_leads(ids, 0.4, seed)[held])


def test_split_settings_are_checked() -> None:
    with pytest.raises(UsageError):
        TrainConfig(calibration_split="rows").validate()
    for share in (0.0, 1.0, -0.1):
        with pytest.raises(UsageError):
            TrainConfig(calibration_leads=share).validate()
    TrainConfig(calibration_split="time").validate()
    for n in (0, 15, -1):
        with pytest.raises(UsageError, match="tree-snapshots-per-period"):
            TrainConfig(tree_snapshots_per_period=n).validate()
    TrainConfig(tree_snapshots_per_period=3).validate()


@pytest.mark.parametrize("seed", SEEDS)
def test_cross_fitting_folds_partition_the_leads(seed: int) -> None:
    s = _snapshots(seed)
    cfg = TrainConfig(seed=seed, calibration_split="crossfit")
    train, cal, test = split_folds(s, cfg)
    np.testing.assert_array_equal(test, split_folds(s, TrainConfig(seed=seed,
                                                                   calibration_split="time"))[2])
    t2 = np.quantile(s.at, cfg.train_fraction + cfg.calibration_fraction)
    assert np.all(s.at[train] + cfg.label_days * DAY <= t2)
    np.testing.assert_array_equal(cal, ~test)  # every lead calibrates, scored out of fold
    fold = lead_folds(s.lead_ids, cfg.calibration_folds, seed)[s.lead]
    for k in range(cfg.calibration_folds):
        inside = set(s.lead[cal & (fold == k)].tolist())
        trees = set(s.lead[train & (fold != k)].tolist())
        assert inside and trees and not inside & trees
        assert abs(len(inside) / len(set(s.lead[cal].tolist())) - 0.25) < 0.05


@pytest.mark.parametrize("seed", SEEDS[:3])
def test_cross_fitted_scores_come_from_trees_that_never_saw_the_lead(seed: int) -> None:
    """Each lead's rows share one random fate and one feature that names the lead: trees
    that saw a lead memorise its fate, trees that did not can only guess. The scores the
    calibrator learns from must be the guesses (AUC near 0.5), where the kept model, which
    saw every lead, scores its own training leads far better than chance."""
    rng = np.random.default_rng(seed)
    leads, per = 600, 20
    lead = np.repeat(np.arange(leads), per)
    fate = (rng.random(leads) < 0.3).astype(np.int8)
    n = len(lead)
    s = Snapshots(X=lead.reshape(-1, 1).astype(np.float32) + rng.normal(0, 0.01, (n, 1)
                                                                         ).astype(np.float32),
                  y=fate[lead], value=np.full(n, np.nan), currency=[None] * n,
                  at=rng.uniform(0, 300, n) * DAY, lead=lead,
                  lead_ids=[f"l{seed}-{i}" for i in range(leads)], kind=np.zeros(n, np.int8),
                  converted_at=np.full(n, np.nan))
    cfg = TrainConfig(seed=seed, calibration_split="crossfit", num_leaves=63,
                      min_data_in_leaf=5, early_stopping_rounds=20, num_boost_round=200)
    train, cal, _ = split_folds(s, cfg)
    booster, raw_cal, report = fit_cross(s, train, cal, cfg, ["lead_number"], [])
    assert len(raw_cal) == cal.sum() and not np.isnan(raw_cal).any()
    assert report["folds"] == 4 and len(report["iterations"]) == 4
    assert abs(_auc(raw_cal, s.y[cal]) - 0.5) < 0.08
    assert _auc(booster.predict(s.X[train], raw_score=True), s.y[train]) > 0.7


def _auc(score: np.ndarray, y: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, score))


def test_leadscore_train_cross_fits_by_default_and_says_so(small_model) -> None:  # type: ignore[no-untyped-def]
    """The shared real artifact (trained with the defaults on simulated history): its
    summary names the split, the folds' early-stopping points and the kept model's trees."""
    import orjson

    summary = orjson.loads((small_model / "training_summary.json").read_bytes())
    manifest = orjson.loads((small_model / "manifest.json").read_bytes())
    assert summary["split"] == "crossfit"
    assert manifest["train_config"]["calibration_split"] == "crossfit"
    cross = summary["cross_fit"]
    assert cross["folds"] == 4 and len(cross["iterations"]) == 4
    assert cross["final_iterations"] == max(1, round(sum(cross["iterations"]) / 4))
    assert summary["best_iteration"] == cross["final_iterations"]
    folds = summary["folds"]
    # Every row before the test fold is a calibration row, scored out of fold.
    assert folds["calibration"]["rows"] + folds["test"]["rows"] == summary["snapshots"]
    # By default the trees learn from the weekly rows only (no trees-only rows).
    assert summary["snapshots_for_trees_only"] == 0
    assert folds["train"]["rows"] <= folds["calibration"]["rows"]


def test_a_fold_without_both_outcomes_is_a_usage_error() -> None:
    """Eight leads, one of which converts: some fold's leads never convert, and early
    stopping or a calibrator on it would mean nothing, so training stops with a message."""
    s = _snapshots(5, leads=8)
    s.y[:] = 0
    s.y[s.lead == 0] = 1
    cfg = TrainConfig(seed=5, calibration_split="crossfit")
    train, cal, _ = split_folds(s, cfg)
    with pytest.raises(UsageError, match="cross-fitting fold"):
        fit_cross(s, train, cal, cfg, ["f"], [])


def _with_dense(s: Snapshots, per_period: int, seed: int) -> Snapshots:
    """`s` plus trees-only rows (kind DENSE) between each lead's rows, a few of them
    converting, as `uniform_per_period` adds them."""
    rng = np.random.default_rng(seed + 100)
    extra = np.repeat(np.arange(len(s.at)), per_period - 1)
    at = s.at[extra] + 7 * DAY * np.tile(np.arange(1, per_period), len(s.at)) / per_period
    n = len(extra)
    cat = np.concatenate
    return Snapshots(X=cat([s.X, s.X[extra]]), y=cat([s.y, (rng.random(n) < 0.1).astype(np.int8)]),
                     value=cat([s.value, np.full(n, np.nan)]), currency=[None] * (len(s.at) + n),
                     at=cat([s.at, at]), lead=cat([s.lead, s.lead[extra]]), lead_ids=s.lead_ids,
                     kind=cat([s.kind, np.full(n, DENSE, np.int8)]),
                     converted_at=cat([s.converted_at, np.full(n, np.nan)]))


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("split", ["crossfit", "leads", "time"])
def test_trees_only_rows_change_neither_the_calibration_nor_the_test_fold(
        seed: int, split: str) -> None:
    """Denser uniform-time rows (`tree_snapshots_per_period`) are for the trees only: the
    calibrator and the test figures see the same rows as without them, and the extra rows
    obey the trees' purge (no label into the test period)."""
    s = _snapshots(seed)
    d = _with_dense(s, 3, seed)
    cfg = TrainConfig(seed=seed, calibration_split=split)
    train0, cal0, test0 = split_folds(s, cfg)
    train, cal, test = split_folds(d, cfg)
    pop = d.kind != DENSE
    np.testing.assert_array_equal(cal[pop], cal0)
    np.testing.assert_array_equal(test[pop], test0)
    np.testing.assert_array_equal(train[pop], train0)
    assert not (cal | test)[~pop].any()
    assert train[~pop].any()
    t2 = s.at[test0].min()
    assert np.all(d.at[train] + cfg.label_days * DAY <= t2)
