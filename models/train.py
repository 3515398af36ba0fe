"""`leadscore train`: events file -> snapshots -> LightGBM -> calibration -> artifact.

Split by time for the test fold, never by row: snapshots are ordered by snapshot time and the
newest 20% (from the 80% quantile, t2) are the test fold, so test figures are what the model
scores later in time. Before t2 the calibrator must learn from scores of trees that never saw
the lead, because every lead the worker scores is new to the trees:

- "crossfit" (the default, `fit_cross`): the leads are drawn into `calibration_folds` folds
  by a hash of their id; for each fold, trees learn on the other folds' leads and score this
  fold's rows. The calibrator learns from every lead, each scored out of fold, and the model
  kept is refitted on all the leads with the folds' mean number of trees.
- "leads": a `calibration_leads` share of the leads calibrates, the trees learn on the rest
  (no lead in both).
- "time" (the split before): trees on the first 60% of the history, calibrator on the next
  20%.

Training rows whose label window crosses t2 are purged, so the trees never learn from
outcomes in the test period.

WHY: the time split put in the calibration fold the same old leads the trees had learnt,
whose scores are sharper than a fresh lead's: on fresh intent populations leads older than
90 days were then under-predicted by 0.08-0.09. Pooled over three fresh 15,000-lead seeds the
worst intent band went from 0.044 / 0.048 (at events / uniform, time split) to 0.033 / 0.031
(held-out leads) and 0.023 / 0.056 (cross-fitted, which on both generators also had a lower
log-loss and a higher AUC than the held-out share, because the trees and the calibrator
each learn from every lead); models/README "Measured".

Imbalance: positives are up-weighted by sqrt(neg/pos) (capped at 10), enough for the trees to
find the rare class without distorting ranking much. Early stopping watches log-loss on the
calibration fold weighted the same way (so the stopping criterion matches the training
objective; AUC was too noisy a stopping signal at a 1% positive rate). The calibrator, fitted
on the unweighted calibration fold, then restores honest probabilities.

Population: snapshots are taken both at uniform times and right after significant events
(`models.snapshots`), in every fold, so the trees and the calibrator see the moments the
worker actually scores, and the test figures are reported for each population. For the
trees (and early stopping) an event snapshot weighs `event_weight` (0.5): a busy lead gives
one per active day, rows that are strongly correlated, and at full weight they crowded out
the lead population (on journey histories, 15k leads, half weight raised the AUC on fresh
leads by 0.0014 at uniform times and by 0.0008 at events). The calibrator sees every row at
full weight: it must be right for both populations.

Density (`tree_snapshots_per_period`, default 1, opt-in): the trees can also learn from
uniform-time rows between the weekly ones (3: a row every 2.3 days of each lead's life; kind
DENSE, `models.snapshots`). Only the trees see them: the calibrator, early stopping, the test
fold and `leadscore evaluate` use the weekly rows, which are the same rows whatever the
density. On short histories it sharpens the ranking: on 15,000-lead journey histories (three
tree seeds; fresh seeds 12, 13, 14) a row every 2 days narrowed the AUC gap to the true
probabilities at uniform times by 0.0012-0.0019 (paired bootstrap over leads: sd
0.0002-0.0003). On a 60,000-lead history the gain was 0.0003-0.0004 at uniform times, at
events -0.0006 to +0.0001 (intent: -0.0004 to -0.0007), for 1.4-2.1x the memory peak, so
it is not the default (models/README "Measured").
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import orjson

from models import artifact, registry
from models.calibration import METHODS, choose
from models.cli import module_main
from models.errors import UsageError
from models.evaluate import evaluate_snapshots, load_truth, write_outputs
from models.features import CATEGORICAL, FeatureConfig, manifest
from models.metrics import summarise
from models.rules import rules_score
from models.snapshots import (
    DENSE,
    EVENT,
    SnapshotConfig,
    Snapshots,
    build,
    read_events,
    vocabularies,
)
from models.state import DAY, id_hash
from models.truth import default_path

SPLITS = ("crossfit", "leads", "time")


@dataclass
class TrainConfig:
    label_days: float = 30.0
    snapshot_every_days: float = 7.0
    # Uniform-time rows per period for the trees only (module doc, "Density").
    tree_snapshots_per_period: int = 1
    max_idle_days: float = 120.0
    windows_days: tuple[int, ...] = (1, 7, 30)
    half_lives_days: tuple[float, ...] = (7.0, 30.0)
    lateness_hours: float = 48.0
    # The test fold starts at the (train + calibration) quantile of snapshot time; with the
    # "time" split the trees take the rows before the train quantile, the calibrator the rest.
    train_fraction: float = 0.6
    calibration_fraction: float = 0.2
    calibration: str = "auto"  # auto | platt | beta | spline | isotonic
    calibration_split: str = "crossfit"  # crossfit | leads | time: who calibrates (module doc)
    calibration_leads: float = 0.25  # "leads" split: share of leads held out for calibration
    calibration_folds: int = 4  # "crossfit" split: folds of leads (see fit_cross)
    at_events: bool = True  # also snapshot right after significant events
    event_weight: float = 0.5  # weight of an event snapshot for the trees (see module doc)
    hot: int = 80
    warm: int = 50
    num_boost_round: int = 1000
    learning_rate: float = 0.05
    num_leaves: int = 15
    min_data_in_leaf: int = 100
    early_stopping_rounds: int = 50
    seed: int = 7

    def validate(self) -> None:
        if not 0 < self.train_fraction < 1 or not 0 < self.calibration_fraction < 1:
            raise UsageError("fractions must be between 0 and 1")
        if self.train_fraction + self.calibration_fraction >= 1:
            raise UsageError("train + calibration fractions must leave room for a test fold")
        if not 1 <= self.tree_snapshots_per_period <= 14:
            raise UsageError("--tree-snapshots-per-period must be between 1 and 14")
        if self.label_days <= 0 or self.snapshot_every_days <= 0:
            raise UsageError("--label-days and --snapshot-every-days must be positive")
        if not 0 < self.warm < self.hot <= 100:
            raise UsageError("tiers need 0 < warm < hot <= 100")
        if self.calibration not in ("auto", *METHODS):
            raise UsageError(f"--calibration must be one of auto, {', '.join(METHODS)}")
        if self.calibration_split not in SPLITS:
            raise UsageError(f"--calibration-split must be one of {', '.join(SPLITS)}")
        if not 0 < self.calibration_leads < 1:
            raise UsageError("--calibration-leads must be between 0 and 1")
        if not 2 <= self.calibration_folds <= 10:
            raise UsageError("--calibration-folds must be between 2 and 10")
        if not 0 < self.event_weight <= 1:
            raise UsageError("--event-weight must be in (0, 1]")
        if any(w < 1 or w > 30 for w in self.windows_days):
            raise UsageError("windows must be between 1 and 30 days")


def split_by_time(at: np.ndarray, label_days: float, train_frac: float, cal_frac: float,
                  ref: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Boolean masks (train, calibration, test).

    Training rows are purged so that no training label looks past t1: the booster never
    learns from outcomes in the calibration or test periods. Calibration rows are not purged
    at t2 (purging there would leave a calibration fold of a week or two, because snapshot
    density grows over time); their labels may look up to one label window into the test
    period, which only informs the calibrator's few parameters and the early-stopping point.
    The quantiles are of the `ref` rows' times (default all rows).
    """
    t1, t2 = np.quantile(at if ref is None else at[ref], [train_frac, train_frac + cal_frac])
    gap = label_days * DAY
    train = at + gap <= t1
    cal = (at >= t1) & (at < t2)
    test = at >= t2
    return train, cal, test


