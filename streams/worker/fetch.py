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

With ``LEADSCORE_HOT_FETCH=faust`` this consumer fetches the scorer's records too. With
``librdkafka`` (the default) a librdkafka consumer assigned from Faust's group fetches
them instead (:mod:`streams.worker.hotfetch`: no Python per fetch); this consumer then
fetches only the changelogs (the scorer's partitions paused in aiokafka), still owns the
group and the commits, and its ``wait_empty`` still drains the agent. Measured both ways:
README, "Performance".
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP

from streams.worker.batches import BatchSink, Fetched
from streams.worker.hotfetch import HotFetch
from streams.worker.order import OrderBuffer

log = logging.getLogger(__name__)


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

    _hot: HotFetch | None = None  # the scorer's own fetcher, when librdkafka fetches

    def _hot_config(self) -> dict[str, Any] | None:
        """librdkafka's settings when it fetches the scorer's topics (else None)."""
        return getattr(self.app, "hot_fetch_config", None)

    async def _wait_next_records(self, timeout: float) -> tuple[Any, Any]:
        records, active = await super()._wait_next_records(timeout)
        sink = self.sink
        if sink is None or self.should_stop:
            return records, active
        config = self._hot_config()
        if config is not None:
            if self._hot is None:
                self._hot = HotFetch(self, sink, config, self._order_for(sink))
                self._hot.start()
            return {tp: r for tp, r in (records or {}).items()
                    if tp.topic not in sink.topics}, active
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
        sink = self.sink
        if sink is not None and self._hot_config() is not None:
            # librdkafka fetches the scorer's partitions; an empty set would mean "all".
            active_partitions = {tp for tp in active_partitions or ()
                                 if tp.topic not in sink.topics}
            if not active_partitions:
                await asyncio.sleep(min(timeout, 0.2))
                return {}
            return await super()._getmany(active_partitions, timeout)
        order = self._order
        if order is not None and active_partitions:
            full = order.full()
            if full and active_partitions - full:
                active_partitions = active_partitions - full
            if self._fetch_timeout is not None:
                timeout = max(0.0, min(timeout, self._fetch_timeout))
        return await super()._getmany(active_partitions, timeout)

    def highwater(self, tp: TP) -> int:
        """With librdkafka fetching the scorer's partitions, their high watermark as it last
        saw it (aiokafka, which has them paused, knows none: the consumer-lag gauge would
        leave them out); Faust's otherwise."""
        hot = self._hot
        if hot is not None:
            high = hot.high_of(tp)
            if high is not None:
                return high
        return super().highwater(tp)

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

    async def on_partitions_assigned(self, assigned: set[TP], generation_id: int = 0) -> None:
        """With librdkafka fetching the scorer's partitions, pause them in aiokafka before it
        fetches any: it would fetch each once, hold the records (up to 1 MiB a partition,
        60-100 MiB more at the bench's peak) and never hand them out. Called
        while aiokafka's thread waits in its rebalance listener, so it is safe from here."""
        sink = self.sink
        if sink is not None and self._hot_config() is not None:
            from aiokafka.structs import TopicPartition

            mine = [TopicPartition(tp.topic, tp.partition) for tp in assigned
                    if tp.topic in sink.topics]
            try:
                self._thread._ensure_consumer().pause(*mine)
            except Exception as exc:  # noqa: BLE001 - _fetch_records pauses them later
                log.info("not pausing the scorer's partitions in aiokafka yet: %r", exc)
        await super().on_partitions_assigned(assigned, generation_id)

    async def on_stop(self) -> None:
        await super().on_stop()  # waits for the agent's batches (wait_empty)
        if self._hot is not None:
            self._hot.stop()

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
        if getattr(self.app, "hot_fetch_config", None) is not None and wait_ms is not None:
            # Only the changelogs are fetched here: no record waits behind this wait.
            wait_ms = max(wait_ms, CHANGELOG_FETCH_WAIT_MS)
        if wait_ms is not None:
            min_kb = getattr(self.app, "fetch_min_kb", None)
            consumer._fetch_max_wait_ms = int(wait_ms)
            consumer._fetch_min_bytes = (FETCH_MIN_BYTES if min_kb is None
                                         else max(1, int(min_kb) * 1024))
        return consumer


    async def _fetch_records(self, consumer: Any, active_partitions: Any,
                             timeout: float | None = None,
                             max_records: int | None = None) -> Any:
        sink = getattr(self.app, "batch_sink", None)
        if sink is not None and getattr(self.app, "hot_fetch_config", None) is not None:
            # librdkafka fetches the scorer's partitions (streams/worker/hotfetch.py): aiokafka
            # must not (its position and buffer for them would be wasted work and memory).
            mine = {tp for tp in consumer.assignment() if tp.topic in sink.topics}
            if mine - consumer.paused():
                consumer.pause(*(mine - consumer.paused()))
        return await super()._fetch_records(consumer, active_partitions, timeout=timeout,
                                             max_records=max_records)


# aiokafka's fetch wait when it fetches only the changelogs (LEADSCORE_HOT_FETCH=librdkafka):
# a standby's or a recovery's records, where a few tens of ms do not matter, for ~10 empty
# fetches a second instead of ~200.
CHANGELOG_FETCH_WAIT_MS = 100.0


class BatchTransport(faust_aiokafka.Transport):
    """Faust's aiokafka transport, with :class:`BatchConsumer`."""

    Consumer = BatchConsumer


async def wait_idle(busy: Callable[[], bool], changed: asyncio.Event) -> None:
    """Wait until ``busy()`` is false, re-checking whenever ``changed`` is set."""
    while busy():
        changed.clear()
        if busy():
            await changed.wait()
