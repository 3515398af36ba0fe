"""The scorer's records fetched by librdkafka, assigned from Faust's group
(``LEADSCORE_HOT_FETCH=librdkafka``, the default; ``faust``: Faust's consumer, :mod:`.fetch`).

Why: with Faust's consumer fetching the scorer's topics, every fetch cycle is aiokafka's
Python in Faust's consumer thread: ~0.75 ms per fetch of the worker's 24 partitions, ~0.18
cores at 2,000 events/s with a 5 ms fetch wait, and a thread that competes with the scorer
for the GIL. librdkafka fetches in its own C threads, so the only Python left per batch is
one ``poll``/``consume`` and one hand-over to the event loop. Measured (README, Performance):
p50 at 2,000/s a few ms lower than on Faust's consumer, runs in turns, and ~10-20 CPU-us
less per event. It was opt-in while it held more memory behind a large backlog; that was
orjson's 4 KiB buffers in the batches in flight (:mod:`schemas.jsonbytes`), which a faster
fetch kept more of: since that fix the two peak within ~30 MiB of each other, under 400.

What stays Faust's: the group membership and rebalancing, table recovery and standbys, the
changelogs (its aiokafka consumer keeps fetching those, and only those: the scorer's
partitions are paused there at each assignment), and the commits (the agent commits through
Faust's consumer as before, :mod:`streams.worker.commit`). This consumer joins no group; it
is assigned by hand.

How its position stays right:

- It holds exactly the scorer's partitions Faust has made active (assigned, recovered, flow
  running), each from the group's committed offset (else the log's start, as Faust's
  ``earliest``), read only after every batch the agent started has been committed
  (:meth:`BatchSink.drain`).
- Whenever that set changes (a rebalance stops the flow, a new generation, a recovery ends),
  it gives up every partition at once: what it fetched and did not deliver is dropped, the
  batches already handed over and not started are dropped by the agent (:attr:`Fetched.live`
  turns false), and the next assignment re-reads from the committed offsets. A change is
  rare, and re-reading at most the uncommitted tail is what a restart does anyway.
- The event-time ordering (:mod:`streams.worker.order`) works as with Faust's consumer: the
  lag it needs (records on the broker not fetched yet) is librdkafka's cached high watermark
  minus the next offset to fetch, read by the fetching thread after each poll.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

from faust.types import TP

from streams.worker.batches import BatchSink, Fetched
from streams.worker.order import OrderBuffer

if TYPE_CHECKING:
    from faust.transport.consumer import Consumer

log = logging.getLogger(__name__)

# How long the fetching thread waits in one poll for a first record, seconds: the bound on
# how late it applies an assignment change or notices a stop.
POLL_S = 0.05
# Batches fetched and not yet taken by the event loop: the thread waits beyond this.
AHEAD = 2
# Records one partition holds for the event-time order, in batches (LEADSCORE_BATCH_MAX):
# at PAUSE_BATCHES it is paused (librdkafka fetches far ahead of the scorer: memory), and
# resumed once it holds RESUME_BATCHES or fewer (not 0: see HotFetch._pause_full).
PAUSE_BATCHES = 2
RESUME_BATCHES = 0.5


class Rec(NamedTuple):
    """A fetched record, with the attributes the scorer reads of aiokafka's records."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp: int  # ms, the record's Kafka timestamp


# What the thread hands over: the assignment's epoch, the records per partition, then per
# partition the records on the broker not fetched yet and the high watermark (both as of
# librdkafka's last fetch response; a partition without one yet is left out).
Item = tuple[int, dict[TP, list[Rec]], dict[TP, int], dict[TP, int]]


