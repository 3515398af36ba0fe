"""Map the booster's raw log-odds to calibrated probabilities, right across the range.

The score is a promise ("80" = four in five such leads convert), and the leads that matter
most are the few at the top, so the method must not flatten the top. Candidates:

- platt: a logistic fit on the raw score (two parameters). Smooth and robust, but a single
  slope: when the booster's log-odds are not linear in the truth it compresses the top.
- beta: logit p = a*ln(s) - b*ln(1-s) + c with s = sigmoid(raw) (Kull et al. 2017); three
  parameters, each tail gets its own slope.
- spline: logit p linear in the raw score between knots placed at quantiles of the raw score
  of the positives (so the knots sit where conversions happen, most of them high); Platt is
  the no-knot case. Fitted by lightly penalised logistic regression, monotone by
  construction (a knot whose segment would slope down is dropped and the fit repeated).
- isotonic: monotone steps on bins that each hold at least `min_class` conversions and
  `min_class` non-conversions, interpolated in log-odds. Bins sized by both classes keep
  every knot an honest rate without averaging the top few hundred leads into the rows below.

Choice, on held-out data: 5-fold cross-validation inside the calibration fold gives each
method's out-of-fold probabilities; the folds are drawn by lead (all of a lead's rows in one
fold), because rows of one lead are strongly correlated: drawn row by row, isotonic's many
knots were fitted on the held-out rows' own leads, won on CV log-loss, and then missed the
mid bands of fresh leads by 0.15-0.17 (journey, 15,000 leads) where the spline, chosen by
the same rule with folds by lead, missed by 0.07-0.11 and had the lower log-loss on them.
A method is admissible when every 10-point score band (0-9 ... 90-100) with at least 20 rows
passes the issue's target rule on its out-of-fold probabilities (`band_errors`): within 0.05
of its observed rate, or its 95% interval over leads is wider than 0.1 and reaches that
window. Among admissible methods the lowest log-loss (a proper score, probabilities clipped
at 1e-6 so isotonic plateaus at 0 or 1 stay finite) wins; if none is admissible, the lowest
log-loss wins too (the bands could not tell them apart, and the proper score can). WHY the
bands over leads and the whole range: the check before (Warm and Hot only, tolerance of two
binomial standard errors over rows) was too tight for rows that share a lead's fate, failed
every method on some band by a few thousandths, and its fallback (the smallest band error,
since replaced) picked beta on held-out intent leads where the spline was better on fresh
leads (worst band 0.054 / 0.047 at events / uniform against 0.033 / 0.031); and mid bands
miss as much as the top ones. The winner is refitted on all the calibration rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

METHODS = ("platt", "beta", "spline", "isotonic")
EPS = 1e-6


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, EPS, 1 - EPS)
    return np.log(p / (1 - p))


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -700, 700)))


def _softplus(z: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, z)


@dataclass
class Calibrator:
    method: str  # one of METHODS
    a: float = 1.0  # platt: p = sigmoid(a * raw + b); beta: see module doc (c in `b`)
    b: float = 0.0
    x: tuple[float, ...] = ()  # isotonic knots (raw -> probability); spline knots (raw)
    y: tuple[float, ...] = ()  # isotonic probabilities; spline slope changes at the knots
    c: float = 0.0  # beta: coefficient of -ln(1-s)

    def __call__(self, raw: np.ndarray) -> np.ndarray:
        raw = np.asarray(raw, dtype=np.float64)
        if self.method == "platt":
            return _sigmoid(self.a * raw + self.b)
        if self.method == "beta":
            # ln s = -softplus(-raw); ln(1 - s) = -softplus(raw)
            return _sigmoid(-self.a * _softplus(-raw) + self.c * _softplus(raw) + self.b)
        if self.method == "spline":
            z = self.a * raw + self.b
            for k, d in zip(self.x, self.y, strict=True):
                z = z + d * np.maximum(raw - k, 0.0)
            return _sigmoid(z)
        # isotonic: interpolate in log-odds between knots, flat beyond the end knots
        return _sigmoid(np.interp(raw, np.asarray(self.x), _logit(np.asarray(self.y))))

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "a": self.a, "b": self.b, "c": self.c,
                "x": list(self.x), "y": list(self.y)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Calibrator:
        if d["method"] not in METHODS:
            raise ValueError(f"unknown calibrator {d['method']!r}")
        return cls(d["method"], float(d["a"]), float(d["b"]), tuple(d["x"]), tuple(d["y"]),
                   float(d.get("c", 0.0)))


def _logistic(cols: np.ndarray, y: np.ndarray, c: float = 1e4) -> tuple[np.ndarray, float]:
    from sklearn.linear_model import LogisticRegression  # fitting only: the worker has no sklearn

    lr = LogisticRegression(C=c, max_iter=2000)
    lr.fit(cols, y)
    return lr.coef_[0].astype(np.float64), float(lr.intercept_[0])


def fit_platt(raw: np.ndarray, y: np.ndarray) -> Calibrator:
    coef, icpt = _logistic(raw.reshape(-1, 1), y, 1e6)
    return Calibrator("platt", a=float(coef[0]), b=icpt)


def fit_beta(raw: np.ndarray, y: np.ndarray) -> Calibrator:
    cols = np.column_stack([-_softplus(-raw), _softplus(raw)])
    coef, icpt = _logistic(cols, y, 1e6)
    a, c = float(coef[0]), float(coef[1])
    if a < 0 or c < 0:  # a negative tail slope would not be monotone: fall back to Platt
        return fit_platt(raw, y)
    return Calibrator("beta", a=a, b=icpt, c=c)


def fit_spline(raw: np.ndarray, y: np.ndarray, knots: int = 5, min_pos: int = 30
               ) -> Calibrator:
    """Linear spline in log-odds; knots at quantiles of the positives' raw scores, spaced
    so that at least `min_pos` positives lie above each knot."""
    pos = np.sort(raw[y == 1])
    n_knots = int(min(knots, len(pos) // min_pos - 1))
    ks: list[float] = []
    if n_knots > 0:
        qs = np.linspace(0, 1, n_knots + 2)[1:-1]
        ks = sorted(set(np.quantile(pos, qs).round(6).tolist()))
    scale = float(raw.std()) or 1.0
    while True:
        cols = np.column_stack([raw] + [np.maximum(raw - k, 0.0) for k in ks]) / scale
        coef, icpt = _logistic(cols, y)
        coef = coef / scale
        slopes = np.cumsum(coef)
        if np.all(slopes > 0) or not ks:
            break
        ks.pop(int(np.argmin(slopes[1:])))  # drop the knot whose segment turns down
    if not ks or slopes[0] <= 0:
        return fit_platt(raw, y)
    return Calibrator("spline", a=float(coef[0]), b=icpt, x=tuple(ks),
                      y=tuple(float(v) for v in coef[1:]))


def fit_isotonic(raw: np.ndarray, y: np.ndarray, min_class: int = 25, min_bin: int = 50
                 ) -> Calibrator:
    """Isotonic regression on bins of consecutive raw scores, each closed once it holds
    `min_class` positives and `min_class` negatives (and `min_bin` rows); a short last bin
    joins its neighbour. WHY: plain isotonic puts a plateau at exactly 1.0 (or 0.0) over
    the handful of highest-scored rows when they happen to be positives, promising a 100%
    Hot lead on a sample of three; fixed-size bins of a few hundred rows instead average the
    top with the rows below it. Bins sized by both classes avoid both."""
    order = np.argsort(raw, kind="stable")
    ys = y[order]
    bins: list[tuple[int, int]] = []
    start = npos = 0
    for i in range(len(ys)):
        npos += int(ys[i])
        n = i + 1 - start
        if npos >= min_class and n - npos >= min_class and n >= min_bin:
            bins.append((start, i + 1))
            start, npos = i + 1, 0
    if start < len(ys):
        if bins:
            bins[-1] = (bins[-1][0], len(ys))
        else:
            bins.append((start, len(ys)))
    rs = raw[order]
    bx = np.array([rs[a:b].mean() for a, b in bins])
    by = np.array([ys[a:b].mean() for a, b in bins])
    bw = np.array([b - a for a, b in bins], dtype=np.float64)
    from sklearn.isotonic import IsotonicRegression  # fitting only: the worker has no sklearn

    iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0)
    fy = iso.fit_transform(bx, by, sample_weight=bw)
    return Calibrator("isotonic", x=tuple(float(v) for v in bx), y=tuple(float(v) for v in fy))


FITTERS: dict[str, Callable[[np.ndarray, np.ndarray], Calibrator]] = {
    "platt": fit_platt, "beta": fit_beta, "spline": fit_spline, "isotonic": fit_isotonic}


def band_errors(p: np.ndarray, y: np.ndarray, lo: int = 0, min_rows: int = 20,
                groups: np.ndarray | None = None) -> list[dict[str, float]]:
    """Per 10-point score band from `lo` up with at least `min_rows` rows: rows, mean
    predicted, observed, and the excess of |predicted - observed| over the tolerance.

    The tolerance is the target's (models.metrics.band_target): 0.05, or, where the band's
    95% interval is wider than 0.1, whatever keeps the window predicted +- 0.05 inside the
    interval's reach. The interval is a bootstrap over leads with `groups` (a lead's rows
    share its fate), else two binomial standard errors over rows. WHY leads: with row-based
    errors a calibration fold of 7,500 leads failed every method on some band by a few
    thousandths, by chance, and the check then told nothing."""
    from models.metrics import lead_intervals  # scikit-learn free, but keep imports local

    score = np.rint(100 * p)
    if groups is not None and len(y):
        ilo, ihi = lead_intervals(score, y, groups, reps=200)
    out = []
    for b in range(lo, 100, 10):
        m = (score >= b) & (score < (b + 10 if b < 90 else 101))
        n = int(m.sum())
        if n < min_rows:
            continue
        pm, ob = float(p[m].mean()), float(y[m].mean())
        err = abs(pm - ob)
        if groups is not None:
            lo_i, hi_i = float(ilo[b // 10]), float(ihi[b // 10])
        else:
            se = 2 * np.sqrt(max(pm * (1 - pm), 1e-4) / n)
            lo_i, hi_i = ob - se, ob + se
        excess = max(0.0, err - 0.05)
        if excess > 0 and hi_i - lo_i > 0.1:  # a wide interval: does it reach the window?
            excess = max(0.0, lo_i - (pm + 0.05), (pm - 0.05) - hi_i)
        out.append({"band": b, "rows": n, "predicted": pm, "observed": ob,
                    "excess": float(excess)})
    return out


def log_loss(p: np.ndarray, y: np.ndarray) -> float:
    p = np.clip(p, EPS, 1 - EPS)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def fold_of_rows(n: int, folds: int, seed: int, groups: np.ndarray | None = None
                 ) -> np.ndarray:
    """Cross-validation fold of each row; with `groups` (a lead per row) every lead's rows
    share one fold. WHY: a lead gives many correlated rows (one a week, one per active day);
    split row by row, a flexible method sees the held-out rows' own lead in its fit and its
    held-out score flatters it, as fresh leads later show."""
    rng = np.random.default_rng(seed)
    if groups is None:
        return rng.integers(0, folds, n)
    uniq, inv = np.unique(groups, return_inverse=True)
    return rng.integers(0, folds, len(uniq))[inv]


def pick(ms: dict[str, dict[str, Any]]) -> tuple[str, str]:
    """The rule of the module docstring over the methods' CV figures: (method, why)."""
    admissible = [n for n in ms if ms[n]["band_excess"] == 0.0]
    if admissible:
        return (min(admissible, key=lambda n: ms[n]["log_loss"]),
                "lowest CV log-loss among methods whose score bands are reliable")
    return (min(ms, key=lambda n: ms[n]["log_loss"]),
            "no method had reliable score bands: lowest CV log-loss")


