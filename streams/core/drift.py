"""Drift: the population stability index (PSI) of each feature and of the score, live rows
against the artifact's reference (``reference.json``: deciles of the training rows the worker's
population resembles, written by models/train.py). Pure, so the worker and ``leadscore drift``
compute the same figures.

Live rows come from the batches' feature matrices: :class:`RecentRows` keeps the last
``capacity`` scored rows (a ring buffer: one array copy per batch, no per-row Python), so the
figures describe recent traffic and memory is fixed (capacity x features x 4 bytes).

PSI = sum over bins of (live - reference) x ln(live / reference), with the reference's deciles
as bin edges and a bin for missing values. Tied deciles (a feature that is 0 for most leads)
collapse into one bin holding their whole share. Read it as: < 0.1 stable, 0.1-0.25 moving,
> 0.25 a different population.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

EPS = 1e-4  # floor of a bin's share, so an empty bin does not make PSI infinite


class RecentRows:
    """The last ``capacity`` feature rows and their probabilities."""

    def __init__(self, n_features: int, capacity: int = 5000) -> None:
        self.X = np.full((capacity, n_features), np.nan, dtype=np.float32)
        self.p = np.full(capacity, np.nan, dtype=np.float64)
        self.capacity = capacity
        self.cursor = 0
        self.filled = 0

    def add(self, X: np.ndarray, p: np.ndarray) -> None:
        n = len(X)
        if n >= self.capacity:
            X, p, n = X[-self.capacity:], p[-self.capacity:], self.capacity
        end = self.cursor + n
        if end <= self.capacity:
            self.X[self.cursor:end] = X
            self.p[self.cursor:end] = p
        else:
            k = self.capacity - self.cursor
            self.X[self.cursor:] = X[:k]
            self.p[self.cursor:] = p[:k]
            self.X[:n - k] = X[k:]
            self.p[:n - k] = p[k:]
        self.cursor = end % self.capacity
        self.filled = min(self.capacity, self.filled + n)

    def rows(self) -> tuple[np.ndarray, np.ndarray]:
        if self.filled < self.capacity:
            return self.X[:self.filled], self.p[:self.filled]
        return self.X, self.p


@dataclass(frozen=True)
class Reference:
    """One distribution of the reference: deciles (levels 0, 0.1, ... 1) and missing share."""

    quantiles: list[float]
    levels: list[float]
    missing: float

    @classmethod
    def from_dict(cls, d: dict[str, Any], levels: list[float]) -> Reference:
        return cls([float(q) for q in d.get("quantiles") or []], levels,
                   float(d.get("missing") or 0.0))


def psi(values: np.ndarray, ref: Reference) -> float:
    """PSI of ``values`` (NaN = missing) against ``ref``; NaN when there are no values."""
    values = np.asarray(values, dtype=np.float64)
    if len(values) == 0:
        return math.nan
    missing = np.isnan(values)
    live_missing = float(missing.mean())
    shares_live = [live_missing]
    shares_ref = [ref.missing]
    present = values[~missing]
    q = ref.quantiles
    if q:
        # the reference's CDF at each distinct decile: the highest level it reaches
        edges: list[float] = []
        cdf: list[float] = []
        for v, lv in zip(q, ref.levels, strict=True):
            if edges and v == edges[-1]:
                cdf[-1] = lv
            else:
                edges.append(v)
                cdf.append(lv)
        idx = np.searchsorted(np.asarray(edges), present, side="left")
        counts = np.bincount(idx, minlength=len(edges) + 1)
        n_live = max(len(values), 1)
        prev = 0.0
        for i in range(len(edges) + 1):
            mass = (cdf[i] if i < len(edges) else 1.0) - prev
            prev = cdf[i] if i < len(edges) else 1.0
            shares_ref.append(mass * (1.0 - ref.missing))
            shares_live.append(counts[i] / n_live)
    a = np.maximum(np.asarray(shares_live), EPS)
    e = np.maximum(np.asarray(shares_ref), EPS)
    return float(np.sum((a - e) * np.log(a / e)))


def drift(rows: np.ndarray, probability: np.ndarray, reference: dict[str, Any],
          names: list[str]) -> tuple[dict[str, float], float]:
    """(PSI per feature, PSI of the probability) of live rows against ``reference.json``."""
    levels = [float(x) for x in reference.get("quantiles", [])]
    feats = reference.get("features", {})
    out: dict[str, float] = {}
    for j, name in enumerate(names):
        if name in feats:
            out[name] = psi(rows[:, j], Reference.from_dict(feats[name], levels))
    score = reference.get("score")
    score_psi = psi(probability, Reference.from_dict(score, levels)) if score else math.nan
    return out, score_psi
