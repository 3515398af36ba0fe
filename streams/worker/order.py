"""Event-time order across a lead's input topics: what Kafka Streams' PartitionGroup does for
a task, for the scorer's batches.

Why: a lead's events arrive on five co-partitioned topics (same key, same partition number).
After a backlog (an outage, a new worker catching up, history loaded with ``leadscore
produce``) the consumer reads the topics at different speeds: a whole day of website events
can be fetched before the email events of the same hours. The state drops an event more than
48 h behind the lead's newest as late, so the worker dropped events that ``leadscore replay``
(which reads the history in time order) kept, and ended with other scores.

So the fetched records of the input partitions with the same partition number (a "task", as
in Kafka Streams) are buffered, and released to the scorer in order of event time (the
event's ``occurred_at``, read from the bytes; the Kafka timestamp when there is none, e.g. a
garbage record, which only goes to the dead letters anyway). A task releases nothing while
one of its partitions has nothing buffered but is known to have more on the broker (fetch
lag above 0, or not known yet): its next record could be the oldest. Unlike Kafka Streams,
which waits for such a partition without bound (``max.task.idle.ms`` only bounds the wait
for *producers* when the lag is 0), the wait is bounded (``LEADSCORE_ORDER_WAIT_MS``): a
partition whose leader cannot be reached must not stop the others for the length of an
outage. A partition with lag 0 is never waited for (Kafka Streams' default,
``max.task.idle.ms=0``): live traffic is not delayed to wait for producers.

Offsets: each partition's records are released as a prefix of what was fetched, in offset
order, so the offset committed after a batch (last released + 1) never passes a held record;
held records are simply fetched again by a restarted worker. Records of other topics (the
handoff topic) are not ordered: they are released with the next batch.

Pure (the lags and the clock are passed in), so tests/unit/test_order.py drives it with
synthetic records; :class:`streams.worker.fetch.BatchConsumer` feeds it from aiokafka.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

OCCURRED_AT = b'"occurred_at"'


def event_time_ms(value: bytes | None, fallback_ms: float) -> float:
    """The event's ``occurred_at`` (epoch ms) from its JSON bytes, without parsing the rest;
    ``fallback_ms`` (the Kafka timestamp) when there is none or it is not a timestamp."""
    if not value:
        return fallback_ms
    i = value.find(OCCURRED_AT)
    if i < 0:
        return fallback_ms
    start = value.find(b'"', i + 13) + 1
    end = value.find(b'"', start)
    if start <= 0 or end < 0 or end - start > 40:
        return fallback_ms
    try:
        moment = datetime.fromisoformat(value[start:end].decode("ascii"))
    except (ValueError, UnicodeDecodeError):
        return fallback_ms
    if moment.tzinfo is None:  # the contract refuses these; ordering them as UTC is harmless
        return fallback_ms
    return moment.timestamp() * 1000.0


def record_time(record: Any) -> float:
    return event_time_ms(record.value, float(record.timestamp or 0))


@dataclass
class _Buffer:
    """A partition's fetched records not released yet, in offset order, with their keys."""

    records: list[Any] = field(default_factory=list)
    keys: list[float] = field(default_factory=list)
    head: int = 0  # index of the first record not released

    def __len__(self) -> int:
        return len(self.records) - self.head

    def compact(self) -> None:
        if self.head:
            del self.records[: self.head]
            del self.keys[: self.head]
            self.head = 0


@dataclass
class Released:
    """What :meth:`OrderBuffer.take` lets go: ``records`` in the order to process them, and
    the same records per partition (each a prefix of what was buffered, in offset order)."""

    records: list[Any]
    by_tp: dict[Any, list[Any]]


