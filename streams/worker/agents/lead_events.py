"""The scorer agent: one fetched Kafka batch of the five input topics and the handoff topic at
a time, validated, folded, scored and published in one pass.

A Faust agent of the app like any other (registered on it, started, supervised and stopped by
it), whose unit of work is a batch, not an Event: each batch fetched for these topics, by a
librdkafka consumer assigned from Faust's group (:mod:`streams.worker.hotfetch`, the
default) or by Faust's own consumer (:mod:`streams.worker.fetch`), reaches it through an
in-memory channel that holds two batches (so a busy agent stops the fetching). The agent
processes a batch (:class:`streams.core.processing.Processor`: the same code ``leadscore
replay`` runs) and hands the result to :class:`streams.worker.commit.Committer`, which owns
"a batch is done": outputs acknowledged, then changelog acknowledged, then RocksDB, then the
offsets committed, while the agent already processes the next batch.

Concurrency 1 (a lead's batches must be processed in order); scaling is by partitions across
workers. A stop (SIGTERM) first waits for every batch the agent started to be delivered,
written and committed (:meth:`HotPath.drain`, through the consumer's ``wait_empty``) and
starts no new one, so a graceful stop publishes nothing that the restarted worker sends
again (tests/integration/test_sigterm.py). A batch fetched before a rebalance (an older
consumer generation, or an assignment its fetcher gave up) is dropped: its records are
fetched again from the committed offsets. An exception while processing exits the worker
(status 70) instead of letting Faust restart the agent past the batch.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import time
from typing import Any

import faust

from streams.worker.batches import BatchSink, Fetched
from streams.worker.commit import Committer, InFlight
from streams.worker.context import WorkerContext
from streams.worker.metrics import worker_metrics
from streams.worker.state import Pending, TableStore, View

log = logging.getLogger(__name__)


def register(app: faust.App, ctx: WorkerContext) -> BatchSink:
    """Declare the agent on an in-memory channel fed by the app's consumer with the batches
    of the input and handoff topics; subscribe the consumer to those topics. Returns the sink
    the consumer delivers to (the app keeps it as ``batch_sink``)."""
    channel = app.channel(maxsize=2)
    hot = HotPath(app, ctx)
    topics = [*ctx.settings.input_topics, ctx.settings.topic_handoff]
    # Subscribed through the Conductor like an agent's topic; their records never reach it.
    app.topics.add(ctx.topics.lead_inputs)

    @app.agent(channel, concurrency=1, name="leadscore.lead_events")
    async def score_lead_events(stream: Any) -> None:
        await hot.consume(stream)

    async def deliver(fetched: Fetched) -> None:
        await channel.send(value=fetched)

    return BatchSink(topics, deliver, hot.drain, ordered=ctx.settings.input_topics)


def settle_garbage_collector() -> None:
    """Move everything built at start-up (Faust, the model, numpy, sklearn: millions of
    objects) out of the cyclic garbage collector's sight, and let it run less often.

    Why: every batch allocates many small short-lived objects (records, lists, dicts), so the
    collector ran often, and each full collection walked the whole start-up heap: 13% of a
    busy worker's samples were in ``gc_collect``. Nothing here is left to cycles on purpose;
    reference counting frees the batches' objects."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 50, 100)


class HotPath:
    """What the agent keeps across batches: the processor, the table views, the committer."""

    def __init__(self, app: faust.App, ctx: WorkerContext) -> None:
        self.app = app
        self.ctx = ctx
        self.committer: Committer | None = None

    async def drain(self) -> None:
        if self.committer is not None:
            await self.committer.drain()

    async def consume(self, stream: Any) -> None:
        app, ctx = self.app, self.ctx
        proc = ctx.processor()
        settle_garbage_collector()
        stores = {"leads": TableStore(ctx.tables.leads),
                  "aliases": TableStore(ctx.tables.aliases)}
        leads, aliases = View(stores["leads"]), View(stores["aliases"])
        pending = Pending(stores)
        metrics, sources = worker_metrics(), ctx.source_roles()

        def done(b: InFlight) -> None:
            metrics.record_batch(b.result, sources, b.record_times, b.fetched.count,
                                 time.perf_counter() - b.started, acked_at=b.outputs.done_at)
            metrics.record_seen(sources, b.topics, b.record_times)

        committer = self.committer = Committer(
            app.consumer, ctx.producer(), pending, done, ctx.settings.batches_in_flight,
            ctx.settings.commit_interval_ms / 1000.0)
        completing = asyncio.ensure_future(committer.run())
        try:
            async for fetched in stream:
                committer.begin()
                try:
                    await self._one(fetched, proc, leads, aliases, committer)
                finally:
                    committer.end()
        finally:
            completing.cancel()
            committer.close()
            pending.clear()

    async def _one(self, fetched: Fetched, proc: Any, leads: View, aliases: View,
                   committer: Committer) -> None:
        app = self.app
        if fetched.stale(app.consumer_generation_id):
            return  # fetched before a rebalance: fetched again from the committed offsets
        if app.should_stop:
            # Stopping (SIGTERM): start nothing new. A batch processed now would send its
            # outputs after the stop's drain returned, and stay uncommitted: sent twice after
            # the restart. Left alone, it is fetched again by the next worker.
            return
        assigned = app.consumer.assignment()
        if any(tp not in assigned for tp in fetched.by_tp):
            fetched = fetched.only(assigned)
        records = fetched.records()
        if not records:
            return
        started = time.perf_counter()

        def before(i: int) -> None:
            leads.partition = aliases.partition = records[i].partition

        try:
            result = proc.process(records, leads, aliases, before)
            await committer.submit(fetched, records, result, started)
        except Exception:
            # A bug, not bad input (bad input becomes dead letters), or a producer that
            # refuses records. Faust would restart the agent past this batch; dying like a
            # kill -9 leaves it uncommitted, and the restarted worker processes it again.
            log.critical("batch processing failed; exiting so the batch is redone",
                         exc_info=True)
            os._exit(70)
