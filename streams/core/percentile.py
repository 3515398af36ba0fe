"""Percentile of a lead's score among the active leads this worker holds.

Method (documented in the contract's ``percentile`` field): a 101-bin histogram of the current
integer score of every lead the worker owns that was scored in the activity window; the
percentile of score s is 100 * (leads below s + half the leads at s) / all leads (the
"mid-rank" definition, so a lead alone at the top is not 100 and ties share a rank).
A worker only sees its own partitions; partitions are assigned by hash of the lead id, so with
thousands of leads per worker the sample is representative of the whole population.
"""

from __future__ import annotations


class ScoreHistogram:
    """Counts of leads per integer score 0..100; O(1) update, O(101) query."""

    def __init__(self) -> None:
        self.counts = [0] * 101
        self.total = 0

    def move(self, old: int | None, new: int | None) -> None:
        """A lead's score changed from ``old`` to ``new`` (None: not counted).

        After a restart or a rebalance, leads arrive with an old score this worker never
        counted; removing it is skipped where that bin is empty, so counts never go
        negative (the figure is an estimate; it converges as leads are re-scored)."""
        if old is not None and self.counts[old] > 0:
            self.counts[old] -= 1
            self.total -= 1
        if new is not None:
            self.counts[new] += 1
            self.total += 1

    def reset(self, counts: list[int]) -> None:
        """Replace the counts with a full count of the leads held (the table scan)."""
        if len(counts) != 101 or min(counts) < 0:
            raise ValueError("counts must be 101 non-negative numbers")
        self.counts = list(counts)
        self.total = sum(counts)

    def percentile(self, score: int) -> float:
        if self.total <= 0:
            return 50.0
        below = sum(self.counts[:score])
        value = 100.0 * (below + 0.5 * self.counts[score]) / self.total
        return round(min(100.0, max(0.0, value)), 1)
