"""Two parts of the worker's CPU measured on their own, in the bench's process: explanations
and drift. Why: both grow with the model (trees, features), not with Kafka, and the issue that
added drift asked for its cost in the bench; printing them beside "CPU per event" says how much
of it they are.

- explanations: CPU-us per explained row, LightGBM's ``pred_contrib`` against the TreeSHAP
  tables (:mod:`models.treeshap`) the worker uses, at a batch's typical number of changes.
- drift: the reservoir's copy per batch (:class:`streams.core.drift.RecentRows`, per row) and
  one PSI computation over a full reservoir, which the idle scan runs every
  ``LEADSCORE_IDLE_SCAN_SECONDS``; expressed per event at the scorer's measured rate.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import orjson

from models.artifact import load
from models.treeshap import PathTables
from streams.core.drift import RecentRows, drift
from streams.runtime import load_reference


@dataclass
class Parts:
    explain_rows: int  # rows per call measured (a batch's changes)
    pred_contrib_us: float  # LightGBM's own, CPU-us per row
    tables_us: float  # the tables as the worker computes them, CPU-us per row
    numpy_us: float  # the tables computed with numpy (what an install without the C code uses)
    explainer: str  # which one the worker uses ("tables" or why not)
    way: str  # how the worker computes the tables: "C code" or "numpy"
    reservoir_us: float  # RecentRows.add, CPU-us per scored row
    reservoir_rows: int
    psi_ms: float  # one drift() over a full reservoir, CPU-ms
    n_features: int


def _cpu_per_call(fn: Callable[[], object], seconds: float = 0.3) -> float:
    fn()  # warm
    t0, k = time.process_time(), 0
    while time.process_time() - t0 < seconds or k < 3:
        fn()
        k += 1
    return (time.process_time() - t0) / k


def measure(model: Path, explain_rows: int = 100, batch_rows: int = 500,
            capacity: int = 5000) -> Parts:
    scorer = load(model)
    kind = scorer.prepare_explanations()
    ex = orjson.loads((model / "examples.json").read_bytes())
    rows = np.array([[np.nan if v is None else v for v in r] for r in ex["rows"]],
                    dtype=np.float32)
    X = np.resize(rows, (max(explain_rows, batch_rows), rows.shape[1]))
    Xe = X[:explain_rows]
    lgb_s = _cpu_per_call(lambda: scorer.booster.predict(Xe, pred_contrib=True, num_threads=1))
    tab_s = _cpu_per_call(lambda: scorer.contributions(Xe))
    tables = PathTables(scorer.booster)  # the same tables, computed with numpy
    way = "C code" if tables.use_native else "numpy"
    tables.use_native = False
    np_s = _cpu_per_call(lambda: tables.contributions(Xe))
    recent = RecentRows(X.shape[1], capacity)
    p = scorer.probability_from_raw(scorer.raw(X[:batch_rows]))
    add_s = _cpu_per_call(lambda: recent.add(X[:batch_rows], p))
    while recent.filled < capacity:
        recent.add(X[:batch_rows], p)
    reference = load_reference(model)
    psi_s = float("nan")  # an artifact without reference.json has no drift figures
    if reference is not None:
        live, prob = recent.rows()
        psi_s = _cpu_per_call(lambda: drift(live, prob, reference, scorer.config.names))
    return Parts(explain_rows, lgb_s / explain_rows * 1e6, tab_s / explain_rows * 1e6,
                 np_s / explain_rows * 1e6, kind, way, add_s / batch_rows * 1e6, capacity,
                 psi_s * 1e3, X.shape[1])


def rows(parts: Parts, events_per_s: float, scan_seconds: float) -> list[tuple[str, str]]:
    per_event = parts.psi_ms * 1e3 / (scan_seconds * events_per_s) if events_per_s else 0.0
    return [
        ("explanations", f"{parts.tables_us:,.1f} CPU-us per explained row with the TreeSHAP "
                         f"tables in {parts.way}, {parts.numpy_us:,.1f} in numpy, "
                         f"{parts.pred_contrib_us:,.1f} with LightGBM's pred_contrib "
                         f"({parts.explain_rows} rows per call; the worker uses: "
                         f"{parts.explainer}"
                         + (f", {parts.way})" if parts.explainer == "tables" else ")")),
        ("drift", f"reservoir {parts.reservoir_us:.2f} CPU-us per scored row; PSI over "
                  f"{parts.reservoir_rows:,} rows x {parts.n_features} features "
                  f"{parts.psi_ms:,.1f} CPU-ms per idle scan (every {scan_seconds:g} s) = "
                  f"{per_event:.2f} CPU-us/event at the scorer's rate"),
    ]