class OrderBuffer:
    """Buffers fetched records per partition; releases each task's records in event-time
    order once no partition of the task is waited for.

    ``task_of(tp)``: the task of an ordered partition, None for a partition whose records
    pass through unordered. ``wait_s``: longest wait for a partition with lag. ``full_at``:
    a partition with this many buffered records is not fetched until it has fewer
    (:meth:`full`), which bounds memory when one topic runs far ahead of the others."""

    def __init__(self, task_of: Callable[[Any], Hashable | None], wait_s: float,
                 full_at: int = 5000, key: Callable[[Any], float] = record_time) -> None:
        self.task_of = task_of
        self.wait_s = wait_s
        self.full_at = full_at
        self.key = key
        self._tasks: dict[Hashable, list[Any]] = {}  # task -> its partitions
        self._bufs: dict[Any, _Buffer] = {}
        self._passing: dict[Any, list[Any]] = {}  # unordered partitions' records
        self._waiting_since: dict[Any, float] = {}
        self._next_task = 0  # where the next take starts (fairness across tasks)
        self.buffered = 0  # records held, all partitions

    # ------------------------------------------------------------------ input
    def assign(self, tps: Iterable[Any]) -> None:
        """The partitions to order (all the consumer's assigned ones may be passed: those
        whose ``task_of`` is None are ignored). Forgets everything buffered."""
        self.clear()
        for tp in sorted(tps, key=lambda t: (t.partition, t.topic)):
            task = self.task_of(tp)
            if task is not None:
                self._tasks.setdefault(task, []).append(tp)
                self._bufs[tp] = _Buffer()

    def add(self, tp: Any, records: list[Any]) -> None:
        """Fetched records of ``tp``, in offset order, following what was added before."""
        buf = self._bufs.get(tp)
        if buf is None:
            self._passing.setdefault(tp, []).extend(records)
            return
        key = self.key
        buf.records.extend(records)
        buf.keys.extend([key(r) for r in records])
        self.buffered += len(records)

    def full(self) -> set[Any]:
        """Partitions not to fetch for now (their buffers are full)."""
        if self.buffered < self.full_at:
            return set()
        return {tp for tp, b in self._bufs.items() if len(b) >= self.full_at}

    def held_by_partition(self) -> dict[Any, int]:
        """Records buffered per ordered partition (those holding any)."""
        return {tp: len(b) for tp, b in self._bufs.items() if len(b)}

    def drop(self, tp: Any) -> int | None:
        """Forget ``tp``'s buffered records (it is sought back); the first one's offset."""
        buf = self._bufs.get(tp)
        if buf is None or not len(buf):
            return None
        first = buf.records[buf.head].offset
        self.buffered -= len(buf)
        self._bufs[tp] = _Buffer()
        return int(first)

    def clear(self) -> None:
        self._tasks.clear()
        self._bufs.clear()
        self._passing.clear()
        self._waiting_since.clear()
        self.buffered = 0

    # ------------------------------------------------------------------ output
    def take(self, now: float, lag_of: Callable[[Any], int | None],
             limit: int) -> Released:
        """Release up to ``limit`` records (unordered partitions' ones always all), each task's
        in event-time order, stopping a task where a partition of it must be waited for.
        ``lag_of(tp)``: records of ``tp`` on the broker not fetched yet (None: unknown)."""
        out: list[Any] = []
        by_tp: dict[Any, list[Any]] = {}
        for tp, recs in self._passing.items():
            out += recs
            by_tp[tp] = recs
        self._passing = {}
        tasks = list(self._tasks.values())
        if not tasks or not self.buffered:
            return Released(out, by_tp)
        start = self._next_task % len(tasks)
        self._next_task += 1
        budget = limit
        for i in range(len(tasks)):
            if budget <= 0:
                break
            budget -= self._take_task(tasks[(start + i) % len(tasks)], now, lag_of, budget,
                                      out, by_tp)
        return Released(out, by_tp)

    def holding(self, now: float, lag_of: Callable[[Any], int | None]) -> float | None:
        """Seconds until a held task's wait ends (None: nothing is held for a wait)."""
        soonest: float | None = None
        for tps in self._tasks.values():
            if not any(len(self._bufs[tp]) for tp in tps):
                continue
            for tp in tps:
                if not len(self._bufs[tp]) and self._waits(tp, now, lag_of):
                    left = self.wait_s - (now - self._waiting_since[tp])
                    soonest = left if soonest is None else min(soonest, left)
        return soonest

    def _waits(self, tp: Any, now: float, lag_of: Callable[[Any], int | None]) -> bool:
        """``tp`` (empty) holds its task back: it has more on the broker (or its lag is not
        known yet) and has not been waited for ``wait_s`` since it ran empty."""
        lag = lag_of(tp)
        if lag is not None and lag <= 0:
            self._waiting_since.pop(tp, None)
            return False
        since = self._waiting_since.setdefault(tp, now)
        return now - since < self.wait_s

    def _take_task(self, tps: list[Any], now: float, lag_of: Callable[[Any], int | None],
                   budget: int, out: list[Any], by_tp: dict[Any, list[Any]]) -> int:
        bufs = self._bufs
        ready = [tp for tp in tps if len(bufs[tp])]
        if not ready:
            return 0
        for tp in ready:
            self._waiting_since.pop(tp, None)
        if any(self._waits(tp, now, lag_of) for tp in tps if not len(bufs[tp])):
            return 0
        taken: dict[Any, int] = {}
        if len(ready) == 1:  # nothing to merge with: the partition's records in offset order
            tp = ready[0]
            buf = bufs[tp]
            n = min(len(buf), budget)
            out += buf.records[buf.head: buf.head + n]
            taken[tp] = n
        else:
            heap = [(bufs[tp].keys[bufs[tp].head], j, tp) for j, tp in enumerate(ready)]
            heapq.heapify(heap)
            pos = {tp: bufs[tp].head for tp in ready}
            n = 0
            while heap and n < budget:
                _, j, tp = heap[0]
                buf = bufs[tp]
                p = pos[tp]
                out.append(buf.records[p])
                n += 1
                p += 1
                pos[tp] = p
                if p < len(buf.records):
                    heapq.heapreplace(heap, (buf.keys[p], j, tp))
                    continue
                heapq.heappop(heap)
                if self._waits(tp, now, lag_of):
                    break  # its next record, not fetched yet, could be the oldest
            taken = {tp: pos[tp] - bufs[tp].head for tp in ready if pos[tp] > bufs[tp].head}
        total = 0
        for tp, k in taken.items():
            buf = bufs[tp]
            by_tp[tp] = buf.records[buf.head: buf.head + k]
            buf.head += k
            total += k
            if buf.head > 4096 or buf.head == len(buf.records):
                buf.compact()
        self.buffered -= total
        return total
