"""The model's quality measured from outcomes, online (pure: tested without a broker).

Each lead record keeps a bounded score history: one entry per UTC day it was scored (the
day's last probability and the model version), at most ``HISTORY_DAYS`` days. When an outcome
arrives (converted, disqualified, lost on ``leads.outcomes``; a rep's ``converted_outside_crm``
or ``not_a_fit``), it is joined with the probability the lead had ``LOOKBACKS`` days before
(the newest entry at or before that day) and the observations are kept in the record. The
label is the one the model predicts: converted (1) or not (0).

WHY in the record and not in a worker's memory: the table scan (:mod:`.tablescan`) visits
every lead anyway, so the rolling window's figures are recomputed there from the records and
survive restarts and rebalances; a partition moving to another worker takes its observations
with it. Each worker holds a hash-partitioned share of the leads, so its AUC is an estimate on
a random sample; the per-tier counts and probability sums it exports add up across workers,
so Prometheus pools calibration exactly (deploy/prometheus/rules).
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from models.metrics import ece
from streams.core.record import LeadRecord

DAY = 86400
_F32 = struct.Struct("<f")
HISTORY_DAYS = 35  # covers the longest look-back, plus a few days of slack (per version)
LOOKBACKS = (7, 30)
TIERS = ("hot", "warm", "cold")
POSITIVE = "converted"
NEGATIVE = frozenset({"disqualified", "lost"})


def version_bytes(version: str) -> bytes:
    """A version as the 6 bytes the record stores (its 12 hex digits)."""
    try:
        b = bytes.fromhex(version[:12])
    except ValueError:
        b = b""
    return b if len(b) == 6 else hashlib.sha1(version.encode()).digest()[:6]


def remember_score(rec: LeadRecord, at: float, probability: float, version: bytes) -> None:
    """The day's entry of this model version (a later score the same day replaces it; a
    challenger in shadow has entries of its own), oldest dropped beyond ``HISTORY_DAYS``."""
    day = int(at // DAY)
    # As the record format stores it (float32), so a record kept in memory between batches
    # (streams.core.recordcache) holds what one read back from the table would.
    probability = _F32.unpack(_F32.pack(probability))[0]
    hist = rec.history
    i = len(hist) - 1
    while i >= 0 and hist[i][0] == day:
        if hist[i][2] == version:
            hist[i] = (day, probability, version)
            return
        i -= 1
    if hist and day < hist[-1][0]:
        return  # an older day (a late re-score): the history is for look-backs
    hist.append((day, probability, version))
    if len(hist) > 2 * HISTORY_DAYS or hist[0][0] <= day - HISTORY_DAYS:
        rec.history = [h for h in hist if h[0] > day - HISTORY_DAYS][-2 * HISTORY_DAYS:]


def label_of(event_type: str, verdict: str | None = None) -> int | None:
    """1 converted, 0 not, None: not an outcome."""
    if event_type == POSITIVE or (event_type == "rep_feedback"
                                  and verdict == "converted_outside_crm"):
        return 1
    if event_type in NEGATIVE or (event_type == "rep_feedback" and verdict == "not_a_fit"):
        return 0
    return None


def observe_outcome(rec: LeadRecord, at: float, label: int) -> int:
    """Join the outcome with the score ``L`` days before, for each look-back; replaces the
    lead's earlier observations (its latest outcome is the one that counts). Returns how
    many look-backs found a score."""
    day = int(at // DAY)
    out: list[tuple[int, int, float, bytes, int]] = []
    for lb in LOOKBACKS:
        latest: dict[bytes, float] = {}  # per version (champion, challenger): newest first
        for d, p, v in rec.history:
            if d <= day - lb:
                latest[v] = p
        out.extend((lb, label, p, v, day) for v, p in latest.items())
    if out:
        rec.observed = out
    return len(out)


@dataclass
class Window:
    """Observations of one (model version, look-back) in the rolling window."""

    p: list[float] = field(default_factory=list)
    y: list[int] = field(default_factory=list)


@dataclass
class Figures:
    outcomes: int
    conversions: int
    auc: float  # NaN without both labels
    brier: float
    ece: float
    predicted_sum: float
    tiers: dict[str, tuple[int, int, float]]  # tier -> (outcomes, conversions, predicted sum)


@dataclass
class QualityTally:
    """Collects the window's observations during a table scan; :meth:`figures` sums up."""

    now_day: int
    window_days: int
    hot: float = 0.8
    warm: float = 0.5
    windows: dict[tuple[bytes, int], Window] = field(default_factory=dict)

    def add(self, observed: Iterable[tuple[int, int, float, bytes, int]]) -> None:
        oldest = self.now_day - self.window_days
        for lb, label, p, v, day in observed:
            if day <= oldest:
                continue
            w = self.windows.get((v, lb))
            if w is None:
                w = self.windows[(v, lb)] = Window()
            w.p.append(p)
            w.y.append(label)

    def figures(self) -> dict[tuple[bytes, int], Figures]:
        return {k: self._figures(w) for k, w in self.windows.items()}

    def _figures(self, w: Window) -> Figures:
        p = np.asarray(w.p, dtype=np.float64)
        y = np.asarray(w.y, dtype=np.float64)
        n, pos = len(y), int(y.sum())
        auc = _auc(p, y) if 0 < pos < n else float("nan")
        tiers = {}
        tier = np.where(p >= self.hot, 0, np.where(p >= self.warm, 1, 2))
        for i, t in enumerate(TIERS):
            m = tier == i
            tiers[t] = (int(m.sum()), int(y[m].sum()), float(p[m].sum()))
        return Figures(n, pos, auc, float(np.mean((p - y) ** 2)) if n else float("nan"),
                       ece(p, y) if n else float("nan"), float(p.sum()), tiers)


def _auc(p: np.ndarray, y: np.ndarray) -> float:
    """Mann-Whitney AUC with ties counted half (sklearn's roc_auc_score, without it)."""
    order = np.argsort(p, kind="mergesort")
    ranks = np.empty(len(p), dtype=np.float64)
    sp = p[order]
    i = 0
    while i < len(sp):
        j = i
        while j + 1 < len(sp) and sp[j + 1] == sp[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2.0 + 1.0
        i = j + 1
    pos = y == 1
    n1, n0 = int(pos.sum()), int((~pos).sum())
    return float((ranks[pos].sum() - n1 * (n1 + 1) / 2.0) / (n1 * n0))