def lead_draws(lead_ids: Sequence[str], seed: int) -> np.ndarray:
    """A number in [0, 1) per lead id from a stable hash of (seed, lead id), so a lead's
    fold depends on neither the file's order nor the other leads."""
    return np.array([id_hash(f"{seed}:{lid}") / 2.0 ** 63 for lid in lead_ids])


def held_out_leads(lead_ids: Sequence[str], share: float, seed: int) -> np.ndarray:
    """Per lead id: is it in the calibration fold of the "leads" split?"""
    return lead_draws(lead_ids, seed) < share


def lead_folds(lead_ids: Sequence[str], folds: int, seed: int) -> np.ndarray:
    """Per lead id: its cross-fitting fold, 0 .. folds - 1."""
    return np.minimum((lead_draws(lead_ids, seed) * folds).astype(np.int64), folds - 1)


def split_by_leads(at: np.ndarray, held: np.ndarray, label_days: float, before_test: float,
                   ref: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Boolean masks (train, calibration, test) for the "leads" split; `held` per row.

    The test fold is every row at or after t2, the `before_test` quantile of snapshot time.
    Before t2, held-out leads' rows calibrate and the other leads' rows train the trees;
    training rows whose label window crosses t2 are purged (no training label looks into
    the test period). Calibration rows keep labels that reach up to one window past t2, as
    in the time split: they only inform the calibrator's few parameters and early stopping.
    The quantile is of the `ref` rows' times (default all rows).
    """
    t2 = np.quantile(at if ref is None else at[ref], before_test)
    test = at >= t2
    train = ~held & (at + label_days * DAY <= t2)
    cal = held & ~test
    return train, cal, test


def split_folds(s: Snapshots, cfg: TrainConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The (train, calibration, test) masks `cfg` asks for; the test fold is the same rows
    whichever the split. DENSE rows (trees only) are only ever in `train`, and the fold
    boundaries are quantiles of the other rows' times, so the calibration and test rows are
    the same whatever the density."""
    pop = s.kind != DENSE
    if cfg.calibration_split == "time":
        train, cal, test = split_by_time(s.at, cfg.label_days, cfg.train_fraction,
                                         cfg.calibration_fraction, ref=pop)
        return train, cal & pop, test & pop
    before_test = cfg.train_fraction + cfg.calibration_fraction
    if cfg.calibration_split == "crossfit":
        # Every lead on both sides; fit_cross keeps each fold's trees off its leads.
        train, _, test = split_by_leads(s.at, np.zeros(len(s.at), dtype=bool), cfg.label_days,
                                        before_test, ref=pop)
        return train, ~test & pop, test & pop
    held = held_out_leads(s.lead_ids, cfg.calibration_leads, cfg.seed)[s.lead]
    train, cal, test = split_by_leads(s.at, held, cfg.label_days, before_test, ref=pop)
    return train, cal & pop, test & pop


def positive_weight(y: np.ndarray) -> float:
    """sqrt(negatives / positives), at most 10 (module doc)."""
    pos, neg = int(y.sum()), int((1 - y).sum())
    return float(min(10.0, math.sqrt(neg / max(pos, 1))))


def fit_trees(s: Snapshots, train: np.ndarray, valid: np.ndarray | None, cfg: TrainConfig,
              names: list[str], cat: list[int], rounds: int | None = None
              ) -> tuple[lgb.Booster, int]:
    """LightGBM on the `train` rows, early-stopped on the weighted log-loss of the `valid`
    rows (or exactly `rounds` trees without them); returns the booster cut at its best
    iteration and that iteration."""
    spw = positive_weight(s.y[train])

    def weight(m: np.ndarray) -> np.ndarray:
        return (np.where(s.y[m] == 1, spw, 1.0)
                * np.where(s.kind[m] == EVENT, cfg.event_weight, 1.0))

    dtrain = lgb.Dataset(s.X[train], s.y[train], weight=weight(train), feature_name=names,
                         categorical_feature=cat, free_raw_data=False)
    if valid is None:
        n = rounds or cfg.num_boost_round
        return lgb.train(lgb_params(cfg), dtrain, num_boost_round=n), n
    dvalid = lgb.Dataset(s.X[valid], s.y[valid], weight=weight(valid), reference=dtrain)
    booster = lgb.train(lgb_params(cfg), dtrain, num_boost_round=cfg.num_boost_round,
                        valid_sets=[dvalid], valid_names=["calibration"],
                        callbacks=[lgb.early_stopping(cfg.early_stopping_rounds,
                                                      verbose=False)])
    best = booster.best_iteration or booster.current_iteration()
    return lgb.Booster(model_str=booster.model_to_string(num_iteration=best)), best


def fit_cross(s: Snapshots, train: np.ndarray, cal: np.ndarray, cfg: TrainConfig,
              names: list[str], cat: list[int]
              ) -> tuple[lgb.Booster, np.ndarray, dict[str, Any]]:
    """Cross-fitting (the "crossfit" split): the leads before the test fold are drawn into
    `calibration_folds` folds; for each fold, trees learn on the other folds' leads (early-
    stopped on this fold) and score this fold's rows. Every calibration row so gets the score
    of trees that never saw its lead, and the calibrator learns from all the leads, not a
    quarter of them. The model kept is then refitted on every lead's training rows with the
    fold models' mean best iteration. Returns (booster, raw score of each `cal` row, the
    folds' report)."""
    fold = lead_folds(s.lead_ids, cfg.calibration_folds, cfg.seed)[s.lead]
    raw = np.full(len(s.y), np.nan)
    iterations = []
    for k in range(cfg.calibration_folds):
        scored, learn = cal & (fold == k), train & (fold != k)
        if len(np.unique(s.y[scored])) < 2 or len(np.unique(s.y[learn])) < 2:
            raise UsageError(f"cross-fitting fold {k + 1} of {cfg.calibration_folds} has no "
                             "conversion or no non-conversion: more leads required, or fewer "
                             "--calibration-folds")
        model, best = fit_trees(s, learn, scored, cfg, names, cat)
        raw[scored] = model.predict(s.X[scored], raw_score=True)
        iterations.append(best)
    rounds = max(1, int(round(float(np.mean(iterations)))))
    booster, _ = fit_trees(s, train, None, cfg, names, cat, rounds=rounds)
    return booster, raw[cal], {"folds": cfg.calibration_folds, "iterations": iterations,
                               "final_iterations": rounds}


def lgb_params(cfg: TrainConfig) -> dict[str, Any]:
    return {
        "objective": "binary",
        "metric": "binary_logloss",
        "learning_rate": cfg.learning_rate,
        "num_leaves": cfg.num_leaves,
        "min_data_in_leaf": cfg.min_data_in_leaf,
        "feature_fraction": 0.8,
        "bagging_fraction": 0.8,
        "bagging_freq": 1,
        "lambda_l2": 10.0,
        "cat_smooth": 20.0,
        "max_bin": 127,
        "num_threads": 1,
        "deterministic": True,
        "force_row_wise": True,
        "seed": cfg.seed,
        "verbosity": -1,
    }


def fit_value_model(s: Snapshots, mask: np.ndarray, names: list[str], cat: list[int],
                    seed: int) -> tuple[lgb.Booster | None, dict[str, Any]]:
    """Deal value given conversion, on log scale, in the most common currency.

    Uses each converted lead once per positive snapshot. With fewer than 50 deals the mean is
    used instead (a tree model on a handful of deals would just be noise). Duan's smearing
    factor corrects exp(E[log v]) to E[v].
    """
    pos = mask & (s.y == 1) & np.isfinite(s.value) & (s.value > 0)
    curs = Counter(c for c, m in zip(s.currency, pos, strict=True) if m and c)
    currency = curs.most_common(1)[0][0] if curs else None
    sel = pos & np.array([c == currency for c in s.currency])
    vals = s.value[sel]
    info: dict[str, Any] = {"currency": currency, "deals": int(sel.sum()),
                            "constant": float(vals.mean()) if len(vals) else 0.0,
                            "smearing": 1.0}
    if sel.sum() < 50:
        return None, info
    y = np.log(vals)
    params = {"objective": "regression", "learning_rate": 0.05, "num_leaves": 7,
              "min_data_in_leaf": 20, "lambda_l2": 10.0, "num_threads": 1,
              "deterministic": True, "force_row_wise": True, "seed": seed, "verbosity": -1,
              "max_bin": 127}
    ds = lgb.Dataset(s.X[sel], y, feature_name=names, categorical_feature=cat,
                     free_raw_data=False)
    booster = lgb.train(params, ds, num_boost_round=150)
    resid = y - booster.predict(s.X[sel])
    info["smearing"] = float(np.mean(np.exp(resid)))
    return booster, info


# What each timed step does, in the words a first run shows (the timings keep the short names).
_STEPS = {"read_events": "reading and validating the events",
          "snapshots": "replaying each lead into training rows",
          "train_lightgbm": "fitting the trees (LightGBM)",
          "calibrate_and_value_model": "calibrating probabilities and writing the report"}


def run(events_path: str, out_dir: str, config: TrainConfig | None = None,
        progress: bool = True, truth_path: str | None = None) -> Path:
    """Train on `events_path`, write the artifact under `out_dir`; returns the artifact dir.
    The test-fold report compares with true probabilities when `truth_path` (default: the
    events file's `.truth.jsonl` sidecar, if any) exists."""
    cfg = config or TrainConfig()
    cfg.validate()
    t_start = time.perf_counter()
    timings: dict[str, float] = {}

    def lap(name: str, t0: float) -> float:
        now = time.perf_counter()
        timings[name] = round(now - t0, 2)
        if progress:
            sys.stderr.write(f"train: {_STEPS.get(name, name)} took {now - t0:.1f} s\n")
        return now

    log = read_events(events_path, progress=progress)
    if log.valid == 0:
        raise UsageError(f"{events_path}: no valid events")
    t = lap("read_events", t_start)
    industries, countries = vocabularies(log)
    fcfg = FeatureConfig(windows_days=tuple(cfg.windows_days),
                         half_lives_days=tuple(cfg.half_lives_days),
                         lateness_seconds=cfg.lateness_hours * 3600.0,
                         industries=industries, countries=countries)
    scfg = SnapshotConfig(label_days=cfg.label_days, every_days=cfg.snapshot_every_days,
                          max_idle_days=cfg.max_idle_days, at_events=cfg.at_events)
    snaps = build(log, fcfg, replace(scfg, uniform_per_period=cfg.tree_snapshots_per_period),
                  progress=progress)
    pop = snaps.kind != DENSE
    t = lap("snapshots", t)
    if len(snaps.y) == 0:
        raise UsageError("no snapshots: the history is shorter than the label window")
    train, cal, test = split_folds(snaps, cfg)
    for name, m, need in (("train", train, 20), ("calibration", cal, 10), ("test", test, 5)):
        if int(snaps.y[m].sum()) < need:
            raise UsageError(f"only {int(snaps.y[m].sum())} conversions in the {name} fold "
                             f"(need {need}): longer history or more leads required")
    names = fcfg.names
    cat = [names.index(c) for c in CATEGORICAL]
    cross_fit: dict[str, Any] | None = None
    if cfg.calibration_split == "crossfit":
        booster, raw_cal, cross_fit = fit_cross(snaps, train, cal, cfg, names, cat)
    else:
        booster, _ = fit_trees(snaps, train, cal, cfg, names, cat)
        raw_cal = np.asarray(booster.predict(snaps.X[cal], raw_score=True))
    t = lap("train_lightgbm", t)
    calibrator, cal_scores = choose(raw_cal, snaps.y[cal].astype(np.float64),
                                    seed=cfg.seed, method=cfg.calibration,
                                    groups=snaps.lead[cal])
    value_booster, value_info = fit_value_model(snaps, (train | cal) & pop, names, cat, cfg.seed)
    t = lap("calibrate_and_value_model", t)

    man = manifest(fcfg)
    man.update({
        # The population `leadscore evaluate` rebuilds: weekly rows (the trees-only density
        # is in train_config), without the field older code would not know.
        "snapshot": {k: v for k, v in asdict(scfg).items() if k != "uniform_per_period"},
        "tiers": {"hot": cfg.hot, "warm": cfg.warm},
        "label": f"converted within {cfg.label_days:g} days",
        "value_model": value_info,
        "calibration": {"method": calibrator.method, "selection": cal_scores},
        "train_config": {k: v for k, v in asdict(cfg).items()},
    })
    folder = artifact.save(out_dir, booster=booster, calibrator=calibrator, manifest=man,
                           value_booster=value_booster)
    scorer = artifact.load(folder)
    summary = {
        "events_file": str(events_path),
        "reading": log.summary(),
        "snapshots": int(pop.sum()),
        "snapshots_at_events": int((snaps.kind == EVENT).sum()),
        "snapshots_for_trees_only": int((~pop).sum()),
        "split": cfg.calibration_split,
        "folds": {n: {"rows": int(m.sum()), "positives": int(snaps.y[m].sum()),
                      "leads": int(len(np.unique(snaps.lead[m]))),
                      "from": _iso(snaps.at[m].min()) if m.any() else None,
                      "to": _iso(snaps.at[m].max()) if m.any() else None}
                  for n, m in (("train", train), ("calibration", cal), ("test", test))},
        "positive_weight": positive_weight(snaps.y[train]),
        "cross_fit": cross_fit,
        "trees": booster.num_trees(),
        "best_iteration": booster.current_iteration(),
    }
    test_snaps = snaps.take(test)
    truth, stages, tpath = load_truth(events_path, truth_path, scorer, test_snaps) if (
        truth_path or default_path(events_path).exists()) else (None, None, None)
    metrics = evaluate_snapshots(scorer, test_snaps, truth, stages)
    metrics["evaluated_on"] = "test fold (newest snapshots)"
    metrics["truth_file"] = tpath
    p_cal = scorer.probability_from_raw(raw_cal)
    metrics["calibration_fold"] = summarise(
        p_cal, snaps.y[cal].astype(np.float64), np.rint(100 * p_cal),
        rules_score(snaps.X[cal], names), cfg.hot, cfg.warm, groups=snaps.lead[cal])
    timings["total"] = round(time.perf_counter() - t_start, 2)
    summary["timings_seconds"] = timings
    artifact.write_extra(folder, "training_summary.json", summary)
    # Drift reference: the training rows of the population the worker scores (right after
    # significant events), with their probabilities; uniform-time rows when there are none.
    at_events = train & (snaps.kind == EVENT)
    ref_rows = at_events if at_events.sum() >= 100 else train & pop
    artifact.write_extra(folder, "reference.json", artifact.reference_distributions(
        snaps.X[ref_rows], names,
        probability=scorer.probability_from_raw(scorer.raw(snaps.X[ref_rows]))))
    # Rows and their probabilities, so a worker smoke-scores the artifact before swapping
    # it in (models/registry.py).
    artifact.write_extra(folder, registry.EXAMPLES, registry.examples(scorer, snaps.X[test]))
    write_outputs(folder, metrics, summary)
    return folder


def _iso(ts: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(float(ts), UTC).isoformat()


def _floats(s: str) -> tuple[float, ...]:
    try:
        return tuple(float(x) for x in s.split(",") if x.strip())
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {s!r}") from e


def _ints(s: str) -> tuple[int, ...]:
    try:
        return tuple(int(x) for x in s.split(",") if x.strip())
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {s!r}") from e


def add_arguments(p: argparse.ArgumentParser) -> None:
    d = TrainConfig()
    p.add_argument("--events", required=True, help="JSON-lines file of schema events")
    p.add_argument("--out", required=True, help="directory for the model artifact")
    p.add_argument("--label-days", type=float, default=d.label_days)
    p.add_argument("--snapshot-every-days", type=float, default=d.snapshot_every_days,
                   help="a uniform-time snapshot per lead per this many days: the population "
                   "the calibrator, the test fold and `leadscore evaluate` use (default "
                   f"{d.snapshot_every_days:g})")
    p.add_argument("--tree-snapshots-per-period", type=int,
                   default=d.tree_snapshots_per_period,
                   help="uniform-time rows per snapshot period that the trees learn from, the "
                   "extra ones evenly between (default "
                   f"{d.tree_snapshots_per_period}: the population rows only; models/README)")
    p.add_argument("--max-idle-days", type=float, default=d.max_idle_days)
    p.add_argument("--windows", type=_ints, default=d.windows_days, help="e.g. 1,7,30")
    p.add_argument("--half-lives", type=_floats, default=d.half_lives_days, help="e.g. 7,30")
    p.add_argument("--lateness-hours", type=float, default=d.lateness_hours)
    p.add_argument("--calibration", choices=("auto", *METHODS), default="auto",
                   help="calibration method (default auto: chosen on held-out data)")
    p.add_argument("--calibration-split", choices=SPLITS, default=d.calibration_split,
                   help="who calibrates: 'leads' (default), a held-out share of the leads "
                   "before the test period; 'time', the period after the trees' (see "
                   "models/README.md)")
    p.add_argument("--calibration-leads", type=float, default=d.calibration_leads,
                   help="with --calibration-split leads: the share of leads held out for "
                   f"the calibrator (default {d.calibration_leads})")
    p.add_argument("--calibration-folds", type=int, default=d.calibration_folds,
                   help="with --calibration-split crossfit: folds of leads (default "
                   f"{d.calibration_folds})")
    p.add_argument("--no-event-snapshots", action="store_true",
                   help="snapshot at uniform times only, not also after significant events")
    p.add_argument("--event-weight", type=float, default=d.event_weight,
                   help="weight of a snapshot taken after a significant event, for the trees "
                   f"(default {d.event_weight})")
    p.add_argument("--truth", default=None,
                   help="true probabilities for the report (default: EVENTS.truth.jsonl if "
                   "it exists)")
    p.add_argument("--hot", type=int, default=d.hot)
    p.add_argument("--warm", type=int, default=d.warm)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--no-progress", action="store_true")


def run_from_args(args: argparse.Namespace) -> int:
    cfg = TrainConfig(label_days=args.label_days, snapshot_every_days=args.snapshot_every_days,
                      tree_snapshots_per_period=args.tree_snapshots_per_period,
                      max_idle_days=args.max_idle_days, windows_days=args.windows,
                      half_lives_days=args.half_lives, lateness_hours=args.lateness_hours,
                      calibration=args.calibration, hot=args.hot, warm=args.warm,
                      seed=args.seed, at_events=not args.no_event_snapshots,
                      event_weight=args.event_weight,
                      calibration_split=args.calibration_split,
                      calibration_leads=args.calibration_leads,
                      calibration_folds=args.calibration_folds)
    folder = run(args.events, args.out, cfg, progress=not args.no_progress,
                 truth_path=args.truth)
    metrics = orjson.loads((folder / "metrics.json").read_bytes())
    keys = ("rows", "auc", "brier", "ece", "hot_cold_ratio", "top20_conversion_model",
            "top20_conversion_rules")
    pops = {n: {**{k: pm.get(k) for k in keys},
                "targets_met": f"{sum(t['met'] for t in pm['targets'])}/{len(pm['targets'])}",
                "business_case": {k: pm.get("business_case", {}).get(k, {}).get("value")
                                  for k in ("lift", "extra_per_1000", "revenue_per_1000")}}
            for n, pm in metrics["populations"].items()}
    print(orjson.dumps({"artifact": str(folder), "calibration": metrics["calibration"].get(
        "method"), "test": pops, "report": str(folder / "report.html")}).decode())
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return module_main("train", __doc__, add_arguments, run_from_args, argv)


if __name__ == "__main__":
    sys.exit(main())
