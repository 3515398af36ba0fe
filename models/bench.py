"""Throughput figures for the hot paths (a command that prints numbers, not a timed test).

    python -m models.bench --model DIR [--events N] [--rows 2000]

Prints fold events/s, state bytes size, features/s, single-row and batch predict rows/s and
exact TreeSHAP CPU-us/row by rows per call (LightGBM's pred_contrib, and the worker's tables
computed with numpy and with the C code of models/_treeshap.c when it is built),
folding a synthetic event mix of N events.
"""

from __future__ import annotations

import argparse
import functools
import random
import sys
import time
from collections.abc import Callable, Sequence

import numpy as np

from models import artifact
from models.errors import UsageError
from models.scoring import TABLE_MIN_ROWS
from models.state import LeadState, Obs, fold_into, state_from_bytes, state_to_bytes
from models.treeshap import PathTables

MIX = (("page_view", "pricing"), ("page_view", "blog"), ("page_view", "docs"),
       ("email_delivered", None), ("email_open", None), ("email_click", "pricing"),
       ("login", None), ("feature_used", "reports"), ("session_start", None),
       ("content_download", "whitepaper"), ("integration_connected", "slack"))


def _synthetic(n: int, leads: int) -> list[list[Obs]]:
    rng = random.Random(0)
    out: list[list[Obs]] = [[] for _ in range(leads)]
    t0 = 1.7e9
    for i in range(n):
        typ, sub = MIX[rng.randrange(len(MIX))]
        out[i % leads].append(Obs(f"e{i}", t0 + i * 37.0, typ, sub))
    return out


def _rate(n: int, seconds: float) -> str:
    return f"{n / seconds:,.0f}/s" if seconds > 0 else "inf"


def run(model_dir: str, rows: int = 2000, events: int = 200_000) -> None:
    scorer = artifact.load(model_dir)
    per_lead = _synthetic(events, max(1, events // 50))
    t = time.perf_counter()
    states = []
    for obs in per_lead:
        s = LeadState.new(scorer.config.state_config)
        for o in obs:
            fold_into(s, o, scorer.config.state_config)
        states.append(s)
    dt = time.perf_counter() - t
    print(f"fold (in place)            {_rate(events, dt)}  ({events} events, "
          f"{len(per_lead)} leads)")
    raw = [state_to_bytes(s) for s in states]
    t = time.perf_counter()
    for r in raw:
        state_from_bytes(r)
    dt = time.perf_counter() - t
    print(f"state bytes                mean {np.mean([len(r) for r in raw]):,.0f} B, "
          f"max {max(len(r) for r in raw):,} B; decode {_rate(len(raw), dt)}")
    at = max(o.ts for obs in per_lead for o in obs) + 3600
    t = time.perf_counter()
    X = np.array([scorer.features(s, at) for s in states])
    dt = time.perf_counter() - t
    print(f"features                   {_rate(len(states), dt)}")
    X = np.resize(X, (rows, X.shape[1]))
    t = time.perf_counter()
    for i in range(min(rows, 500)):
        scorer.score_batch(X[i:i + 1])
    dt = time.perf_counter() - t
    print(f"score_batch, 1 row         {_rate(min(rows, 500), dt)} "
          f"({dt / min(rows, 500) * 1e3:.3f} ms/row)")
    t = time.perf_counter()
    scorer.score_batch(X)
    dt = time.perf_counter() - t
    print(f"score_batch, {rows} rows    {_rate(rows, dt)}")
    kind = scorer.prepare_explanations()
    print(f"exact TreeSHAP ({scorer.booster.num_trees()} trees; the worker uses: {kind}), "
          "CPU-us per row")
    print("  rows per call   LightGBM pred_contrib   tables, numpy   tables, C code")
    X32 = np.asarray(X, dtype=np.float32)
    tables = PathTables(scorer.booster)
    has_c = tables.use_native
    for n in (1, 4, 20, 100, 500):
        if n > rows:
            break
        part = X32[:n]
        lgb_us = _cpu_us_per_row(functools.partial(
            scorer.booster.predict, part, pred_contrib=True, num_threads=1), n)
        tables.use_native = False
        numpy_us = _cpu_us_per_row(functools.partial(tables.contributions, part), n)
        tables.use_native = has_c
        c = (f"{_cpu_us_per_row(functools.partial(tables.contributions, part), n):,.1f}"
             if has_c else "not built")
        print(f"  {n:>13}   {lgb_us:>21,.1f}   {numpy_us:>13,.1f}   {c:>14}"
              + ("  (below TABLE_MIN_ROWS: LightGBM's)" if n < TABLE_MIN_ROWS else ""))
    t = time.perf_counter()
    for i in range(100):
        scorer.explain(X[i:i + 1])
    dt = time.perf_counter() - t
    print(f"explain, 1 row             {dt / 100 * 1e3:.3f} ms/row")


def _cpu_us_per_row(fn: Callable[[], object], n: int, seconds: float = 0.3) -> float:
    fn()
    t0, k = time.process_time(), 0
    while time.process_time() - t0 < seconds or k < 3:
        fn()
        k += 1
    return (time.process_time() - t0) / k / n * 1e6


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m models.bench", description=__doc__.split("\n")[0])
    p.add_argument("--model", required=True, help="model artifact directory")
    p.add_argument("--rows", type=int, default=2000)
    p.add_argument("--events", type=int, default=200_000)
    args = p.parse_args(argv)
    try:
        run(args.model, args.rows, args.events)
    except UsageError as e:
        p.error(str(e))
    return 0


if __name__ == "__main__":
    sys.exit(main())