class _Fetching(threading.Thread):
    """Polls the librdkafka consumer in batches; applies the event loop's commands (assign,
    pause, stop) between polls, so the consumer is only ever used from this thread."""

    def __init__(self, config: dict[str, Any], max_records: int,
                 hand_over: Callable[[Item], None]) -> None:
        super().__init__(name="leadscore-hot-fetch", daemon=True)
        self.config, self.max_records, self.hand_over = config, max_records, hand_over
        self.commands: queue.SimpleQueue[tuple[Any, ...]] = queue.SimpleQueue()
        self.room = threading.Semaphore(AHEAD)
        self.stopping = False

    def run(self) -> None:
        try:
            self._run()
        except BaseException:  # noqa: BLE001 - a worker that silently stopped fetching
            # would look alive and score nothing; exiting like a failed batch redoes it all.
            log.critical("the scorer's fetching thread failed; exiting", exc_info=True)
            os._exit(70)

    def _run(self) -> None:
        from confluent_kafka import Consumer, TopicPartition

        c = Consumer(self.config)
        epoch, parts = 0, []  # the assignment's epoch, its TopicPartitions
        at: dict[TP, int] = {}  # the next offset to fetch, per assigned partition
        try:
            while not self.stopping:
                while True:
                    try:
                        cmd = self.commands.get_nowait()
                    except queue.Empty:
                        break
                    if cmd[0] == "assign":
                        epoch = cmd[1]
                        parts = self._starts_retrying(c, [TopicPartition(tp.topic, tp.partition)
                                                          for tp in cmd[2]])
                        at = {TP(p.topic, p.partition): p.offset for p in parts}
                        if parts:
                            c.assign(parts)
                        else:
                            c.unassign()
                    elif cmd[0] == "pause":
                        c.pause([TopicPartition(tp.topic, tp.partition) for tp in cmd[1]])
                    elif cmd[0] == "resume":
                        c.resume([TopicPartition(tp.topic, tp.partition) for tp in cmd[1]])
                if not parts:
                    time.sleep(POLL_S)
                    continue
                first = c.poll(POLL_S)
                msgs: list[Any] = ([] if first is None
                                   else [first, *c.consume(self.max_records - 1, 0)])
                by_tp: dict[TP, list[Rec]] = {}
                for m in msgs:
                    err = m.error()
                    if err is not None:
                        log.warning("fetching the scorer's records: %s", err)
                        continue
                    tp = TP(m.topic(), m.partition())
                    recs = by_tp.get(tp)
                    if recs is None:
                        recs = by_tp[tp] = []
                    recs.append(Rec(tp.topic, tp.partition, m.offset(), m.key(), m.value(),
                                    m.timestamp()[1]))
                for tp, recs in by_tp.items():
                    at[tp] = recs[-1].offset + 1
                lags = self._lags(c, parts, at)
                highs = {tp: at[tp] + n for tp, n in lags.items()}
                if by_tp or first is None:
                    self.room.acquire()
                    if self.stopping:
                        break
                    self.hand_over((epoch, by_tp, lags, highs))
        finally:
            c.close()

    def _starts_retrying(self, c: Any, parts: list[Any]) -> list[Any]:
        """:meth:`_starts`, retried each second while the broker does not answer (an outage
        during a rebalance), until it does, a newer command supersedes this one (then
        nothing is assigned: []) or the worker stops."""
        from confluent_kafka import KafkaException

        while not self.stopping:
            try:
                return self._starts(c, parts)
            except (KafkaException, RuntimeError) as exc:
                log.warning("reading where the scorer's partitions start: %s; retrying", exc)
                time.sleep(1.0)
                if not self.commands.empty():
                    break
        return []

    @staticmethod
    def _starts(c: Any, parts: list[Any]) -> list[Any]:
        """Where each partition starts: the group's committed offset, else the beginning of
        the log (``earliest``, as Faust's consumer starts). Read here, not left to
        librdkafka, so the ordering knows every partition's position (an idle partition's
        lag is then known, not waited for) from the start."""
        if not parts:
            return []
        starts = c.committed(parts, timeout=30)
        for p in starts:
            if p.error is not None:
                raise RuntimeError(f"reading the committed offset of {p.topic}[{p.partition}]: "
                                   f"{p.error}")
            if p.offset < 0:
                p.offset = c.get_watermark_offsets(p, timeout=30)[0]
        return list(starts)

    @staticmethod
    def _lags(c: Any, parts: list[Any], at: dict[TP, int]) -> dict[TP, int]:
        """Records on the broker not fetched yet, per partition: librdkafka's cached high
        watermark (from its last fetch response) minus the next offset to fetch; a
        partition without one yet is left out (unknown)."""
        out: dict[TP, int] = {}
        for p in parts:
            high = c.get_watermark_offsets(p, cached=True)[1]
            if high >= 0:
                tp = TP(p.topic, p.partition)
                out[tp] = max(0, high - at[tp])
        return out


