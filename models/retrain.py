"""``leadscore retrain --events FILE --champion DIR --out DIR``: train a challenger and compare it
with the champion on the newest outcomes.

The challenger is trained as ``leadscore train`` trains (same split, same calibration choice)
into ``--out`` (a registry folder, so it can be promoted from there). Both models are then
scored on the challenger's test fold: the newest labelled snapshots of the file, the same
temporal split, each model computing its own features (their vocabularies may differ) on the
same leads at the same times, populations as the worker scores them. Figures for both: AUC,
log loss, Brier, ECE, with 95% bootstrap intervals (resampled by lead, since one lead's rows
are not independent), and the paired difference of the log loss.

Promotable (``retrain.json`` in the challenger's folder, and the exit message) only when the
challenger's log loss is lower than the champion's by at least ``MARGIN`` (1%) AND the lower
end of the paired interval of the improvement is above 0. WHY log loss: a proper scoring rule,
so it rewards both the ranking and the calibration the scores are read for; AUC alone would
promote a model whose probabilities are off.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

from models import artifact
from models.errors import UsageError
from models.metrics import ece
from models.snapshots import SnapshotConfig, build, read_events
from models.train import TrainConfig, split_folds
from models.train import run as train

MARGIN = 0.01  # relative log-loss improvement a challenger needs
BOOTSTRAP = 200
EPS = 1e-12


def _logloss(p: np.ndarray, y: np.ndarray) -> float:
    p = np.clip(p, EPS, 1 - EPS)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def _auc(p: np.ndarray, y: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, p)) if 0 < y.sum() < len(y) else float("nan")


def figures(p: np.ndarray, y: np.ndarray) -> dict[str, float]:
    return {"auc": _auc(p, y), "log_loss": _logloss(p, y),
            "brier": float(np.mean((p - y) ** 2)), "ece": ece(p, y)}


def compare(p_champion: np.ndarray, p_challenger: np.ndarray, y: np.ndarray, lead: np.ndarray,
            seed: int = 0) -> dict[str, Any]:
    """Both models' figures with lead-clustered bootstrap intervals, the paired log-loss
    improvement, and the verdict."""
    rng = np.random.default_rng(seed)
    leads = np.unique(lead)
    rows_of = {v: np.flatnonzero(lead == v) for v in leads}
    samples: dict[str, dict[str, list[float]]] = {"champion": {}, "challenger": {}}
    gains: list[float] = []
    for _ in range(BOOTSTRAP):
        idx = np.concatenate([rows_of[v] for v in rng.choice(leads, size=len(leads))])
        for name, p in (("champion", p_champion), ("challenger", p_challenger)):
            for k, v in figures(p[idx], y[idx]).items():
                samples[name].setdefault(k, []).append(v)
        a, b = _logloss(p_champion[idx], y[idx]), _logloss(p_challenger[idx], y[idx])
        gains.append((a - b) / a)
    out: dict[str, Any] = {"rows": int(len(y)), "leads": int(len(leads)),
                           "conversions": int(y.sum())}
    for name, p in (("champion", p_champion), ("challenger", p_challenger)):
        point = figures(p, y)
        out[name] = {k: {"value": v, "ci": [float(np.nanpercentile(samples[name][k], 2.5)),
                                             float(np.nanpercentile(samples[name][k], 97.5))]}
                     for k, v in point.items()}
    ll_a, ll_b = _logloss(p_champion, y), _logloss(p_challenger, y)
    gain = (ll_a - ll_b) / ll_a
    low, high = float(np.percentile(gains, 2.5)), float(np.percentile(gains, 97.5))
    out["log_loss_improvement"] = {"value": gain, "ci": [low, high]}
    out["margin"] = MARGIN
    out["promotable"] = bool(gain >= MARGIN and low > 0)
    out["why"] = (f"log loss {gain:+.1%} (95% interval {low:+.1%} to {high:+.1%}); promotable "
                  f"needs at least {MARGIN:.0%} with the interval above 0")
    return out


def run(events_path: str, champion_dir: str, out_dir: str, config: TrainConfig | None = None,
        progress: bool = False) -> dict[str, Any]:
    champion = artifact.load(champion_dir)
    folder = train(events_path, out_dir, config, progress=progress)
    challenger = artifact.load(folder)
    cfg = config or TrainConfig()
    scfg = SnapshotConfig.from_dict(challenger.meta["snapshot"])
    log = read_events(events_path, progress=progress)
    snaps_b = build(log, challenger.config, scfg)
    snaps_a = build(log, champion.config, scfg)
    if len(snaps_a.y) != len(snaps_b.y) or not np.array_equal(snaps_a.at, snaps_b.at):
        raise UsageError("the champion's and the challenger's snapshots differ; compare them "
                         "with leadscore evaluate instead")
    _, _, test = split_folds(snaps_b, cfg)
    if test.sum() < 50:
        raise UsageError(f"only {int(test.sum())} test snapshots: too few to compare")
    y = snaps_b.y[test].astype(np.float64)
    pa = champion.probability_from_raw(champion.raw(snaps_a.X[test]))
    pb = challenger.probability_from_raw(challenger.raw(snaps_b.X[test]))
    report = {"models": {"champion": champion.version, "challenger": challenger.version},
              "challenger_dir": str(folder), "events": str(events_path),
              "compared_on": "the challenger's test fold: the newest labelled snapshots",
              **compare(pa, pb, y, snaps_b.lead[test])}
    artifact.write_extra(folder, "retrain.json", report)
    return report


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--events", required=True, help="event file (leadscore export writes one)")
    p.add_argument("--champion", required=True,
                   help="the champion artifact (or a registry: its champion)")
    p.add_argument("--out", required=True, help="where the challenger is written (a registry)")


def run_from_args(args: argparse.Namespace) -> int:
    from models.registry import champion_dir

    if not Path(args.events).is_file():
        raise UsageError(f"no such file: {args.events}")
    rep = run(args.events, str(champion_dir(Path(args.champion))), args.out,
              progress=sys.stderr.isatty())
    a, b = rep["champion"], rep["challenger"]
    print(f"champion {rep['models']['champion']} vs challenger {rep['models']['challenger']} on "
          f"{rep['rows']:,} newest snapshots ({rep['leads']:,} leads, "
          f"{rep['conversions']:,} conversions)")
    for k in ("auc", "log_loss", "brier", "ece"):
        print(f"  {k:9s} champion {a[k]['value']:.4f} [{a[k]['ci'][0]:.4f}, {a[k]['ci'][1]:.4f}]"
              f"  challenger {b[k]['value']:.4f} [{b[k]['ci'][0]:.4f}, {b[k]['ci'][1]:.4f}]")
    verdict = "PROMOTABLE" if rep["promotable"] else "not promotable"
    print(f"{verdict}: {rep['why']}; report {rep['challenger_dir']}/retrain.json")
    if rep["promotable"]:
        print(f"next: leadscore promote {rep['models']['challenger']} (or shadow it first)")
    return 0
