"""Faust's own consumer, handing whole fetched record batches to the scorer's agent.

Why below the Conductor: Faust turns every fetched record into a Message and an Event, awaits
``wait_first`` per record, queues it to the stream and acknowledges it one by one; that
machinery alone costs ~125 CPU-us per event (team field notes), more than the whole budget of
a worker that must score 10,000 events/s. So the records of the topics the batch agent
consumes never become Faust Messages: :class:`BatchConsumer` takes them out of each batch
aiokafka fetched (``Fetcher.fetched_records``, through Faust's consumer thread) and sends
the whole batch, as aiokafka's records, to the agent's channel. Everything else (the tables'
changelog records during recovery and for standby replicas) goes on through Faust's usual
per-message path, so recovery, standbys, rebalancing and the group membership stay Faust's.

The agent acknowledges and commits its batches itself (:mod:`streams.worker.commit`), through
this same consumer, so commits come from the group member with its generation. Faust's own
commit never sees these records (they are never "acked" to it), and :meth:`wait_empty`, which
Faust calls before giving partitions away in a rebalance and when stopping, first waits for
the batches the agent has started to be committed.

Rules that keep records from being skipped: a batch is handed over only while the flow is
active (otherwise Faust seeks every partition back to its committed offset, as it does for its
own records); records of a partition that is not active (paused for recovery) are dropped and
that partition is sought back to the first of them; and every batch carries the consumer
generation it was fetched in, so the agent drops batches from before a rebalance (their
partitions were sought back by the recovery).

Chosen over driving a confluent-kafka consumer from Faust's assignment by measurement of an
empty batch agent each way; see the README, "Performance".
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP

log = logging.getLogger(__name__)


@dataclass
class Fetched:
    """One fetched batch of the agent's topics: aiokafka ConsumerRecords per partition, in
    offset order, as aiokafka returned them. Issue 11's event-time ordering across a lead's
    partitions would pick records from several of these (see :meth:`records`)."""

    generation: int
    by_tp: dict[TP, list[Any]]
    count: int = field(init=False)

    def __post_init__(self) -> None:
        self.count = sum(len(r) for r in self.by_tp.values())

    def records(self) -> list[Any]:
        """The batch's records, partition after partition (each partition in order: that is
        all the scorer needs, as a lead's events on one input topic share a partition)."""
        out: list[Any] = []
        for recs in self.by_tp.values():
            out += recs
        return out

    def next_offsets(self) -> dict[TP, int]:
        """Offset to commit per partition once this batch is done (last offset + 1)."""
        return {tp: recs[-1].offset + 1 for tp, recs in self.by_tp.items() if recs}


class BatchSink:
    """Where :class:`BatchConsumer` delivers batches, and how it learns the agent is idle.

    ``topics``: the topics whose records go to the agent. ``deliver``: awaited with each
    batch (the agent's channel: it blocks while the agent is busy, which stops fetching).
    ``drain``: awaited by :meth:`BatchConsumer.wait_empty`, returns once every batch the agent
    has started is committed (or dropped)."""

    def __init__(self, topics: Iterable[str], deliver: Callable[[Fetched], Awaitable[Any]],
                 drain: Callable[[], Awaitable[None]]) -> None:
        self.topics = frozenset(topics)
        self.deliver = deliver
        self.drain = drain


class BatchConsumer(faust_aiokafka.Consumer):
    """Faust's aiokafka consumer; records of :attr:`sink`'s topics go out as whole batches."""

    @property
    def sink(self) -> BatchSink | None:
        """The app's ``batch_sink`` (set when the agent is registered)."""
        return getattr(self.app, "batch_sink", None)

    def _new_consumer_thread(self) -> BatchConsumerThread:
        return BatchConsumerThread(self, loop=self.loop, beacon=self.beacon)

    async def _wait_next_records(self, timeout: float) -> tuple[Any, Any]:
        records, active = await super()._wait_next_records(timeout)
        sink = self.sink
        if not records or sink is None or self.should_stop:
            return records, active
        mine = {tp: recs for tp, recs in records.items() if tp.topic in sink.topics}
        if not mine:
            return records, active
        theirs = {tp: recs for tp, recs in records.items() if tp.topic not in sink.topics}
        generation = self.app.consumer_generation_id
        if not self.flow_active:
            # Faust's getmany seeks every partition back to its committed offset when the
            # flow is stopped; these records are fetched again after that.
            return theirs, active
        taken: dict[TP, list[Any]] = {}
        for tp, recs in mine.items():
            if active is not None and tp not in active and tp not in self._buffered_partitions:
                await self._seek_back(tp, recs[0].offset)
                continue
            taken[tp] = recs
            self.app.monitor.track_tp_end_offset(tp, self.highwater(tp))
        if taken:
            await sink.deliver(Fetched(generation, taken))
            read = self._read_offset
            for tp, recs in taken.items():
                read[tp] = recs[-1].offset
        return theirs, active

    async def _seek_back(self, tp: TP, offset: int) -> None:
        """Records of an inactive partition were fetched and are not processed: fetch them
        again later (aiokafka has already moved its position past them)."""
        try:
            await self.seek(tp, offset)
        except Exception as exc:  # noqa: BLE001 - e.g. no longer assigned: nothing to redo
            log.info("not seeking %s back to %s: %r", tp, offset, exc)

    async def wait_empty(self) -> None:
        """Also wait for the batch agent's started batches to be committed (called by Faust
        before it gives partitions away in a rebalance, and when it stops)."""
        if self.sink is not None:
            await self.sink.drain()
        await super().wait_empty()

    async def commit_batch(self, offsets: Mapping[TP, int]) -> bool:
        """Commit the agent's offsets through the group member (its current generation).
        Only partitions still assigned are committed: a revoked one is somebody else's now,
        and its batch will be processed again there (at-least-once)."""
        assignment = self.assignment()
        mine = {tp: off for tp, off in offsets.items() if tp in assignment}
        if not mine:
            return False
        ok = await self._thread.commit(mine)
        if ok:
            self._committed_offset.update(mine)
            self.app.monitor.on_tp_commit(mine)
        return bool(ok)


# The broker answers a fetch once this much is there, or after the fetch wait: a quiet worker
# then takes a batch per wait, not a fetch (and a batch) per record.
FETCH_MIN_BYTES = 64 * 1024


class BatchConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    """Faust's aiokafka consumer thread, with the broker's fetch wait from the app.

    Why: Faust creates aiokafka's consumer with ``fetch_max_wait_ms=1500``, and aiokafka keeps
    one fetch per broker in flight, leaving out the partitions whose fetched records are not
    consumed yet. The next fetch, for the partitions that had nothing, then waits at the
    broker for up to 1.5 s, and the busy partitions' new records wait with it: seen as 1.5 s
    stalls at 2,000 events/s on one topic. A short wait bounds that stall."""

    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        wait_ms = getattr(self.app, "fetch_wait_ms", None)
        if wait_ms is not None:
            consumer._fetch_max_wait_ms = int(wait_ms)
            consumer._fetch_min_bytes = FETCH_MIN_BYTES
        return consumer


class BatchTransport(faust_aiokafka.Transport):
    """Faust's aiokafka transport, with :class:`BatchConsumer`."""

    Consumer = BatchConsumer


async def wait_idle(busy: Callable[[], bool], changed: asyncio.Event) -> None:
    """Wait until ``busy()`` is false, re-checking whenever ``changed`` is set."""
    while busy():
        changed.clear()
        if busy():
            await changed.wait()
