"""Event-to-score latency: one definition, and one way to summarise it, for the worker's
histogram (and so Prometheus and the Grafana dashboard), ``python -m streams.bench`` and
``leadscore demo``.

Definition: from the moment an event was produced (its Kafka record timestamp, which a
producer sets when it sends) to the moment the score change it caused is in Kafka (the
broker acknowledged it, so any consumer can read it). The worker observes exactly that span
into ``leadscore_event_to_score_seconds``. The bench and the demo measure the same span from
outside: from their own produce() call to reading the change back, which adds their reader's
fetch (about a millisecond on loopback); both print the worker's histogram beside their own
figure, quantiles computed as Prometheus computes them (:func:`histogram_quantile`), so the
three can be compared.

Percentiles of samples are nearest-rank (:func:`percentile`): a value that was observed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of the samples; NaN when there are none."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100.0 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def histogram_quantile(buckets: Sequence[tuple[float, float]], q: float) -> float:
    """Prometheus' ``histogram_quantile`` on cumulative (upper bound, count) buckets: linear
    interpolation inside the bucket holding the q-th quantile (q in 0..1), the first bucket
    starting at 0; the upper bound of the last finite bucket if it lands in +Inf. NaN
    without observations."""
    finite = sorted(b for b in buckets if not math.isinf(b[0]))
    total = max((c for _, c in buckets), default=0.0)
    if total <= 0 or not finite:
        return math.nan
    rank = q * total
    lower_le, lower_count = 0.0, 0.0
    for le, count in finite:
        if count >= rank:
            if count == lower_count:
                return le
            return lower_le + (le - lower_le) * (rank - lower_count) / (count - lower_count)
        lower_le, lower_count = le, count
    return finite[-1][0]


def histogram_delta(after: dict[float, float], before: dict[float, float]
                    ) -> list[tuple[float, float]]:
    """The observations made between two scrapes of one histogram's cumulative buckets."""
    return [(le, after[le] - before.get(le, 0.0)) for le in sorted(after)]


def parse_histogram(exposition: str, name: str) -> dict[float, float]:
    """Cumulative bucket counts ``{le: count}`` of histogram ``name`` in a Prometheus text
    exposition (summed over label sets)."""
    found: dict[float, float] = {}
    prefix = f"{name}_bucket{{"
    for line in exposition.splitlines():
        if line.startswith(prefix):
            labels, _, value = line[len(prefix):].partition("} ")
            le = labels.split('le="', 1)[1].split('"', 1)[0]
            bound = math.inf if le == "+Inf" else float(le)
            found[bound] = found.get(bound, 0.0) + float(value)
    return found
