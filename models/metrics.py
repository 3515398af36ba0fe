"""Evaluation figures shared by `train` and `evaluate`.

ECE uses 15 equal-mass bins (quantiles of the predicted probability): with a base rate of a
few percent, equal-width bins would put almost every lead in the first bin and hide the
error; equal-mass bins weight every region of the score by how many leads it holds.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

TIER_NAMES = ("hot", "warm", "cold")


def tiers(score: np.ndarray, hot: int = 80, warm: int = 50) -> np.ndarray:
    return np.where(score >= hot, "hot", np.where(score >= warm, "warm", "cold"))


def _bins(p: np.ndarray, bins: int) -> list[np.ndarray]:
    """Equal-mass bins by quantile edges; tied predictions always share a bin."""
    edges = np.unique(np.quantile(p, np.linspace(0, 1, bins + 1))[1:-1])
    idx = np.searchsorted(edges, p, side="right")
    return [np.flatnonzero(idx == k) for k in range(len(edges) + 1)]


def ece(p: np.ndarray, y: np.ndarray, bins: int = 15) -> float:
    if len(y) == 0:
        return float("nan")
    err = 0.0
    for idx in _bins(p, bins):
        if len(idx):
            err += abs(float(p[idx].mean()) - float(y[idx].mean())) * len(idx)
    return err / len(y)


def reliability(p: np.ndarray, y: np.ndarray, bins: int = 15) -> list[tuple[float, float, int]]:
    if len(y) == 0:
        return []
    return [(float(p[i].mean()), float(y[i].mean()), len(i)) for i in _bins(p, bins) if len(i)]


def top_fraction_rate(score: np.ndarray, y: np.ndarray, frac: float = 0.2) -> float:
    """Conversion rate among the top `frac` by score; ties at the cut are shared pro rata
    (the expected rate under random tie-breaking), so a coarse rules score is not flattered
    or punished by the order rows happen to be in."""
    n = len(y)
    k = frac * n
    if n == 0 or k <= 0:
        return float("nan")
    s = np.asarray(score, dtype=np.float64)
    order = np.argsort(-s, kind="stable")
    cut = s[order[int(np.ceil(k)) - 1]]
    above = s > cut
    at = s == cut
    n_above = int(above.sum())
    take = k - n_above
    conv = float(y[above].sum()) + take * float(y[at].mean() if at.any() else 0.0)
    return conv / k


def gain_curve(score: np.ndarray, y: np.ndarray, points: int = 50) -> list[tuple[float, float]]:
    """(fraction of leads contacted, fraction of conversions captured), best first."""
    order = np.argsort(-np.asarray(score, dtype=np.float64), kind="stable")
    cy = np.cumsum(y[order])
    tot = max(1.0, float(cy[-1])) if len(cy) else 1.0
    out = [(0.0, 0.0)]
    for q in np.linspace(0, 1, points + 1)[1:]:
        i = max(0, int(round(q * len(y))) - 1)
        out.append((float(q), float(cy[i]) / tot if len(cy) else 0.0))
    return out


def summarise(p: np.ndarray, y: np.ndarray, score: np.ndarray, rules: np.ndarray,
              hot: int = 80, warm: int = 50) -> dict[str, Any]:
    y = y.astype(np.float64)
    both = len(np.unique(y)) == 2
    tier = tiers(score, hot, warm)
    by_tier = {}
    for t in TIER_NAMES:
        m = tier == t
        by_tier[t] = {"leads": int(m.sum()),
                      "conversion_rate": float(y[m].mean()) if m.any() else None,
                      "mean_probability": float(p[m].mean()) if m.any() else None}
    hot_r, cold_r = by_tier["hot"]["conversion_rate"], by_tier["cold"]["conversion_rate"]
    return {
        "rows": int(len(y)),
        "positives": int(y.sum()),
        "base_rate": float(y.mean()) if len(y) else None,
        "auc": float(roc_auc_score(y, p)) if both else None,
        "pr_auc": float(average_precision_score(y, p)) if both else None,
        "brier": float(np.mean((p - y) ** 2)) if len(y) else None,
        "ece": ece(p, y),
        "mean_probability": float(p.mean()) if len(y) else None,
        "tiers": by_tier,
        "hot_cold_ratio": (hot_r / cold_r) if hot_r is not None and cold_r else None,
        "top20_conversion_model": top_fraction_rate(p, y),
        "top20_conversion_rules": top_fraction_rate(rules, y),
        "rules_auc": float(roc_auc_score(y, rules)) if both else None,
    }
