"""Feature vectors and explanations of many leads at once: the scorer's fast path.

:func:`models.features.features` (one lead, one row) stays the reference: training, replay
and lookups use it, and tests/unit/test_models_columns.py checks that every row built here is
bit-for-bit the row it returns. Here the same arithmetic runs once per column over the whole
micro-batch: the windowed counts of every lead's daily buckets in one masked sum, the other
columns as numpy expressions over arrays of the leads' timestamps and totals. Only the few
things that are not plain arithmetic stay per lead: the decay factors (``2 ** x`` from
Python's math, as the reference computes them) and the profile's category codes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from models.features import (
    DEFAULT_FEATURE_CONFIG,
    DEPARTMENTS,
    ENGAGED,
    FUNDING_ROUNDS,
    INTENT,
    REVENUE_BANDS,
    SENIORITY,
    FeatureConfig,
    _code,
    _window_bounds,
    features,
)
from models.reasons import latest_days, reasons_for
from models.scoring import Scorer
from models.state import CH, CHANNELS, DAY, DECAY_GROUPS, MISC, TS, LeadState

# Below this many leads the per-lead reference is cheaper than numpy's per-call overhead
# (measured: 1 lead 30 us vs 200 us; even at about 10). Not used with the C code.
FEW = 10

native: Any
try:  # every column but the profile's in C (models/_columns.c), built where it can be
    from models import _columns as native
except ImportError:  # no C compiler at install: the numpy code below, the same numbers
    native = None

M = {name: i for i, name in enumerate(MISC)}
T = {name: i for i, name in enumerate(TS)}
_NAN = np.nan


def feature_rows(states: Sequence[LeadState], ats: Sequence[float],
                 config: FeatureConfig | None = None) -> np.ndarray:
    """``np.vstack([features(s, at, config) for s, at in zip(states, ats)])``, faster."""
    cfg = config or DEFAULT_FEATURE_CONFIG
    n, nk = len(states), len(CHANNELS)
    nw = len(cfg.windows_days)
    if native is not None and n > 0:
        out = np.empty((n, len(cfg.specs)), dtype=np.float64)
        native.rows(states, np.ascontiguousarray(ats, dtype=np.float64), out,
                    _native_spec(cfg))
        return out
    if 0 < n < FEW:
        return np.vstack([features(s, at, cfg) for s, at in zip(states, ats, strict=True)])
    out = np.empty((n, len(cfg.specs)), dtype=np.float64)
    if n == 0:
        return out
    at = np.asarray(ats, dtype=np.float64)
    totals = np.array([s.totals for s in states], dtype=np.float64)
    ts = np.array([s.ts for s in states], dtype=np.float64)
    misc = np.array([s.misc for s in states], dtype=np.float64)

    # Windowed counts: every bucket of every lead, masked by its age in each window.
    windows = _window_sums(states, at, cfg, nk)  # (n, nw + 2, nk)
    col = 0
    out[:, :nw * nk] = windows[:, :nw, :].reshape(n, nw * nk)
    col = nw * nk
    out[:, col:col + nk] = totals
    col += nk
    this_w, prior = windows[:, nw, :], windows[:, nw + 1, :]

    # Decayed sums brought forward to `at` (per lead: Python's 2 ** x, as the reference).
    nh = len(cfg.half_lives_days)
    decayed = []
    for s, a in zip(states, ats, strict=True):
        if s.half_lives != cfg.half_lives_days:
            raise ValueError("state half-lives differ from the feature config's")
        ref = s.decay_ref
        row = s.decay
        if ref == ref and a > ref:
            factors = [2.0 ** (-(a - ref) / DAY / h) for h in s.half_lives]
            row = [v * factors[i % nh] for i, v in enumerate(row)]
        decayed.append(row)
    nd = len(DECAY_GROUPS) * nh
    out[:, col:col + nd] = np.array(decayed, dtype=np.float64)
    col += nd

    def days(t: np.ndarray) -> np.ndarray:  # _days: NaN stays NaN, never negative
        return np.where(t != t, _NAN, np.maximum(0.0, (at - t) / DAY))

    def gap(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.where((a != a) | (b != b), _NAN, (b - a) / DAY)

    def rate(num: np.ndarray, den: np.ndarray) -> np.ndarray:  # _rate: NaN unless den > 0
        return np.divide(num, den, out=np.full(n, _NAN), where=den > 0)

    eng_now = this_w[:, ENGAGED].sum(axis=1)
    eng_prior = prior[:, ENGAGED].sum(axis=1)
    int_now = this_w[:, INTENT].sum(axis=1)
    int_prior = prior[:, INTENT].sum(axis=1)
    first_case, last_pricing = ts[:, T["first_case"]], ts[:, T["last_pricing"]]
    first_pricing, last_demo = ts[:, T["first_pricing"]], ts[:, T["last_demo"]]
    has_case = first_case == first_case
    stage2 = has_case & (last_pricing == last_pricing) & (last_pricing >= first_case)
    stage3 = stage2 & (last_demo == last_demo) & (last_demo >= first_pricing) & (
        last_demo >= first_case)
    stage = np.where(stage3, 3.0, np.where(stage2, 2.0, np.where(has_case, 1.0, 0.0)))
    delivered = misc[:, M["delivered"]]
    opens = totals[:, CH["email_open"]]
    clicks = totals[:, CH["email_click"]]
    signup = ts[:, T["signup"]]
    first = ts[:, T["first"]]
    engaged_total = totals[:, ENGAGED].sum(axis=1)
    per_week = np.where(first != first, 0.0,
                        engaged_total / np.maximum(1.0, (at - first) / (7 * DAY)))
    cols = [
        days(last_pricing), days(ts[:, T["last_email_click"]]), days(ts[:, T["last_login"]]),
        days(last_demo), days(ts[:, T["last"]]), days(first),
        eng_now, eng_prior,
        (eng_now + 1.0) / (eng_prior / 3.0 + 1.0),
        (int_now + 1.0) / (int_prior / 3.0 + 1.0),
        stage,
        gap(first, ts[:, T["first_demo"]]),
        gap(signup, ts[:, T["first_integration"]]),
        gap(signup, first_pricing),
        days(signup), days(ts[:, T["trial_started"]]),
        delivered,
        rate(opens, delivered), rate(clicks, delivered), rate(clicks, opens),
        misc[:, M["bounce_hard"]], misc[:, M["unsubscribed"]],
        np.array([float(len(s.features)) for s in states]),
        np.array([float(len(s.integrations)) for s in states]),
        misc[:, M["teammates"]], misc[:, M["tickets"]],
        rate(misc[:, M["session_seconds"]] / 60.0, misc[:, M["sessions_ended"]]),
        days(ts[:, T["lost"]]),
        rate(totals[:, CH["pricing_view"]], totals[:, CH["page_view"]]),
        rate(totals[:, CH["page_view"]], totals[:, CH["session"]]),
        per_week,
    ]
    for c in cols:
        out[:, col] = c
        col += 1
    out[:, col:] = [_profile_row(s, a, cfg) for s, a in zip(states, ats, strict=True)]
    return out


@lru_cache(maxsize=16)
def _native_spec(cfg: FeatureConfig) -> tuple[Any, ...]:
    """What models/_columns.c needs to know of the configuration and the state's layout."""
    lo, hi = _window_bounds(cfg.windows_days)
    return (tuple(int(x) for x in lo.ravel()), tuple(int(x) for x in hi.ravel()),
            len(CHANNELS), tuple(ENGAGED), tuple(INTENT), tuple(cfg.half_lives_days),
            len(DECAY_GROUPS), tuple(T[k] for k in _NATIVE_TS), tuple(M[k] for k in _NATIVE_MISC),
            tuple(CH[k] for k in _NATIVE_CHANNELS), len(TS), len(MISC), len(cfg.specs),
            _NATIVE_PROFILE, tuple((_codes(vocab, offset), math.nan if not other else
                                    float(len(vocab) + offset))
                                   for vocab, offset, other in (
                                       (REVENUE_BANDS, 1, False), (SENIORITY, 1, False),
                                       (DEPARTMENTS, 0, False), (cfg.industries, 0, True),
                                       (cfg.countries, 0, True), (FUNDING_ROUNDS, 1, True))))


