"""The business case of the score: how long deals take by tier, and what working the model's
top 20% instead of the old rules score's top 20% is worth.

Per population of labelled snapshots (models/snapshots.py):

- **Sales cycle by tier**: for the rows that converted within the label window, the days
  from the lead's first touch to its conversion, grouped by the tier of the row's score:
  conversions, mean (with its 95% interval), median and quartiles.
- **Business case**: conversion within the label window among the top 20% of rows by the
  model and by the old rules score (models/rules.py; ties at the cut shared pro rata, as
  :func:`models.metrics.top_fraction_rate`), the ratio, the difference as extra conversions
  per 1,000 leads worked, the mean deal value of the conversions (in their most common
  currency), and incremental revenue per 1,000 leads worked = extra conversions x that deal
  value. "Leads worked" are rows of the population: at uniform times a lead on an ordinary
  day (a weekly call list), at significant events a lead right after one.

WHY a cluster bootstrap by lead for the intervals: one lead gives several rows (a uniform
snapshot a week, one per active day at events) and they are correlated, so intervals from
resampling rows (or Wilson on rows) would be too narrow. Every figure here is a ratio of
per-lead sums, so one (replicates x leads) matrix of Poisson(1) weights times the per-lead
sums gives every figure in every replicate at once (the Poisson bootstrap; 1,000 replicates,
a fixed seed, so the report is reproducible). Revenue is computed per replicate from both
its factors, so its interval carries the uncertainty of the deal value too.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from models.metrics import TIER_NAMES, tiers
from models.state import DAY

REPLICATES = 1000
SEED = 20260301
PER = 1000  # "per 1,000 leads worked"


def top_weights(score: np.ndarray, frac: float = 0.2) -> np.ndarray:
    """Per row, how much of it is in the top `frac` by score: 1 above the cut, a share of
    the tied rows at the cut (pro rata), 0 below. Sums to frac x rows; the conversion of
    the top is sum(w * y) / sum(w), exactly :func:`models.metrics.top_fraction_rate`."""
    s = np.asarray(score, dtype=np.float64)
    n = len(s)
    k = frac * n
    w = np.zeros(n)
    if n == 0 or k <= 0:
        return w
    cut = s[np.argsort(-s, kind="stable")[int(np.ceil(k)) - 1]]
    above, at = s > cut, s == cut
    w[above] = 1.0
    w[at] = (k - above.sum()) / at.sum()
    return w


def _per_lead(lead: np.ndarray, cols: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(lead index per row into the compact lead list, (leads, columns) sums)."""
    uniq, inv = np.unique(lead, return_inverse=True)
    sums = np.zeros((len(uniq), len(cols)))
    for j, c in enumerate(cols):
        np.add.at(sums[:, j], inv, np.asarray(c, dtype=np.float64))
    return inv, sums


