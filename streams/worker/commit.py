"""The one place that decides when a batch is done: the delivery guarantee in one screen.

For each processed batch, in this order, one batch after the other:

1. its outputs (score changes, alerts, handoffs, dead letters) are handed to the producer as
   soon as the batch is processed, and the broker's acknowledgements are awaited;
2. then its table records are produced to the changelog topics (explicit partitions), and
   their acknowledgements awaited;
3. then they are written to RocksDB, one write batch per table partition holding the
   partition's persisted changelog offset (:mod:`streams.worker.state`);
4. then its input offsets are committed, through Faust's consumer (the group member).

Why this order. State written before its outputs were acknowledged could survive a crash
that lost the outputs: the batch, redone, would find its events already folded (their ids
are in the state) and send nothing, and an alert would be lost. Offsets committed before the
changelog was acknowledged could survive a crash that lost the state: the events would never
be read again. Written in this order, a crash anywhere redoes the batch from state without
it (same outputs again, same idempotency keys) or finds it folded with its outputs already
sent. RocksDB is written after the changelog is acknowledged, so the local database never
holds state the changelog lacks (a restarted worker trusts it up to the persisted offset).

What overlaps. Steps 1-4 of a batch run in :meth:`Committer.run` while the agent processes
the next batches, which read the in-flight records from memory
(:class:`streams.worker.state.Pending`). Steps 2-4 run every ``LEADSCORE_COMMIT_INTERVAL_MS``
for all the batches whose outputs are acknowledged by then: each key once in the changelog
(its last value), one RocksDB write batch per partition, one commit (quixstreams' checkpoint
model; sooner when ``LEADSCORE_BATCHES_IN_FLIGHT`` batches wait, or a rebalance or a stop
drains the worker). A batch is counted in the metrics once its state is written;
event-to-score latency ends when its outputs were acknowledged, which the interval does not
delay.

Failures. A delivery that fails after the producer's retries, or any error here, exits the
worker at once (status 70) without committing: like a kill -9, the restarted worker redoes
everything uncommitted. Faust would otherwise restart the agent and carry on past the batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from faust.types import TP

from streams.core.processing import BatchResult
from streams.worker.batches import Fetched
from streams.worker.producer import Acks, BatchProducer
from streams.worker.state import (
    PartitionWrites,
    Pending,
    changelog_records,
    combine,
    write_rocksdb,
)

log = logging.getLogger(__name__)


@dataclass
class InFlight:
    """A processed batch on its way to being committed."""

    seq: int
    fetched: Fetched
    result: BatchResult
    parts: list[PartitionWrites]
    outputs: Acks
    started: float  # perf_counter when processing began
    record_times: list[float]  # Kafka timestamps (epoch s) of the batch's records, by index
    topics: list[str]  # topic of each record, by index


class Committer:
    """Takes processed batches from the agent and sees each through steps 1-4, in order."""

    def __init__(self, consumer: Any, producer: BatchProducer, pending: Pending,
                 on_done: Callable[[InFlight], None], max_in_flight: int = 32,
                 interval: float = 0.1, exit: Callable[[int], None] = os._exit) -> None:
        self.consumer = consumer
        self.producer = producer
        self.pending = pending
        self.on_done = on_done
        self.max_in_flight = max_in_flight
        self.interval = interval
        self._exit = exit
        self._last = time.monotonic()  # when the last group was committed
        self._draining = False
        self._queue: deque[InFlight] = deque()
        self._changed = asyncio.Event()
        self._seq = 0
        self.busy = False  # the agent is processing a batch it has not submitted yet
        self.closed = False  # the agent stopped: nothing more will be committed here

    # ------------------------------------------------------------------ the agent's side
    async def submit(self, fetched: Fetched, records: Sequence[Any], result: BatchResult,
                     started: float) -> None:
        """Step 1 starts now: the outputs go to the producer. Returns at once unless
        ``max_in_flight`` batches are already pending (then once the oldest is done)."""
        self._seq += 1
        parts = self.pending.stage(self._seq, result.writes, [r.partition for r in records])
        outputs = self.producer.send((o.topic, None, o.key, o.value) for o in result.outputs)
        self._queue.append(InFlight(
            self._seq, fetched, result, parts, outputs, started,
            [(r.timestamp or 0) / 1000.0 for r in records], [r.topic for r in records]))
        self._signal()
        while len(self._queue) > self.max_in_flight and not self.closed:
            await self._wait_change()

    def begin(self) -> None:
        """The agent took a batch: a rebalance must wait for it."""
        self.busy = True

    def end(self) -> None:
        """The agent submitted (or dropped) the batch it took."""
        self.busy = False
        self._signal()

    def idle(self) -> bool:
        return self.closed or (not self.busy and not self._queue)

    def close(self) -> None:
        """The agent stopped: what is in flight stays uncommitted (it is redone)."""
        self.closed = True
        self._signal()

    async def drain(self) -> None:
        """Return once every batch the agent started is committed (a rebalance or a stop
        waits for this before partitions are given away); no waiting for the interval."""
        self._draining = True
        self._signal()
        try:
            while not self.idle():
                await self._wait_change()
        finally:
            self._draining = False

    # ------------------------------------------------------------------ steps 1-4
    async def run(self) -> None:
        """The committing loop (runs beside the agent's loop, inside the agent)."""
        try:
            while True:
                while not self._queue:
                    await self._wait_change()
                await self._queue[0].outputs.wait()  # step 1 (raises a failed delivery)
                while not self._due():
                    await self._wait_change(self.interval - (time.monotonic() - self._last))
                await self._complete_ready()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.critical("a batch could not be delivered, written or committed; exiting so "
                         "it is redone", exc_info=True)
            self._exit(70)

    def _due(self) -> bool:
        """A group is written every ``interval`` (or at once when the agent is held back,
        or a rebalance or stop waits)."""
        return (self._draining or self.closed or len(self._queue) >= self.max_in_flight
                or time.monotonic() - self._last >= self.interval)

    async def _complete_ready(self) -> None:
        """Steps 2-4 for the oldest batch (its outputs are acknowledged) and every next one
        whose outputs are acknowledged by then: their changelog records in one send (each
        key once, its last value), one RocksDB write batch per table partition, one commit."""
        group = [self._queue[0]]
        while len(group) < len(self._queue) and self._queue[len(group)].outputs.done():
            await self._queue[len(group)].outputs.wait()  # raises a failed delivery
            group.append(self._queue[len(group)])
        parts = combine([b.parts for b in group])
        changelog = self.producer.send(changelog_records(parts))  # step 2
        await changelog.wait()
        write_rocksdb(parts, changelog.offsets)  # step 3
        offsets: dict[TP, int] = {}
        for b in group:
            self.pending.release(b.seq, b.parts)
            offsets.update(b.fetched.next_offsets())
            self._queue.popleft()
        await self.consumer.commit_batch(offsets)  # step 4
        self._last = time.monotonic()
        for b in group:
            self.on_done(b)
        self._signal()

    # ------------------------------------------------------------------ bookkeeping
    def _signal(self) -> None:
        self._changed.set()

    async def _wait_change(self, timeout: float | None = None) -> None:
        self._changed.clear()
        if timeout is None:
            await self._changed.wait()
        elif timeout > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout)
