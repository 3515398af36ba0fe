"""The idle timer: re-score leads that went quiet, so decay lowers their scores and declines
are reported even when no event arrives.

Table writes are only allowed inside stream iteration (the changelog partition comes from the
current event), so the timer does not score anything itself: it scans the leads this worker
holds and sends a ``rescore`` message for each idle one to the handoff topic, keyed by lead
id; the lead's own agent then re-scores it like any other handoff. Time is event time
(:meth:`Processor.stream_now`). The same pass feeds the table gauges and the percentile
histogram (:mod:`streams.tablescan`).
"""

from __future__ import annotations

import orjson

from streams import tables, topics
from streams.agents.lead_events import processor
from streams.app import app, settings
from streams.metrics import worker_metrics
from streams.tablescan import scan

# Bound the work of one scan; the rest are found by the next one.
MAX_PER_SCAN = 10_000


@app.timer(interval=settings.idle_scan_seconds)
async def rescore_idle_leads() -> None:
    proc = processor()
    idle_s, every_s = settings.idle_after_hours * 3600, settings.idle_rescore_hours * 3600
    now = proc.stream_now()  # None before the first event: nothing tells us what "now" is
    found = scan(list(tables.leads.items()), now, idle_s, every_s, MAX_PER_SCAN)
    worker_metrics().record_scan(found.tiers, found.leads, found.anonymous)
    proc.histogram.reset(found.score_counts)
    body = orjson.dumps({"k": "rescore", "at": now})
    for lead in found.due:
        await topics.handoff.send(key=lead.encode(), value=body)
    if found.due:
        worker_metrics().handoffs.labels(kind="rescore").inc(len(found.due))
