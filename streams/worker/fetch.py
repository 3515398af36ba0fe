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

Event-time order: the records of the input topics are not handed over as fetched but
through :class:`streams.worker.order.OrderBuffer`, which releases the records of the input
partitions with the same number (a lead's five topics) oldest event first, holding a task
back while one of its partitions is known to have more on the broker (bounded by
``LEADSCORE_ORDER_WAIT_MS``). Held records are not in any batch, so no commit passes them;
a partition whose buffer is full is left out of the fetch until the scorer has taken some.

Chosen over driving a confluent-kafka consumer from Faust's assignment by measurement of an
empty batch agent each way; see the README, "Performance".
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP

from streams.worker.order import OrderBuffer

log = logging.getLogger(__name__)


@dataclass
class Fetched:
    """One batch of the agent's topics: aiokafka ConsumerRecords per partition (each a run of
    consecutive offsets), and the same records in the order to process them (``ordered``:
    event-time order within a task, :mod:`streams.worker.order`)."""

    generation: int
    by_tp: dict[TP, list[Any]]
    ordered: list[Any] | None = None
    count: int = field(init=False)

    def __post_init__(self) -> None:
        self.count = sum(len(r) for r in self.by_tp.values())

    def records(self) -> list[Any]:
        """The batch's records in the order to process them (without an order: partition
        after partition, each in offset order)."""
        if self.ordered is not None:
            return self.ordered
        out: list[Any] = []
        for recs in self.by_tp.values():
            out += recs
        return out

    def only(self, tps: set[TP] | frozenset[TP]) -> Fetched:
        """The batch without the records of partitions not in ``tps``."""
        keep = {tp: r for tp, r in self.by_tp.items() if tp in tps}
        ordered = [r for r in self.records() if (r.topic, r.partition) in keep]
        return Fetched(self.generation, keep, ordered)

    def next_offsets(self) -> dict[TP, int]:
        """Offset to commit per partition once this batch is done (last offset + 1)."""
        return {tp: recs[-1].offset + 1 for tp, recs in self.by_tp.items() if recs}


class BatchSink:
    """Where :class:`BatchConsumer` delivers batches, and how it learns the agent is idle.

    ``topics``: the topics whose records go to the agent; ``ordered``: those of them whose
    records are released in event-time order per partition number (the input topics,
    :mod:`streams.worker.order`). ``deliver``: awaited with each batch (the agent's channel:
    it blocks while the agent is busy, which stops fetching). ``drain``: awaited by
    :meth:`BatchConsumer.wait_empty`, returns once every batch the agent has started is
    committed (or dropped)."""

    def __init__(self, topics: Iterable[str], deliver: Callable[[Fetched], Awaitable[Any]],
                 drain: Callable[[], Awaitable[None]], ordered: Iterable[str] = ()) -> None:
        self.topics = frozenset(topics)
        self.ordered = frozenset(ordered) & self.topics
        self.deliver = deliver
        self.drain = drain


# Used when the app sets none (LEADSCORE_ORDER_WAIT_MS is the setting).
DEFAULT_ORDER_WAIT_MS = 2000.0


class BatchConsumer(faust_aiokafka.Consumer):
    """Faust's aiokafka consumer; records of :attr:`sink`'s topics go out as whole batches."""

    _order: OrderBuffer | None = None  # the event-time ordering, made at the first fetch
    _order_generation: int | None = None  # the consumer generation it was assigned in
    _fetch_timeout: float | None = None  # shorter wait for aiokafka, set by the ordering

    @property
    def sink(self) -> BatchSink | None:
        """The app's ``batch_sink`` (set when the agent is registered)."""
        return getattr(self.app, "batch_sink", None)

    def _new_consumer_thread(self) -> BatchConsumerThread:
        return BatchConsumerThread(self, loop=self.loop, beacon=self.beacon)

    async def _wait_next_records(self, timeout: float) -> tuple[Any, Any]:
        records, active = await super()._wait_next_records(timeout)
        sink = self.sink
        if sink is None or self.should_stop:
            return records, active
        records = records or {}
        mine = {tp: recs for tp, recs in records.items() if tp.topic in sink.topics}
        theirs = {tp: recs for tp, recs in records.items() if tp.topic not in sink.topics}
        order = self._order_for(sink)
        if not self.flow_active:
            # Faust's getmany seeks every partition back to its committed offset when the
            # flow is stopped; these records, and the held ones, are fetched again after that.
            order.clear()
            self._order_generation = None
            return theirs, active
        generation = self.app.consumer_generation_id
        if generation != self._order_generation:
            # A rebalance: the recovery sought every partition back to its committed offset.
            order.assign(tp for tp in self.assignment() if tp.topic in sink.topics)
            self._order_generation = generation
        for tp, recs in mine.items():
            if active is not None and tp not in active and tp not in self._buffered_partitions:
                held = order.drop(tp)
                await self._seek_back(tp, recs[0].offset if held is None else held)
                continue
            order.add(tp, recs)
            self.app.monitor.track_tp_end_offset(tp, self.highwater(tp))
        limit = self.app.conf.broker_max_poll_records or 1000
        now = time.monotonic()
        released = order.take(now, self._fetch_lag, limit)
        # Ask aiokafka not to wait for new records while released ones are left, or past
        # the end of an ordering wait.
        self._fetch_timeout = (0.0 if len(released.records) >= limit
                               else order.holding(now, self._fetch_lag))
        if released.records:
            await sink.deliver(Fetched(generation, released.by_tp, released.records))
            read = self._read_offset
            for tp, recs in released.by_tp.items():
                read[tp] = recs[-1].offset
        return theirs, active

    def _order_for(self, sink: BatchSink) -> OrderBuffer:
        order = self._order
        if order is None:
            wait_ms = getattr(self.app, "order_wait_ms", None)
            inputs = sink.ordered
            order = self._order = OrderBuffer(
                lambda tp: tp.partition if tp.topic in inputs else None,
                (DEFAULT_ORDER_WAIT_MS if wait_ms is None else wait_ms) / 1000.0)
        return order

    async def _getmany(self, active_partitions: set[TP] | None, timeout: float) -> Any:
        """aiokafka's records of the active partitions, leaving out those whose ordering
        buffers are full (their records stay in aiokafka's buffer: it fetches no more of
        them meanwhile), and waiting no longer than the ordering needs."""
        order = self._order
        if order is not None and active_partitions:
            full = order.full()
            if full and active_partitions - full:
                active_partitions = active_partitions - full
            if self._fetch_timeout is not None:
                timeout = max(0.0, min(timeout, self._fetch_timeout))
        return await super()._getmany(active_partitions, timeout)

    def _fetch_lag(self, tp: TP) -> int | None:
        """Records of ``tp`` on the broker that aiokafka has not handed out yet (highwater of
        the last fetch response minus the fetch position); None while not known."""
        try:
            consumer = self._thread._ensure_consumer()
            state = consumer._subscription.subscription.assignment.state_value(tp)
            if state is None or state.highwater is None or not state.has_valid_position:
                return None
            return int(state.highwater) - int(state.position)
        except Exception:  # noqa: BLE001 - not assigned (any more), no subscription yet
            return None

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
# then takes a batch per wait, not a fetch (and a batch) per record. Used when the app sets
# none (LEADSCORE_FETCH_MIN_KB is the setting).
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
            min_kb = getattr(self.app, "fetch_min_kb", None)
            consumer._fetch_max_wait_ms = int(wait_ms)
            consumer._fetch_min_bytes = (FETCH_MIN_BYTES if min_kb is None
                                         else max(1, int(min_kb) * 1024))
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