def _codes(vocab: Sequence[str], offset: int) -> dict[str, float]:
    """label -> its code, as ``_code`` computes it (``list.index``: the first one)."""
    out: dict[str, float] = {}
    for i, label in enumerate(vocab):
        out.setdefault(label, float(i + offset))
    return out


# The order models/_columns.c reads them in.
_NATIVE_TS = ("first_case", "last_pricing", "first_pricing", "last_demo", "last_email_click",
              "last_login", "last", "first", "first_demo", "signup", "first_integration",
              "trial_started", "lost")
_NATIVE_MISC = ("delivered", "bounce_hard", "unsubscribed", "teammates", "tickets",
                "session_seconds", "sessions_ended")
_NATIVE_CHANNELS = ("email_open", "email_click", "pricing_view", "page_view", "session")
# The profile's columns, in _profile_row's order (the six between the first and last coded).
_NATIVE_PROFILE = ("employee_count", "revenue_band", "seniority", "department", "industry",
                   "country", "funding_round", "funding_date")


def _window_sums(states: Sequence[LeadState], at: np.ndarray, cfg: FeatureConfig,
                 nk: int) -> np.ndarray:
    """(leads, windows + this week + the 3 weeks before, channels) counts."""
    n = len(states)
    lo, hi = _window_bounds(cfg.windows_days)  # (nw + 2, 1) each
    nwin = lo.shape[0]
    sizes = [len(s.buckets) for s in states]
    total = sum(sizes)
    out = np.zeros((n, nwin, nk), dtype=np.float64)
    if total == 0:
        return out
    days = np.fromiter((d for s in states for d in s.buckets), dtype=np.int64, count=total)
    counts = np.array([b for s in states for b in s.buckets.values()], dtype=np.float64)
    owner = np.repeat(np.arange(n), sizes)
    ages = (at // DAY).astype(np.int64)[owner] - days
    inside = (ages[None, :] >= lo) & (ages[None, :] < hi)  # (nwin, buckets)
    for w in range(nwin):
        sel = inside[w]
        if sel.any():
            np.add.at(out[:, w, :], owner[sel], counts[sel])
    return out


def _profile_row(state: LeadState, at: float, cfg: FeatureConfig) -> list[float]:
    prof = state.profile

    def pv(k: str) -> object:
        x = prof.get(k)
        return None if x is None else x[0]

    emp = pv("employee_count")
    fdate = pv("funding_date")
    return [
        _NAN if emp is None else float(emp),  # type: ignore[arg-type]
        _code(pv("revenue_band"), REVENUE_BANDS, 1, other=False),
        _code(pv("seniority"), SENIORITY, 1, other=False),
        _code(pv("department"), DEPARTMENTS, 0, other=False),
        _code(pv("industry"), cfg.industries),
        _code(pv("country"), cfg.countries),
        _code(pv("funding_round"), FUNDING_ROUNDS, 1),
        _NAN if fdate is None else max(0.0, at / DAY - (float(fdate) - 719163)),  # type: ignore[arg-type]
    ]


def top_factors(scorer: Scorer, X: np.ndarray, top_k: int = 3,
                states: Sequence[LeadState] | None = None, ats: Sequence[float] | None = None
                ) -> list[list[tuple[str, float, str]]]:
    """``Scorer.explain`` for a batch, as (reason, points, sentence) per factor: the same
    TreeSHAP points (one ``pred_contrib`` call), summed per reason by one matrix product and
    ordered per row by one stable argsort of the whole matrix instead of one per row.
    Tested against ``Scorer.explain``."""
    X = scorer._matrix(X)
    if len(X) == 0:
        return []
    pts, _ = scorer.points(X)
    rs = reasons_for(scorer.config)
    gp = rs.points(pts)
    order = np.argsort(-np.abs(gp), axis=1, kind="stable")[:, :top_k]
    latest = None if states is None or ats is None else latest_days(states, ats).tolist()
    rows = X.tolist()
    names = rs.names
    out: list[list[tuple[str, float, str]]] = []
    for r, row in enumerate(order.tolist()):
        p = gp[r].tolist()
        shown = [g for g in row if p[g] != 0.0]
        said = rs.sentences(shown, rows[r], None if latest is None else latest[r])
        out.append([(names[g], round(p[g], 1), s) for g, s in zip(shown, said, strict=True)])
    return out
