"""`leadscore evaluate`: score an event file's snapshots with a model artifact and report.

Uses the artifact's own feature and snapshot configuration, so an evaluation file from any
source is turned into rows exactly as the training file was. `--newest F` keeps only the
newest fraction F of snapshots (by snapshot time), e.g. to evaluate on the newest leads.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from models import artifact
from models.cli import module_main
from models.errors import UsageError
from models.metrics import gain_curve, reliability, summarise
from models.report import render
from models.rules import rules_score
from models.scoring import Scorer
from models.snapshots import SnapshotConfig, build, read_events


def evaluate_snapshots(scorer: Scorer, X: np.ndarray, y: np.ndarray,
                       value: np.ndarray | None = None) -> dict[str, Any]:
    """All report figures and plot data for rows X with labels y."""
    b = scorer.score_batch(X)
    yf = y.astype(np.float64)
    rules = rules_score(X, scorer.names)
    m = summarise(b.probability, yf, b.score, rules, scorer.hot, scorer.warm)
    gains = scorer.booster.feature_importance(importance_type="gain")
    tot = float(gains.sum()) or 1.0
    imp = sorted(((n, float(g) / tot) for n, g in zip(scorer.names, gains, strict=True)),
                 key=lambda kv: -kv[1])
    edges = list(range(0, 101, 10))
    hist = np.histogram(b.score, bins=[*edges[:-1], 101])[0]
    m.update({
        "model_version": scorer.version,
        "label": scorer.meta.get("label", ""),
        "tier_thresholds": {"hot": scorer.hot, "warm": scorer.warm},
        "expected_value_mean": float(b.expected_value.mean()) if len(y) else None,
        "plots": {
            "reliability": reliability(b.probability, yf),
            "reliability_bands": _bands(b.probability, yf, b.score),
            "gain_model": gain_curve(b.probability, yf),
            "gain_rules": gain_curve(rules + 1e-9 * b.probability, yf),
            "importance": imp,
            "score_histogram": [(f"{lo}-{lo + 9 if lo < 90 else 100}",
                                 float(c) / max(1, len(y)))
                                for lo, c in zip(edges[:-1], hist, strict=True)],
        },
    })
    if value is not None and len(y):
        conv = (y == 1) & np.isfinite(value)
        if conv.any():
            m["deal_value"] = {"converted_rows": int(conv.sum()),
                               "actual_mean": float(value[conv].mean()),
                               "predicted_mean": float(
                                   scorer.expected_deal_value(X[conv]).mean())}
    return m


def _bands(p: np.ndarray, y: np.ndarray, score: np.ndarray, min_rows: int = 5
           ) -> list[tuple[float, float, int]]:
    """(mean probability, observed rate, rows) per 10-point score band: the equal-mass bins
    all sit at low probabilities when the base rate is a few percent; the bands show how
    honest the Warm and Hot scores are."""
    out = []
    for lo in range(0, 100, 10):
        m = (score >= lo) & (score < (lo + 10 if lo < 90 else 101))
        if m.sum() >= min_rows:
            out.append((float(p[m].mean()), float(y[m].mean()), int(m.sum())))
    return out


def write_outputs(out_dir: str | Path, scorer: Scorer, X: np.ndarray, y: np.ndarray,
                  metrics: dict[str, Any], summary: dict[str, Any] | None = None) -> Path:
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UsageError(f"cannot create {out}: {e.strerror}") from e
    artifact.write_extra(out, "metrics.json", metrics)
    artifact.write_extra(out, "report.html", render(metrics, summary))
    return out / "report.html"


def run(model_dir: str, events_path: str, out_dir: str, newest: float = 1.0,
        progress: bool = True) -> dict[str, Any]:
    if not 0 < newest <= 1:
        raise UsageError("--newest must be in (0, 1]")
    scorer = artifact.load(model_dir)
    snap_cfg = SnapshotConfig(**scorer.meta["snapshot"])
    log = read_events(events_path, progress=progress)
    snaps = build(log, scorer.config, snap_cfg, progress=progress)
    if len(snaps.y) == 0:
        raise UsageError("no labelled snapshots in the evaluation file")
    cut = np.quantile(snaps.at, 1 - newest) if newest < 1 else -np.inf
    keep = snaps.at >= cut
    m = evaluate_snapshots(scorer, snaps.X[keep], snaps.y[keep], snaps.value[keep])
    m["evaluated_on"] = (f"{events_path}: newest {newest:.0%} of labelled snapshots"
                         if newest < 1 else f"{events_path}: all labelled snapshots")
    write_outputs(out_dir, scorer, snaps.X[keep], snaps.y[keep], m,
                  {"reading": log.summary(), "snapshots": int(keep.sum())})
    return m


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, help="model artifact directory")
    p.add_argument("--events", required=True, help="JSON-lines file of schema events")
    p.add_argument("--out", required=True, help="directory for metrics.json and report.html")
    p.add_argument("--newest", type=float, default=1.0,
                   help="evaluate only the newest fraction of snapshots (default: all)")
    p.add_argument("--no-progress", action="store_true")


def run_from_args(args: argparse.Namespace) -> int:
    m = run(args.model, args.events, args.out, args.newest, progress=not args.no_progress)
    keys = ("rows", "auc", "pr_auc", "brier", "ece", "hot_cold_ratio",
            "top20_conversion_model", "top20_conversion_rules")
    print(orjson.dumps({k: m.get(k) for k in keys}).decode())
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return module_main("evaluate", __doc__, add_arguments, run_from_args, argv)


if __name__ == "__main__":
    sys.exit(main())
