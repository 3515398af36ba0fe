"""The idle timer: re-score leads that went quiet, so decay lowers their scores and declines
are reported even when no event arrives.

Table writes are only allowed inside stream iteration (the changelog partition comes from the
current event), so the timer does not score anything itself: it scans the leads this worker
holds and sends a ``rescore`` message for each idle one to the handoff topic, keyed by lead
id; the lead's own agent then re-scores it like any other handoff. Time is event time
(:meth:`Processor.stream_now`). The same pass feeds the table gauges and the percentile
histogram (:mod:`streams.core.tablescan`).
"""

from __future__ import annotations

import faust

from streams.core import handoff
from streams.core.tablescan import scan
from streams.worker.context import WorkerContext
from streams.worker.metrics import worker_metrics

# Bound the work of one scan; the rest are found by the next one.
MAX_PER_SCAN = 10_000


def register(app: faust.App, ctx: WorkerContext) -> None:
    """Run :func:`rescore_idle_leads` every ``LEADSCORE_IDLE_SCAN_SECONDS``."""

    @app.timer(interval=ctx.settings.idle_scan_seconds, name="leadscore.rescore_idle_leads")
    async def rescore_idle() -> None:
        await rescore_idle_leads(ctx)


async def rescore_idle_leads(ctx: WorkerContext) -> None:
    proc, settings = ctx.processor(), ctx.settings
    idle_s, every_s = settings.idle_after_hours * 3600, settings.idle_rescore_hours * 3600
    now = proc.stream_now()  # None before the first event: nothing tells us what "now" is
    # One pass over the table's iterator, not a list of it: a worker holding 100,000 leads
    # would copy ~80 MB of records each scan (and keep its peak memory that high).
    found = scan(ctx.tables.leads.items(), now, idle_s, every_s, MAX_PER_SCAN)
    worker_metrics().record_scan(found.tiers, found.leads, found.anonymous)
    proc.histogram.reset(found.score_counts)
    body = handoff.encode("rescore", at=now)
    for lead in found.due:
        await ctx.topics.handoff.send(key=lead.encode(), value=body)
    if found.due:
        worker_metrics().handoffs.labels(kind="rescore").inc(len(found.due))
