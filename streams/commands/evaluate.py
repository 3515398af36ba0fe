"""``leadscore evaluate``: the model's report (:mod:`models.evaluate`) plus a simulated week of
alerts for a team of reps.

WHY the command lives here rather than in models/: the alert rules are the worker's
(:mod:`streams.core.alerting`, configured by the LEADSCORE_* settings), and models/ never
imports streams/. The model side replays the week's scores (:mod:`models.week`); this side
applies the worker's rules to them (:mod:`streams.core.alertweek`).
"""

from __future__ import annotations

import argparse
from typing import Any

import orjson

from models import evaluate as model_evaluate
from models.scoring import Scorer
from models.snapshots import EventLog
from models.week import last_full_week, score_week
from streams.commands.args import positive_int
from streams.core.alertweek import simulate_week, summary_lines
from streams.runtime import policy_from
from streams.settings import get_settings


def add_arguments(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="metrics, the issue-12 targets, a week of alerts and an "
                       "HTML report for a model on an event file",
                       description=(model_evaluate.__doc__ or "").strip())
    model_evaluate.add_arguments(p)
    p.add_argument("--reps", type=positive_int, default=10,
                   help="reps sharing the leads in the simulated week of alerts (default 10)")
    p.add_argument("--no-alerts", action="store_true",
                   help="skip the simulated week of alerts")
    p.set_defaults(func=run_from_args)


def alert_week(reps: int) -> model_evaluate.AlertWeek:
    """The week simulation under the alert rules the settings configure."""
    policy = policy_from(get_settings(), None).alerts

    def run(scorer: Scorer, log: EventLog) -> dict[str, Any]:
        label = float(scorer.meta.get("snapshot", {}).get("label_days", 30.0))
        start, end = last_full_week(log, label)
        return simulate_week(score_week(log, scorer, start, end), policy, reps, label)

    return run


def run_from_args(args: argparse.Namespace) -> int:
    m = model_evaluate.run(args.model, args.events, args.out, args.newest,
                           progress=not args.no_progress, truth_path=args.truth,
                           alert_week=None if args.no_alerts else alert_week(args.reps))
    if args.json:
        keys = ("rows", "auc", "pr_auc", "brier", "ece", "hot_cold_ratio",
                "top20_conversion_model", "top20_conversion_rules", "truth", "targets",
                "business_case", "sales_cycle")
        pops = {n: {k: v for k, v in pm.items() if k in keys}
                for n, pm in m["populations"].items()}
        print(orjson.dumps({"report": m["report"], "populations": pops,
                            "alerts": m.get("alerts")}).decode())
        return 0
    text = model_evaluate.summary_text(m)
    if m.get("alerts"):
        head, _, tail = text.rpartition("\n\nreport: ")
        text = "\n".join([head, "", *summary_lines(m["alerts"]), "", f"report: {tail}"])
    print(text)
    return 0
