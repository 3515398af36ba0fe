"""Map the booster's raw log-odds to calibrated probabilities: isotonic or Platt.

WHY choose on data: isotonic is more flexible but steppy and needs many positives; Platt
(a logistic fit on the raw score) is smooth and robust when positives are few. We fit both
with 5-fold cross-validation inside the calibration fold, keep the one with the lower Brier
score (a proper scoring rule that, unlike log-loss, does not explode on isotonic's
exact-zero plateaus), then refit it on the whole calibration fold.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression


@dataclass
class Calibrator:
    method: str  # "platt" | "isotonic"
    a: float = 1.0  # platt: p = sigmoid(a * raw + b)
    b: float = 0.0
    x: tuple[float, ...] = ()  # isotonic knots (raw score -> probability), linear in between
    y: tuple[float, ...] = ()

    def __call__(self, raw: np.ndarray) -> np.ndarray:
        raw = np.asarray(raw, dtype=np.float64)
        if self.method == "platt":
            return 1.0 / (1.0 + np.exp(-(self.a * raw + self.b)))
        return np.interp(raw, np.asarray(self.x), np.asarray(self.y))

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "a": self.a, "b": self.b, "x": list(self.x),
                "y": list(self.y)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Calibrator:
        if d["method"] not in ("platt", "isotonic"):
            raise ValueError(f"unknown calibrator {d['method']!r}")
        return cls(d["method"], float(d["a"]), float(d["b"]), tuple(d["x"]), tuple(d["y"]))


def fit_platt(raw: np.ndarray, y: np.ndarray) -> Calibrator:
    lr = LogisticRegression(C=1e6, max_iter=1000)
    lr.fit(raw.reshape(-1, 1), y)
    return Calibrator("platt", a=float(lr.coef_[0, 0]), b=float(lr.intercept_[0]))


def fit_isotonic(raw: np.ndarray, y: np.ndarray, min_bin: int = 200) -> Calibrator:
    """Isotonic regression on quantile bins of >= `min_bin` rows, interpolated between bins.

    WHY binned: plain isotonic puts a plateau at exactly 1.0 (or 0.0) over the handful of
    highest-scored rows when they happen to be positives, which would promise a 100% Hot
    lead on a sample of three. Bins of a few hundred rows keep every knot an honest rate.
    """
    order = np.argsort(raw, kind="stable")
    n_bins = max(1, len(raw) // min_bin)
    bins = [b for b in np.array_split(order, n_bins) if len(b)]
    bx = np.array([raw[b].mean() for b in bins])
    by = np.array([y[b].mean() for b in bins])
    bw = np.array([len(b) for b in bins], dtype=np.float64)
    iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0)
    fy = iso.fit_transform(bx, by, sample_weight=bw)
    return Calibrator("isotonic", x=tuple(float(v) for v in bx), y=tuple(float(v) for v in fy))


FITTERS = {"platt": fit_platt, "isotonic": fit_isotonic}


def choose(raw: np.ndarray, y: np.ndarray, folds: int = 5, seed: int = 0,
           method: str = "auto") -> tuple[Calibrator, dict[str, float]]:
    """Cross-validated Brier score of each method on the calibration fold; refit the best."""
    if method != "auto":
        return FITTERS[method](raw, y), {}
    rng = np.random.default_rng(seed)
    fold_of = rng.integers(0, folds, len(y))
    scores: dict[str, float] = {}
    for name, fit in FITTERS.items():
        sq = 0.0
        for k in range(folds):
            tr, te = fold_of != k, fold_of == k
            if y[tr].min() == y[tr].max():
                continue
            p = fit(raw[tr], y[tr])(raw[te])
            sq += float(((p - y[te]) ** 2).sum())
        scores[name] = sq / len(y)
    best = min(scores, key=lambda k: scores[k])
    return FITTERS[best](raw, y), scores
