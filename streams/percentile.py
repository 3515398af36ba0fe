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
        """A lead's score changed from ``old`` to ``new`` (None: not counted)."""
        if old is not None:
            self.counts[old] -= 1
            self.total -= 1
        if new is not None:
            self.counts[new] += 1
            self.total += 1

    def percentile(self, score: int) -> float:
        if self.total <= 0:
            return 50.0
        below = sum(self.counts[:score])
        return round(100.0 * (below + 0.5 * self.counts[score]) / self.total, 1)
