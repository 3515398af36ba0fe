"""The idle timer: re-score leads that went quiet, so decay lowers their scores and declines
are reported even when no event arrives.

Table writes are only allowed inside stream iteration (the changelog partition comes from the
current event), so the timer does not score anything itself: it scans the leads this worker
holds and sends a ``rescore`` message for each idle one to the handoff topic, keyed by lead
id; the lead's own agent then re-scores it like any other handoff. Time is event time
(:meth:`Processor.stream_now`).
"""

from __future__ import annotations

import orjson

from streams import tables, topics
from streams.agents.lead_events import processor
from streams.app import app, settings
from streams.processing import due_for_rescore
from streams.record import LEAD, LeadRecord

# Bound the work of one scan; the rest are found by the next one.
MAX_PER_SCAN = 10_000


@app.timer(interval=settings.idle_scan_seconds)
async def rescore_idle_leads() -> None:
    now = processor().stream_now()
    if now is None:
        return  # no event seen yet since start: nothing tells us what "now" is
    idle_s, every_s = settings.idle_after_hours * 3600, settings.idle_rescore_hours * 3600
    body = orjson.dumps({"k": "rescore", "at": now})
    sent = 0
    for key, raw in list(tables.leads.items()):
        if not key.startswith(LEAD) or not due_for_rescore(LeadRecord.peek(raw), now,
                                                           idle_s, every_s):
            continue
        await topics.handoff.send(key=key[len(LEAD):].encode(), value=body)
        sent += 1
        if sent >= MAX_PER_SCAN:
            break
