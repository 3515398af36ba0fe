"""What a fetcher hands the scorer's agent: a batch (:class:`Fetched`) and where it goes
(:class:`BatchSink`). Shared by both fetchers (:mod:`streams.worker.fetch`, Faust's consumer,
and :mod:`streams.worker.hotfetch`, librdkafka's) and the agent, so neither fetcher imports
the other's module for them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from faust.types import TP


@dataclass
class Fetched:
    """One batch of the agent's topics: aiokafka ConsumerRecords per partition (each a run of
    consecutive offsets), and the same records in the order to process them (``ordered``:
    event-time order within a task, :mod:`streams.worker.order`)."""

    generation: int
    by_tp: dict[TP, list[Any]]
    ordered: list[Any] | None = None
    # False once the batch must not be processed any more (its fetcher gave its partitions
    # up: streams/worker/hotfetch.py); None: only the generation decides.
    live: Callable[[], bool] | None = None
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
        return Fetched(self.generation, keep, ordered, self.live)

    def stale(self, generation: int | None) -> bool:
        """Fetched before a rebalance (or given up by its fetcher): its records are fetched
        again from the committed offsets."""
        return self.generation != generation or (self.live is not None and not self.live())

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