class HotFetch:
    """Feeds the scorer's agent from a librdkafka consumer; owned by :class:`BatchConsumer`
    (started at its first fetch, stopped with it)."""

    def __init__(self, consumer: Consumer, sink: BatchSink, config: dict[str, Any],
                 order: OrderBuffer) -> None:
        self.consumer, self.sink, self.order = consumer, sink, order
        self.limit = consumer.app.conf.broker_max_poll_records or 1000
        self.loop = asyncio.get_running_loop()
        self.items: deque[Item] = deque()
        self.arrived = asyncio.Event()
        self.thread = _Fetching(config, self.limit, self._from_thread)
        self.epoch = 0
        self.assigned: frozenset[TP] = frozenset()
        self.generation: int | None = None
        self.paused: set[TP] = set()
        self.lags: dict[TP, int] = {}
        self.highs: dict[TP, int] = {}
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.thread.start()
        self.task = asyncio.ensure_future(self._run())

    def stop(self) -> None:
        self.thread.stopping = True
        self.thread.room.release()
        if self.task is not None:
            self.task.cancel()

    def _from_thread(self, item: Item) -> None:
        self.loop.call_soon_threadsafe(self._arrive, item)

    def _arrive(self, item: Item) -> None:
        self.items.append(item)
        self.arrived.set()

    async def _next(self, timeout: float) -> Item:
        """The thread's next batch, or an empty one (epoch -1) after ``timeout`` seconds."""
        if not self.items:
            self.arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.arrived.wait(), timeout)
        if not self.items:
            return -1, {}, {}, {}
        self.thread.room.release()
        return self.items.popleft()

    def lag_of(self, tp: TP) -> int | None:
        return self.lags.get(tp)

    def high_of(self, tp: TP) -> int | None:
        """The partition's high watermark as librdkafka last saw it; None if not held or
        not known yet (the consumer-lag gauge: aiokafka never fetches these partitions)."""
        return self.highs.get(tp)

    def _wanted(self) -> frozenset[TP]:
        """The scorer's partitions Faust has made active: assigned, recovered, flowing."""
        c = self.consumer
        if not c.flow_active or c.should_stop:
            return frozenset()
        topics = self.sink.topics
        assigned = c.assignment()
        return frozenset(tp for tp in c._get_active_partitions()
                         if tp.topic in topics and tp in assigned)

    async def _sync(self) -> None:
        """Give up every partition when the wanted set or the generation changed; assign the
        new set from the committed offsets once all started batches are committed."""
        want = self._wanted()
        generation = self.consumer.app.consumer_generation_id
        if want == self.assigned and generation == self.generation:
            return
        self.epoch += 1  # batches fetched or handed over under the old assignment: dropped
        epoch = self.epoch
        self.thread.commands.put(("assign", epoch, []))
        self.assigned, self.generation = frozenset(), generation
        self.order.clear()
        self.paused.clear()
        self.lags.clear()
        self.highs.clear()
        if not want:
            return
        await self.sink.drain()  # the committed offsets are now every started batch's
        if (epoch != self.epoch or want != self._wanted()
                or generation != self.consumer.app.consumer_generation_id):
            return  # changed meanwhile: the next round starts over
        self.thread.commands.put(("assign", epoch, sorted(want)))
        self.order.assign(want)
        self.assigned = want

    async def _run(self) -> None:
        try:
            await self._deliver_forever()
        except asyncio.CancelledError:
            raise
        except BaseException:  # noqa: BLE001 - as the fetching thread: never a silent stop
            log.critical("handing fetched batches to the scorer failed; exiting",
                         exc_info=True)
            os._exit(70)

    async def _deliver_forever(self) -> None:
        order, c = self.order, self.consumer
        while True:
            await self._sync()
            held = order.holding(time.monotonic(), self.lag_of)
            epoch, by_tp, lags, highs = await self._next(
                POLL_S if held is None else max(0.0, min(POLL_S, held)))
            if epoch == self.epoch and self.assigned:
                self.lags.update(lags)
                self.highs.update(highs)
                for tp, recs in by_tp.items():
                    if tp in self.assigned:
                        order.add(tp, recs)
                        c.app.monitor.track_tp_end_offset(tp, recs[-1].offset + 1
                                                          + lags.get(tp, 0))
                self._pause_full()
            released = order.take(time.monotonic(), self.lag_of, self.limit)
            if not released.records:
                continue
            if not c.flow_active or self._wanted() != self.assigned:
                continue  # a rebalance began: the next _sync gives everything up
            await self.sink.deliver(Fetched(
                c.app.consumer_generation_id, released.by_tp, released.records,
                self._live(self.epoch)))
            read = c._read_offset
            for tp, recs in released.by_tp.items():
                read[tp] = recs[-1].offset

    def _live(self, epoch: int) -> Callable[[], bool]:
        """True while the assignment of ``epoch`` holds (its batches may be processed)."""
        return lambda: self.epoch == epoch

    def _pause_full(self) -> None:
        """Fetch no more of a partition holding :data:`PAUSE_BATCHES` batches for the
        event-time order (a topic far ahead of the others in event time: memory) until it
        holds :data:`RESUME_BATCHES` or fewer; every other partition keeps fetching.

        Why per partition, and why resumed before it runs dry: librdkafka's pause drops what
        it prefetched for the partition (librdkafka#5343), so a resumed partition starts a
        new fetch, a round trip. A global bound that paused every partition holding records
        also paused the busy ones the merge was about to need; they ran dry while paused,
        and the whole task waited for their fetch: on the bench's 200,000-event backlog the
        ordering held the scorer 0.3-0.8 s of every second for its first 20 s (8,067 and
        8,353 events/s, against 9,593 and 10,494 with this rule, runs in turns). Resumed
        with half a batch still held, a partition has records to give while its fetch
        comes back."""
        pause_at = PAUSE_BATCHES * self.limit
        resume_at = RESUME_BATCHES * self.limit
        paused = self.paused
        full = {tp for tp, n in self.order.held_by_partition().items()
                if n >= pause_at or (tp in paused and n > resume_at)}
        if full != paused:
            if full - paused:
                self.thread.commands.put(("pause", sorted(full - paused)))
            if paused - full:
                self.thread.commands.put(("resume", sorted(paused - full)))
            self.paused = full
