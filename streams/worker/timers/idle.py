"""The idle timer: re-score leads that went quiet, so decay lowers their scores and declines
are reported even when no event arrives.

Table writes are only allowed inside stream iteration (the changelog partition comes from the
current event), so the timer does not score anything itself: it scans the leads this worker
holds and sends a ``rescore`` message for each idle one to the handoff topic, keyed by lead
id; the lead's own agent then re-scores it like any other handoff. Time is event time
(:meth:`Processor.stream_now`). The same pass feeds the table gauges, the percentile
histogram and the model's quality from outcomes (:mod:`streams.core.tablescan`,
:mod:`streams.core.quality`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from itertools import islice

import faust

from streams.core import handoff
from streams.core.drift import drift
from streams.core.quality import LOOKBACKS, QualityTally
from streams.core.tablescan import Scan, scan
from streams.worker.context import WorkerContext
from streams.worker.metrics import worker_metrics

log = logging.getLogger(__name__)

# Bound the work of one scan; the rest are found by the next one.
MAX_PER_SCAN = 10_000
# Keys scanned between two turns of the event loop (~5-10 ms of work).
SCAN_SLICE = 1000
# Fewer recent rows than this say too little about drift to export a figure.
MIN_DRIFT_ROWS = 200


def register(app: faust.App, ctx: WorkerContext) -> None:
    """Run :func:`rescore_idle_leads` every ``LEADSCORE_IDLE_SCAN_SECONDS``."""

    @app.timer(interval=ctx.settings.idle_scan_seconds, name="leadscore.rescore_idle_leads")
    async def rescore_idle() -> None:
        await rescore_idle_leads(ctx)


async def scan_in_slices(items: Iterable[tuple[str, bytes]], now: float | None,
                         idle_s: float, every_s: float, tally: QualityTally | None,
                         slice_keys: int = SCAN_SLICE) -> Scan | None:
    """The table scan, ``slice_keys`` keys at a time with the event loop's turn in between.
    Why: the scan costs ~5-10 us a key (tablescan), so a worker holding 100,000 leads held
    its hot path back for ~1 s every scan; in slices no batch waits more than one slice.
    A rebalance between slices changes the table's partitions under the iterator (Faust
    iterates its dict of partition stores): then the scan is abandoned (None) and nothing
    is reported from it; the next scan starts over."""
    found = Scan()
    it = iter(items)
    while True:
        try:
            piece = list(islice(it, slice_keys))
        except RuntimeError:  # "dictionary changed size during iteration": a rebalance
            return None
        if not piece:
            return found
        scan(piece, now, idle_s, every_s, MAX_PER_SCAN, tally, out=found)
        await asyncio.sleep(0)


async def rescore_idle_leads(ctx: WorkerContext) -> None:
    proc, settings = ctx.processor(), ctx.settings
    idle_s, every_s = settings.idle_after_hours * 3600, settings.idle_rescore_hours * 3600
    now = proc.stream_now()  # None before the first event: nothing tells us what "now" is
    # One pass over the table's iterator, not a list of it: a worker holding 100,000 leads
    # would copy ~80 MB of records each scan (and keep its peak memory that high).
    tally = None
    if now is not None:
        tally = QualityTally(int(now // 86400), settings.quality_window_days,
                             hot=settings.tier_hot / 100, warm=settings.tier_warm / 100)
    found = await scan_in_slices(ctx.tables.leads.items(), now, idle_s, every_s, tally)
    if found is None:
        log.info("idle scan: the partitions changed during the scan; the next one starts over")
        return
    worker_metrics().record_scan(found.tiers, found.leads, found.anonymous)
    if tally is not None:
        versions = {proc.scorer.version: proc.version_bytes}
        if proc.challenger is not None:
            versions[proc.challenger.version] = proc.challenger_bytes
        worker_metrics().record_quality(tally.figures(), versions, LOOKBACKS)
    rows, probability = proc.recent.rows()
    if proc.reference is not None and len(rows) >= MIN_DRIFT_ROWS:
        features, score = drift(rows, probability, proc.reference, proc.scorer.config.names)
        worker_metrics().record_drift(features, score, len(rows))
    proc.histogram.reset(found.score_counts)
    body = handoff.encode("rescore", at=now)
    for lead in found.due:
        await ctx.topics.handoff.send(key=lead.encode(), value=body)
    if found.due:
        worker_metrics().handoffs.labels(kind="rescore").inc(len(found.due))
