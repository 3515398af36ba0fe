"""``leadscore drift --model DIR --events FILE``: the drift figures a worker exports, offline.

The file is replayed through the worker's own code (:mod:`streams.commands.replay`), which
keeps the scored feature rows as a worker does; their population stability index per feature
and of the score, against the artifact's ``reference.json``, is printed, largest first
(:mod:`streams.core.drift`: < 0.1 stable, 0.1-0.25 moving, > 0.25 a different population).
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import replace
from pathlib import Path

import orjson

from models.errors import UsageError
from streams.settings import get_settings

MAX_ROWS = 200_000  # the most recent scored rows compared (memory: rows x features x 4 B)


def add_arguments(sub: argparse._SubParsersAction) -> None:
    from streams.commands.args import existing_file

    p = sub.add_parser(
        "drift",
        help="population stability of each feature and of the score: events vs the model's "
        "reference",
        description=(__doc__ or "").split("\n\n")[1].replace("\n", " "),
    )
    p.add_argument("--model", type=Path, default=None, metavar="DIR",
                   help="model artifact or registry (default: $LEADSCORE_MODEL_DIR)")
    p.add_argument("--events", type=existing_file, required=True, metavar="FILE")
    p.add_argument("--top", type=int, default=15, metavar="N", help="features printed")
    p.add_argument("--json", action="store_true", help="one JSON object instead of a table")
    p.set_defaults(func=run_from_args)


def run_from_args(args: argparse.Namespace) -> int:
    from streams.commands.replay import messages_from_lines, run
    from streams.core.drift import RecentRows, drift
    from streams.runtime import build_processor

    settings = get_settings()
    proc = build_processor(settings, model_dir=args.model)
    if proc.reference is None:
        raise UsageError("the model has no reference.json (trained before drift references; "
                         "retrain it)")
    proc.policy = replace(proc.policy, max_age=None)
    proc.recent = RecentRows(len(proc.scorer.config.names), MAX_ROWS)
    with args.events.open("rb") as fh:
        run(proc, messages_from_lines(fh, settings))
    rows, probability = proc.recent.rows()
    if len(rows) == 0:
        raise UsageError(f"{args.events}: no event was scored (no significant events?)")
    features, score = drift(rows, probability, proc.reference, proc.scorer.config.names)
    ranked = sorted(features.items(), key=lambda kv: -kv[1] if not math.isnan(kv[1]) else 0)
    if args.json:
        print(orjson.dumps({"model_version": proc.scorer.version, "rows": int(len(rows)),
                            "score_psi": score, "features": dict(ranked)}).decode())
        return 0
    out = sys.stdout
    out.write(f"model {proc.scorer.version}, {len(rows):,} scored rows of {args.events}\n")
    out.write(f"{'score (probability)':40s} PSI {score:6.3f}  {_word(score)}\n")
    for name, value in ranked[:args.top]:
        out.write(f"{name:40s} PSI {value:6.3f}  {_word(value)}\n")
    return 0


def _word(v: float) -> str:
    if math.isnan(v):
        return ""
    return "different population" if v > 0.25 else "moving" if v > 0.1 else "stable"