def choose(raw: np.ndarray, y: np.ndarray, folds: int = 5, seed: int = 0,
           method: str = "auto", groups: np.ndarray | None = None
           ) -> tuple[Calibrator, dict[str, Any]]:
    """Pick (or, with `method`, just fit) the calibrator; returns it and the CV report.
    `groups` (the lead of each row) keeps a lead's rows in one fold."""
    if method != "auto":
        return FITTERS[method](raw, y), {"chosen": method, "by": "configured"}
    fold_of = fold_of_rows(len(y), folds, seed, groups)
    report: dict[str, Any] = {"methods": {}}
    for name, fit in FITTERS.items():
        oof = np.full(len(y), np.nan)
        for k in range(folds):
            tr, te = fold_of != k, fold_of == k
            if y[tr].min() == y[tr].max() or not te.any():
                continue
            oof[te] = fit(raw[tr], y[tr])(raw[te])
        ok = ~np.isnan(oof)
        bands = band_errors(oof[ok], y[ok], groups=None if groups is None else groups[ok])
        report["methods"][name] = {
            "log_loss": log_loss(oof[ok], y[ok]),
            "brier": float(np.mean((oof[ok] - y[ok]) ** 2)),
            "band_excess": max((b["excess"] for b in bands), default=0.0),
            "bands": bands,
        }
    best, report["by"] = pick(report["methods"])
    report["chosen"] = best
    return FITTERS[best](raw, y), report
