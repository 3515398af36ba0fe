"""One pass over the leads a worker holds: which are idle and due a re-score, and the
tallies the metrics and the percentile need (pure, so it is tested without a broker).

The idle timer already reads every record header each scan; counting tiers and scores in the
same pass costs nothing extra, and rebuilding the percentile histogram from it means a
restarted or rebalanced worker ranks against all the leads it holds, not just those it has
re-scored since it started. The model's quality from outcomes is tallied in the same pass
(:mod:`streams.core.quality`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from streams.core.processing import due_for_rescore
from streams.core.quality import QualityTally
from streams.core.record import ANON, LEAD, LeadRecord


@dataclass
class Scan:
    due: list[str] = field(default_factory=list)  # lead ids to re-score
    tiers: Counter[str] = field(default_factory=Counter)
    score_counts: list[int] = field(default_factory=lambda: [0] * 101)
    leads: int = 0
    anonymous: int = 0


def scan(items: Iterable[tuple[str, bytes]], now: float | None, idle_s: float,
         every_s: float, max_due: int, quality: QualityTally | None = None,
         out: Scan | None = None) -> Scan:
    """``now`` is event time (None before any event: nothing is due). ``quality`` collects
    each lead's outcome observations (read from the record's end, not decoded). ``out``: a
    scan to add to (the worker scans its table in slices)."""
    out = out if out is not None else Scan()
    for key, raw in items:
        if key.startswith(ANON):
            out.anonymous += 1
            continue
        if not key.startswith(LEAD):
            continue
        out.leads += 1
        if quality is not None and raw[-1]:
            quality.add(LeadRecord.peek_observed(raw))
        header = LeadRecord.peek(raw)
        score = header.get("s")
        if score is not None:
            out.tiers[str(header.get("t"))] += 1
            out.score_counts[int(score)] += 1
        if (now is not None and len(out.due) < max_due
                and due_for_rescore(header, now, idle_s, every_s)):
            out.due.append(key[len(LEAD):])
    return out