def _replicates(sums: np.ndarray, reps: int = REPLICATES, seed: int = SEED) -> np.ndarray:
    """(reps, columns): the per-lead sums reweighted by Poisson(1) draws per lead."""
    rng = np.random.default_rng(seed)
    out = np.empty((reps, sums.shape[1]))
    step = max(1, 4_000_000 // max(1, len(sums)))  # bounded memory: ~32 MB of weights
    for i in range(0, reps, step):
        n = min(step, reps - i)
        out[i:i + n] = rng.poisson(1.0, size=(n, len(sums))).astype(np.float64) @ sums
    return out


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    return np.divide(num, den, out=np.full(np.shape(num), np.nan), where=den > 0)


def _interval(samples: np.ndarray) -> list[float] | None:
    ok = samples[np.isfinite(samples)]
    if len(ok) < 0.9 * len(samples) or not len(ok):
        return None
    lo, hi = np.percentile(ok, [2.5, 97.5])
    return [float(lo), float(hi)]


def _figure(value: float, samples: np.ndarray) -> dict[str, Any]:
    return {"value": float(value) if np.isfinite(value) else None,
            "ci": _interval(samples) if np.isfinite(value) else None}


def sales_cycle(score: np.ndarray, y: np.ndarray, cycle_days: np.ndarray, lead: np.ndarray,
                hot: int, warm: int) -> dict[str, Any]:
    """Per tier of the row's score, the converted rows' days from first touch to conversion."""
    conv = (np.asarray(y) == 1) & np.isfinite(cycle_days)
    tier = tiers(np.asarray(score), hot, warm)
    cols = []
    for t in TIER_NAMES:
        m = conv & (tier == t)
        cols += [np.where(m, cycle_days, 0.0), m.astype(np.float64)]
    sums = _per_lead(lead, cols)[1] if len(lead) else np.zeros((0, len(cols)))
    boot = _replicates(sums) if len(sums) else np.full((REPLICATES, len(cols)), np.nan)
    out: dict[str, Any] = {}
    for i, t in enumerate(TIER_NAMES):
        m = conv & (tier == t)
        d = cycle_days[m]
        n = int(m.sum())
        mean = float(d.mean()) if n else float("nan")
        q1, med, q3 = (np.percentile(d, [25, 50, 75]).tolist() if n
                       else [None, None, None])
        out[t] = {"conversions": n, "mean_days": _figure(mean, _ratio(boot[:, 2 * i],
                                                                       boot[:, 2 * i + 1])),
                  "median_days": med, "quartiles": [q1, q3] if n else None}
    return out


def business_case(model: np.ndarray, rules: np.ndarray, y: np.ndarray, value: np.ndarray,
                  currency: Sequence[str | None], lead: np.ndarray, frac: float = 0.2
                  ) -> dict[str, Any]:
    """Top-`frac` conversion, model against the old rules score, and what the difference is
    worth (see the module doc). `model`/`rules` rank the rows; `value` is the deal value of
    each converted row (NaN otherwise)."""
    yf = np.asarray(y, dtype=np.float64)
    wm, wr = top_weights(model, frac), top_weights(rules, frac)
    conv = yf == 1
    cur = Counter(c for c, k in zip(currency, conv, strict=True) if k and c)
    main = cur.most_common(1)[0][0] if cur else None
    priced = conv & np.isfinite(value) & np.array([c == main for c in currency], dtype=bool)
    cols = [wm * yf, wm, wr * yf, wr, np.where(priced, value, 0.0), priced.astype(float)]
    if len(yf) == 0:
        return {"fraction": frac, "rows": 0}
    _, sums = _per_lead(lead, cols)
    tot = sums.sum(axis=0)
    boot = _replicates(sums)
    rm, rr = _ratio(boot[:, 0], boot[:, 1]), _ratio(boot[:, 2], boot[:, 3])
    deal = _ratio(boot[:, 4], boot[:, 5])
    pm, pr = tot[0] / tot[1], tot[2] / tot[3]
    deal_v = tot[4] / tot[5] if tot[5] > 0 else float("nan")
    return {
        "fraction": frac, "rows": int(len(yf)), "leads": int(len(sums)),
        "replicates": REPLICATES,
        "model": _figure(pm, rm), "rules": _figure(pr, rr),
        "lift": _figure(pm / pr if pr > 0 else float("nan"), _ratio(rm, rr)),
        "extra_per_1000": _figure(PER * (pm - pr), PER * (rm - rr)),
        "deal_value": {**_figure(deal_v, deal), "currency": main,
                       "converted_rows": int(tot[5])},
        "revenue_per_1000": _figure(PER * (pm - pr) * deal_v, PER * (rm - rr) * deal),
    }


def cycle_days(X: np.ndarray, names: Sequence[str], at: np.ndarray,
               converted_at: np.ndarray) -> np.ndarray:
    """Days from each row's first touch (its state's, at the snapshot) to its conversion
    (NaN where the row did not convert within the window)."""
    first = np.asarray(X[:, list(names).index("days_since_first_touch")], dtype=np.float64)
    return first + (np.asarray(converted_at) - np.asarray(at)) / DAY


def summary_lines(pm: dict[str, Any]) -> list[str]:
    """The two figures as `leadscore evaluate` prints them."""
    lines = []
    sc = pm.get("sales_cycle")
    if sc:
        parts = []
        for t in TIER_NAMES:
            s = sc[t]
            if not s["conversions"]:
                parts.append(f"{t} no conversions")
                continue
            mean = s["mean_days"]
            parts.append(f"{t} {s['conversions']:,} conversions, mean {mean['value']:.1f} days"
                         + _ci_text(mean["ci"], "{:.1f}") + f", median {s['median_days']:.0f}"
                         f" (IQR {s['quartiles'][0]:.0f}-{s['quartiles'][1]:.0f})")
        lines.append("sales cycle (first touch -> conversion): " + "; ".join(parts))
    bc = pm.get("business_case")
    if bc and bc.get("rows"):
        m, r, lift = bc["model"], bc["rules"], bc["lift"]
        lines.append(f"business case, top {bc['fraction']:.0%}: model {_v(m, '{:.4f}')}, "
                     f"old rules {_v(r, '{:.4f}')}, ratio {_v(lift, '{:.2f}x')}")
        d, rev, ex = bc["deal_value"], bc["revenue_per_1000"], bc["extra_per_1000"]
        cur = f" {d['currency']}" if d.get("currency") else ""
        lines.append(f"  per 1,000 leads worked: {_v(ex, '{:+,.1f}')} conversions x mean deal "
                     f"{_v(d, '{:,.0f}')}{cur} ({d['converted_rows']:,} converted rows) = "
                     f"{_v(rev, '{:+,.0f}')}{cur} incremental revenue "
                     f"(95% intervals: bootstrap over {bc['leads']:,} leads)")
    return lines


def _ci_text(ci: list[float] | None, fmt: str) -> str:
    return f" [{fmt.format(ci[0])}, {fmt.format(ci[1])}]" if ci else ""


def _v(fig: dict[str, Any], fmt: str) -> str:
    if fig.get("value") is None:
        return "n/a"
    return fmt.format(fig["value"]) + _ci_text(fig.get("ci"), fmt)
