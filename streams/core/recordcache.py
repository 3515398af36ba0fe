"""Decoded lead records kept between batches, so a busy lead is not decoded again each batch.

Why: decoding lead records (:meth:`LeadRecord.from_bytes`) was the largest single cost left in
the worker at 2,000 events/s (13% of its py-spy samples): a busy lead's record is read,
decoded, folded and written back batch after batch. This keeps, for the keys written most
recently, the bytes written and the record they were encoded from; a read that finds exactly
those bytes in the table reuses the record.

Coherence does not depend on knowing who else writes the table: a recovery, a rebalance or
another worker's changelog change the bytes, and a value that is not the one cached is
decoded as before. A batch *takes* the records it reads (they leave the cache) and puts back
only what it writes, so a record changed by a batch that never wrote it (an exception, a batch
dropped in a rebalance) is never reused.

Reusing a record must give what decoding its bytes gives. The format keeps everything exactly
except the score history's probabilities (float32), which :mod:`streams.core.quality` rounds
when it stores them; tests/unit/test_recordcache.py runs the same events with and without the
cache and compares every output and every byte written.
"""

from __future__ import annotations

from collections import OrderedDict

from streams.core.record import LeadRecord, untrack


class RecordCache:
    """At most ``capacity`` records, the least recently written dropped first (0: off)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._items: OrderedDict[str, tuple[bytes, LeadRecord]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def take(self, key: str, raw: bytes) -> LeadRecord | None:
        """The record whose encoding is ``raw`` (the table's value), removed from the cache;
        None when the cache has another value for the key, or none."""
        item = self._items.pop(key, None)
        if item is None or not (item[0] is raw or item[0] == raw):
            return None
        return item[1]

    def put(self, key: str, raw: bytes, rec: LeadRecord) -> None:
        """``rec`` was just encoded as ``raw`` and written under ``key``."""
        if self.capacity <= 0:
            return
        items = self._items
        items.pop(key, None)
        entry = (raw, rec)
        untrack(entry)  # kept for long: out of the garbage collector's sight (record.py)
        items[key] = entry
        if len(items) > self.capacity:
            items.popitem(last=False)

    def discard(self, key: str) -> None:
        self._items.pop(key, None)
