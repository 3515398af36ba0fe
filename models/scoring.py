"""Batch scoring and explanations from a loaded model artifact (what the worker calls).

Score = round(100 * calibrated probability), so "Hot >= 80" means "at least 80% likely to
convert within the label window". Tier thresholds are parameters of the artifact.

Explanations use exact TreeSHAP (LightGBM `pred_contrib`, or the same numbers from tables built
at load time, :mod:`models.treeshap`, about 3x cheaper a row): contributions c_j in log-odds
with base value b satisfy b + sum(c_j) = raw score r exactly. To express them as points on
the 0-100 scale, we distribute the score movement 100 * (g(r) - g(b)) (g = calibrator on top
of the raw score) over the features in proportion to their contributions:

    points_j = c_j * (100 * g(r) - 100 * g(b)) / (r - b)

so the points sum exactly to (unrounded score - base score) and keep each contribution's
sign and relative size. When r == b the local slope of g at b is used instead.

A rep sees reasons, not features: :mod:`models.reasons` groups the features that say the
same thing (every pricing/competitor/demo feature is one reason), sums their points, picks
the top reasons by those sums and writes each one's sentence from the lead's facts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import lightgbm as lgb
import numpy as np

from models.calibration import Calibrator
from models.features import FeatureConfig, features
from models.reasons import latest_days, reasons_for
from models.state import LeadState
from models.treeshap import explainer, native

# Below this many rows LightGBM's own pred_contrib is as cheap as the tables computed with numpy
# (whose calls have a fixed cost per batch); the C code is cheaper from one row on
# (`python -m models.bench` prints each per batch size).
TABLE_MIN_ROWS = 1 if native is not None else 4


@dataclass(frozen=True)
class Factor:
    feature: str  # the reason's name (models.reasons.REASONS), e.g. "intent"
    points: float  # signed contribution on the 0-100 scale, the sum of its features'
    sentence: str


@dataclass
class ScoreBatch:
    raw: np.ndarray  # booster log-odds
    probability: np.ndarray  # calibrated
    score: np.ndarray  # int 0-100
    tier: list[str]  # "hot" | "warm" | "cold"
    expected_value: np.ndarray  # probability x expected deal value


class Scorer:
    """Holds the boosters and calibrator; all methods are vectorised over rows."""

    def __init__(self, booster: lgb.Booster, calibrator: Calibrator, config: FeatureConfig,
                 value_booster: lgb.Booster | None = None, value_constant: float = 0.0,
                 value_smearing: float = 1.0, hot: int = 80, warm: int = 50,
                 version: str = "unversioned", meta: dict[str, Any] | None = None):
        self.booster = booster
        self.calibrator = calibrator
        self.config = config
        self.value_booster = value_booster
        self.value_constant = value_constant
        self.value_smearing = value_smearing
        self.hot, self.warm = hot, warm
        self.version = version
        self.meta = meta or {}
        self.names = config.names
        self.n_features = len(self.names)
        if booster.num_feature() != self.n_features:
            raise ValueError("model and feature manifest disagree on the number of features")
        self._tables: Callable[[np.ndarray], np.ndarray] | None = None
        self.explainer = "not built yet"  # "tables", or "lightgbm (why not the tables)"

    def prepare_explanations(self, examples: np.ndarray | None = None) -> str:
        """Build (once) and check the TreeSHAP tables; the worker does it when it loads a
        model, so the first batch does not pay for it (~0.3 s). ``examples``: rows they must
        also reproduce pred_contrib on (the artifact's smoke examples)."""
        if self._tables is None:
            self._tables, self.explainer = explainer(self.booster, examples)
        return self.explainer

    # ------------------------------------------------------------ features
    def features(self, state: LeadState, at: float) -> np.ndarray:
        return features(state, at, self.config)

    def feature_matrix(self, states: Sequence[LeadState], at: float) -> np.ndarray:
        """One row per state, all as seen at `at` (epoch seconds): the micro-batch input."""
        if not states:
            return np.zeros((0, self.n_features), dtype=np.float32)
        return np.asarray([features(s, at, self.config) for s in states], dtype=np.float32)

    def _matrix(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float32)  # training saw float32: identical bin edges
        if X.ndim == 1:
            X = X.reshape(1, -1)
        if X.shape[1] != self.n_features:
            raise ValueError(f"expected {self.n_features} features, got {X.shape[1]}")
        return X

    # ------------------------------------------------------------ scoring
    def raw(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(self.booster.predict(self._matrix(X), raw_score=True,
                                               num_threads=1))

    def probability_from_raw(self, raw: np.ndarray) -> np.ndarray:
        return np.clip(self.calibrator(raw), 0.0, 1.0)

    def tier(self, score: np.ndarray) -> list[str]:
        return ["hot" if s >= self.hot else "warm" if s >= self.warm else "cold"
                for s in np.asarray(score).tolist()]

    def expected_deal_value(self, X: np.ndarray) -> np.ndarray:
        X = self._matrix(X)
        if self.value_booster is None:
            return np.full(len(X), self.value_constant)
        pred = np.asarray(self.value_booster.predict(X, num_threads=1))
        return np.exp(pred) * self.value_smearing

    def score_batch(self, X: np.ndarray) -> ScoreBatch:
        X = self._matrix(X)
        raw = self.raw(X)
        p = self.probability_from_raw(raw)
        score = np.rint(100.0 * p).astype(np.int64)
        return ScoreBatch(raw, p, score, self.tier(score), p * self.expected_deal_value(X))

    # ------------------------------------------------------------ explanations
    def contributions(self, X: np.ndarray) -> np.ndarray:
        """Exact TreeSHAP in log-odds: (n, n_features + 1), last column = base value."""
        X = self._matrix(X)
        if len(X) >= TABLE_MIN_ROWS:
            self.prepare_explanations()
            assert self._tables is not None
            return self._tables(X)
        return np.asarray(self.booster.predict(X, pred_contrib=True, num_threads=1))

    def points(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(points per feature (n, F), base score (n,)) on the 0-100 scale; see module doc."""
        contrib = self.contributions(X)
        c, base = contrib[:, :-1], contrib[:, -1]
        raw = base + c.sum(axis=1)
        eps = 1e-3
        # One calibrator call for the four inputs (it works element by element, so the values
        # are the same as four calls; each call has a fixed cost, ~20 us for the spline).
        n = len(raw)
        p = self.probability_from_raw(np.concatenate([raw, base, base + eps, base - eps]))
        s_raw, s_base = 100.0 * p[:n], 100.0 * p[n:2 * n]
        d = raw - base
        slope = 100.0 * (p[2 * n:3 * n] - p[3 * n:]) / (2 * eps)
        safe = np.abs(d) > 1e-9
        ratio = np.where(safe, (s_raw - s_base) / np.where(safe, d, 1.0), slope)
        return c * ratio[:, None], s_base

    def explain(self, X: np.ndarray, top_k: int = 3,
                states: Sequence[LeadState] | None = None,
                ats: Sequence[float] | None = None) -> list[list[Factor]]:
        """Top reasons per row by absolute points (a reason's points: the sum of its
        features'), with their sentences. ``states``/``ats`` (the rows' lead states and
        times) let the sentences say when the latest action was; without them they say
        only how many in the widest window."""
        X = self._matrix(X)
        pts, _ = self.points(X)
        rs = reasons_for(self.config)
        latest = None if states is None or ats is None else latest_days(states, ats)
        out: list[list[Factor]] = []
        for r in range(len(X)):
            gp = rs.points(pts[r:r + 1])[0]
            order = np.argsort(-np.abs(gp), kind="stable")[:top_k]
            row = X[r].tolist()
            lr = None if latest is None else latest[r].tolist()
            out.append([Factor(rs.names[g], round(float(gp[g]), 1), rs.sentence(g, row, lr))
                        for g in order if gp[g] != 0.0])
        return out
