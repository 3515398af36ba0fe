"""`leadscore evaluate`: score an event file's snapshots with a model artifact and report.

Uses the artifact's own feature and snapshot configuration, so an evaluation file from any
source is turned into rows exactly as the training file was. Two populations are judged
separately, because a score is only calibrated for the population it is read on:

- events: right after a significant event, which is when the worker scores and alerts;
- uniform: at uniform times, a lead as it stands on an ordinary day.

Each gets the quality targets (models/README.md, "Targets"), score bands with 95%
intervals, the same split by lead age and by days since the last activity, tiers with
intervals, gain/lift against the old rules score, the business case (top-20% conversion
against the old rules score, incremental revenue per 1,000 leads worked) and the sales
cycle by tier (models/business.py) and, when the events come from a generator
that knows them (`--truth`, by default FILE.truth.jsonl if it exists), the comparison with
the true probabilities. `--newest F` keeps only the newest fraction F of snapshots.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from models import artifact
from models import truth as truth_mod
from models.business import business_case, cycle_days, sales_cycle
from models.business import summary_lines as business_lines
from models.cli import module_main
from models.errors import UsageError
from models.metrics import check_targets, gain_curve, reliability, score_bands, summarise
from models.report import render
from models.rules import rules_score
from models.scoring import Scorer
from models.snapshots import (
    EVENT,
    UNIFORM,
    EventLog,
    SnapshotConfig,
    Snapshots,
    build,
    read_events,
)

POPULATIONS = (
    ("events", EVENT, "at significant events: what the worker scores and alerts on"),
    ("uniform", UNIFORM, "at uniform times: a lead as it stands on an ordinary day"),
)
AGE_STRATA = ((0.0, 7.0, "first week"), (7.0, 30.0, "1-4 weeks"), (30.0, 90.0, "1-3 months"),
              (90.0, math.inf, "over 3 months"))
RECENCY_STRATA = ((0.0, 1.0, "active in the last day"), (1.0, 7.0, "1-7 days ago"),
                  (7.0, 30.0, "1-4 weeks ago"), (30.0, math.inf, "over 30 days ago"))


def _strata(col: np.ndarray, p: np.ndarray, y: np.ndarray, truth: np.ndarray | None,
            defs: tuple[tuple[float, float, str], ...], lead: np.ndarray
            ) -> list[dict[str, Any]]:
    out = []
    for lo, hi, name in defs:
        m = (col >= lo) & (col < hi)
        n = int(m.sum())
        out.append({"stratum": name, "rows": n,
                    "observed": float(y[m].mean()) if n else None,
                    "predicted": float(p[m].mean()) if n else None,
                    "bands": score_bands(p[m], y[m], None if truth is None else truth[m],
                                         lead[m])})
    return out


def _population(scorer: Scorer, p: np.ndarray, score: np.ndarray, snaps: Snapshots,
                truth: np.ndarray | None, stages: list[str] | None,
                ranking: bool) -> dict[str, Any]:
    X, y = snaps.X, snaps.y
    yf = y.astype(np.float64)
    rules = rules_score(X, scorer.names)
    m = summarise(p, yf, score, rules, scorer.hot, scorer.warm, truth, snaps.lead)
    m["sales_cycle"] = sales_cycle(score, y, cycle_days(X, scorer.names, snaps.at,
                                                        snaps.converted_at),
                                   snaps.lead, scorer.hot, scorer.warm)
    m["business_case"] = business_case(p, rules, y, snaps.value, snaps.currency, snaps.lead)
    names = scorer.names
    age = X[:, names.index("days_since_first_touch")].astype(np.float64)
    rec = X[:, names.index("days_since_last_activity")].astype(np.float64)
    edges = list(range(0, 101, 10))
    hist = np.histogram(score, bins=[*edges[:-1], 101])[0]
    m["by_lead_age"] = _strata(age, p, yf, truth, AGE_STRATA, snaps.lead)
    m["by_recency"] = _strata(rec, p, yf, truth, RECENCY_STRATA, snaps.lead)
    m["plots"] = {
        "reliability": reliability(p, yf),
        "gain_model": gain_curve(p, yf),
        "gain_rules": gain_curve(rules + 1e-9 * p, yf),
        "score_histogram": [(f"{lo}-{lo + 9 if lo < 90 else 100}", float(c) / max(1, len(y)))
                            for lo, c in zip(edges[:-1], hist, strict=True)],
    }
    if truth is not None and stages is not None:
        by_stage = []
        for st in sorted({s for s in stages if s}):
            sm = np.array([s == st for s in stages])
            by_stage.append({"stage": st, "rows": int(sm.sum()),
                             "predicted": float(p[sm].mean()),
                             "truth": float(np.nanmean(truth[sm])),
                             "observed": float(yf[sm].mean())})
        m["truth"]["by_hidden_stage"] = by_stage
    m["targets"] = check_targets(m, ranking)
    return m


def evaluate_snapshots(scorer: Scorer, snaps: Snapshots, truth: np.ndarray | None = None,
                       stages: list[str] | None = None) -> dict[str, Any]:
    """All report figures, pooled and per population, for labelled snapshots."""
    b = scorer.score_batch(snaps.X)
    yf = snaps.y.astype(np.float64)
    m = summarise(b.probability, yf, b.score, rules_score(snaps.X, scorer.names),
                  scorer.hot, scorer.warm, truth, snaps.lead)
    gains = scorer.booster.feature_importance(importance_type="gain")
    tot = float(gains.sum()) or 1.0
    imp = sorted(((n, float(g) / tot) for n, g in zip(scorer.names, gains, strict=True)),
                 key=lambda kv: -kv[1])
    m.update({
        "model_version": scorer.version,
        "label": scorer.meta.get("label", ""),
        "tier_thresholds": {"hot": scorer.hot, "warm": scorer.warm},
        "calibration": scorer.meta.get("calibration", {}),
        "expected_value_mean": float(b.expected_value.mean()) if len(yf) else None,
        "plots": {"importance": imp},
        "populations": {},
    })
    for name, kind, desc in POPULATIONS:
        sel = snaps.kind == kind
        if not sel.any():
            continue
        pm = _population(scorer, b.probability[sel], b.score[sel], snaps.take(sel),
                         None if truth is None else truth[sel],
                         None if stages is None else [s for s, k in zip(stages, sel,
                                                                         strict=True) if k],
                         ranking=kind == UNIFORM)
        pm["description"] = desc
        m["populations"][name] = pm
    conv = (snaps.y == 1) & np.isfinite(snaps.value)
    if conv.any():
        m["deal_value"] = {"converted_rows": int(conv.sum()),
                           "actual_mean": float(snaps.value[conv].mean()),
                           "predicted_mean": float(
                               scorer.expected_deal_value(snaps.X[conv]).mean())}
    return m


def load_truth(events_path: str, truth_path: str | None, scorer: Scorer, snaps: Snapshots
               ) -> tuple[np.ndarray | None, list[str] | None, str | None]:
    """(true probability per snapshot, hidden stage per snapshot, truth file) or Nones."""
    path = Path(truth_path) if truth_path else truth_mod.default_path(events_path)
    if not path.exists():
        if truth_path:
            raise UsageError(f"no such truth file: {truth_path}")
        return None, None, None
    tr = truth_mod.load(path)
    label = float(scorer.meta.get("snapshot", {}).get("label_days", 30.0))
    if abs(tr.label_days - label) > 1e-9:
        raise UsageError(f"{path} holds {tr.label_days:g}-day probabilities but the model "
                         f"predicts conversion within {label:g} days")
    t = tr.lookup(snaps.lead_ids, snaps.lead, snaps.at)
    if np.isnan(t).all():
        raise UsageError(f"{path} knows none of the leads in {events_path}")
    return t, tr.stage(snaps.lead_ids, snaps.lead, snaps.at), str(path)


def write_outputs(out_dir: str | Path, metrics: dict[str, Any],
                  summary: dict[str, Any] | None = None) -> Path:
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UsageError(f"cannot create {out}: {e.strerror}") from e
    artifact.write_extra(out, "metrics.json", metrics)
    artifact.write_extra(out, "report.html", render(metrics, summary))
    return out / "report.html"


AlertWeek = Callable[[Scorer, EventLog], dict[str, Any]]


def run(model_dir: str, events_path: str, out_dir: str, newest: float = 1.0,
        progress: bool = True, truth_path: str | None = None,
        alert_week: AlertWeek | None = None) -> dict[str, Any]:
    """Evaluate; `alert_week` (given by `leadscore evaluate`, which owns the alert rules)
    adds a simulated week of alerts to the figures and the report."""
    if not 0 < newest <= 1:
        raise UsageError("--newest must be in (0, 1]")
    scorer = artifact.load(model_dir)
    snap_cfg = SnapshotConfig.from_dict(scorer.meta["snapshot"])
    log = read_events(events_path, progress=progress)
    snaps = build(log, scorer.config, snap_cfg, progress=progress)
    if len(snaps.y) == 0:
        raise UsageError("no labelled snapshots in the evaluation file")
    cut = np.quantile(snaps.at, 1 - newest) if newest < 1 else -np.inf
    snaps = snaps.take(snaps.at >= cut)
    truth, stages, tpath = load_truth(events_path, truth_path, scorer, snaps)
    m = evaluate_snapshots(scorer, snaps, truth, stages)
    m["evaluated_on"] = (f"{events_path}: newest {newest:.0%} of labelled snapshots"
                         if newest < 1 else f"{events_path}: all labelled snapshots")
    m["truth_file"] = tpath
    if alert_week is not None:
        m["alerts"] = alert_week(scorer, log)
    m["report"] = str(write_outputs(out_dir, m, {"reading": log.summary(),
                                                 "snapshots": int(len(snaps.y))}))
    return m


def summary_text(m: dict[str, Any]) -> str:
    """What `leadscore evaluate` prints: per population the figures and each target."""
    lines = [f"model {m.get('model_version')}  ({m.get('evaluated_on')})"]
    if m.get("truth_file"):
        lines.append(f"true probabilities: {m['truth_file']}")
    for name, pm in m.get("populations", {}).items():
        lines.append("")
        lines.append(f"== {name}: {pm['description']}")
        lines.append(f"rows {pm['rows']:,}  conversions {pm['positives']:,}  base rate "
                     f"{pm['base_rate']:.4f}  mean predicted {pm['mean_probability']:.4f}")
        auc = f"AUC {pm['auc']:.4f}"
        tr = pm.get("truth")
        if tr and tr.get("auc_truth") is not None:
            auc += (f" (true probabilities {tr['auc_truth']:.4f}, gap "
                    f"{tr['auc_truth'] - tr['auc_model']:+.4f})")
        lines.append(f"{auc}  ECE {pm['ece']:.4f}" + (
            f"  ECE vs truth {tr['ece_truth']:.4f}" if tr else "") + f"  Brier {pm['brier']:.5f}")
        over = "leads" if pm["bands"] and pm["bands"][0].get("interval") == "leads" else "rows"
        lines.append(f"band     rows  predicted  observed [95% interval, over {over}]" +
                     ("  mean true probability [95%]: the band's actual conversion" if tr
                      else ""))
        for b in pm["bands"]:
            if not b["rows"]:
                lines.append(f"{b['band']:>6}  {0:>7}")
                continue
            tci = b.get("truth_ci")
            lines.append(f"{b['band']:>6}  {b['rows']:>7,}  {b['predicted']:9.3f}  "
                         f"{b['observed']:8.3f} [{b['ci'][0]:.3f}, {b['ci'][1]:.3f}]" +
                         (f"  {b['truth']:.3f}" if b.get("truth") is not None else "") +
                         (f" [{tci[0]:.3f}, {tci[1]:.3f}]" if tci else ""))
        t = pm["tiers"]
        lines.append("tiers: " + "  ".join(
            f"{k} {t[k]['leads']:,} rows converting "
            + (f"{t[k]['conversion_rate']:.3f} [{t[k]['ci'][0]:.3f}, {t[k]['ci'][1]:.3f}]"
               if t[k]["leads"] else "n/a") for k in ("hot", "warm", "cold")))
        hc = pm.get("hot_cold_ratio")
        lines.append(f"Hot/Cold {hc:.1f}x" if hc else "Hot/Cold n/a")
        r = pm["top20_conversion_rules"]
        lines.append(f"top 20%: model {pm['top20_conversion_model']:.4f}, old rules "
                     f"{r:.4f} ({pm['top20_conversion_model'] / r:.2f}x)" if r else
                     f"top 20%: model {pm['top20_conversion_model']:.4f}")
        lines += business_lines(pm)
        for tg in pm["targets"]:
            v = tg["value"]
            vs = "n/a" if v is None else (f"{v:.4f}" if isinstance(v, float) else str(v))
            lines.append(f"  [{'met' if tg['met'] else 'MISSED'}] {tg['target']}: {vs} "
                         f"(goal {tg['goal']})")
    if m.get("report"):
        lines += ["", f"report: {m['report']}"]
    return "\n".join(lines)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, help="model artifact directory")
    p.add_argument("--events", required=True, help="JSON-lines file of schema events")
    p.add_argument("--out", required=True, help="directory for metrics.json and report.html")
    p.add_argument("--truth", default=None,
                   help="true probabilities from the generator (default: EVENTS.truth.jsonl "
                   "when it exists)")
    p.add_argument("--newest", type=float, default=1.0,
                   help="evaluate only the newest fraction of snapshots (default: all)")
    p.add_argument("--json", action="store_true",
                   help="print the figures as one JSON line instead of the text summary")
    p.add_argument("--no-progress", action="store_true")


def run_from_args(args: argparse.Namespace) -> int:
    m = run(args.model, args.events, args.out, args.newest, progress=not args.no_progress,
            truth_path=args.truth)
    if args.json:
        keys = ("rows", "auc", "pr_auc", "brier", "ece", "hot_cold_ratio",
                "top20_conversion_model", "top20_conversion_rules", "truth",
                "business_case", "sales_cycle")
        pops = {n: {k: v for k, v in pm.items() if k in keys or k == "targets"}
                for n, pm in m["populations"].items()}
        print(orjson.dumps({"report": m["report"], "populations": pops}).decode())
    else:
        print(summary_text(m))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return module_main("evaluate", __doc__, add_arguments, run_from_args, argv)


if __name__ == "__main__":
    sys.exit(main())
