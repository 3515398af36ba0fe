"""Consumes the five input topics and the handoff topic; scores leads in micro-batches.

Concurrency 1 (faust-streaming #606: higher concurrency can commit past an in-flight
message); scaling is by partitions across workers.

Delivery: at-least-once with idempotent state. For each batch the outputs (score changes,
alerts, dead letters, handoffs) are sent and ACKNOWLEDGED by the broker before the table
records are written, and the batch is acknowledged to Faust (so its offsets can be committed)
only once the broker has also acknowledged the tables' changelog records. A crash anywhere
therefore either re-processes the batch from the old state (same outputs again, same
idempotency keys) or finds the events already folded (their ids live in the state) and
changes nothing. An exception in the agent exits the worker instead of letting Faust restart
the agent, which would acknowledge the batch.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
import weakref
from collections.abc import Callable
from typing import Any

import faust
from faust.streams import _current_event

from streams.core.processing import BatchResult, Message
from streams.worker.context import WorkerContext
from streams.worker.metrics import worker_metrics

log = logging.getLogger(__name__)


def register(app: faust.App, ctx: WorkerContext) -> None:
    """Subscribe the agent to the inputs and the handoff topic, concurrency 1."""

    @app.agent(ctx.topics.lead_inputs, concurrency=1, name="leadscore.lead_events")
    async def score_lead_events(stream: Any) -> None:
        await consume(stream, ctx)


class _TableView:
    """``get`` for the processor, reading in the partition of the current event."""

    def __init__(self, table: Any) -> None:
        self.table = table

    def get(self, key: str) -> Any:
        return self.table.get(key)


async def consume(stream: Any, ctx: WorkerContext) -> None:
    proc, settings = ctx.processor(), ctx.settings
    views = {"leads": _TableView(ctx.tables.leads), "aliases": _TableView(ctx.tables.aliases)}
    metrics, sources = worker_metrics(), ctx.source_roles()
    async for events in stream.take_events(settings.batch_max, within=settings.batch_seconds):
        started = time.perf_counter()
        messages = [Message(e.message.topic, e.message.partition, e.message.offset,
                            e.key, e.value) for e in events]

        def make_current(i: int, events: Any = events) -> None:
            _current_event.set(weakref.ref(events[i]))

        try:
            result = proc.process(messages, views["leads"], views["aliases"], make_current)
        except Exception:
            # A bug, not bad input (bad input becomes dead letters). Faust would restart the
            # agent and ack this batch, losing it; dying like a kill -9 keeps it uncommitted,
            # and the restarted worker processes it again.
            log.critical("batch processing failed; exiting so the batch is redone",
                         exc_info=True)
            os._exit(70)
        try:
            await deliver(ctx, result, make_current)
        except Exception:
            # Same reason: Faust would acknowledge the batch of a crashed agent (the take
            # buffer acks it, the crash handler commits), so a failed send or table write would
            # lose the batch's events.
            log.critical("batch delivery failed; exiting so the batch is redone", exc_info=True)
            os._exit(70)
        # Counted once delivered: a batch redone after a crash is counted again, like any
        # at-least-once consumer's metrics (the state itself is not).
        record_times = [e.message.timestamp or 0.0 for e in events]
        metrics.record_batch(result, sources, record_times, len(events),
                             time.perf_counter() - started, acked_at=time.time())
        metrics.record_seen(sources, (m.topic for m in messages), record_times)


async def deliver(ctx: WorkerContext, result: BatchResult,
                  make_current: Callable[[int], None]) -> None:
    """Send the outputs, wait for the broker, write the tables, wait for their changelog.

    Only after this returns does the agent ask ``take_events`` for the next batch, which
    acknowledges this one to Faust; Faust commits acknowledged offsets only. So everything a
    batch changed is in Kafka before its offsets can be committed.
    """
    pending = []
    for out in result.outputs:
        fut = await ctx.topics.by_name[out.topic].send(key=out.key, value=out.value)
        pending.append(fut)
    if pending:
        await asyncio.gather(*pending)  # acknowledged before state moves on
    try:
        for w in result.writes:
            make_current(w.source)
            table = ctx.tables.leads if w.table == "leads" else ctx.tables.aliases
            if w.value is None:
                table.pop(w.key, None)
            else:
                table[w.key] = w.value
    finally:
        _current_event.set(None)
    # Faust's own commit does not wait for these (streams/worker/changelog.py).
    await asyncio.gather(ctx.tables.leads.changelog_acked(),
                         ctx.tables.aliases.changelog_acked())
