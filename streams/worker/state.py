"""The tables' state as the hot path reads and writes it: Faust's own RocksDB databases and
changelog topics, written in Faust's format, one write batch per partition per batch.

Why not ``table[key] = value``: through Faust every write is a changelog publish through its
send buffer and a RocksDB put per acknowledgement (``set_persisted_offset``), one record at a
time. Here a batch's writes become, per table partition, changelog records with explicit
partitions (key = the key as Faust's JSON key serializer writes it, value = the raw bytes
Faust's raw value serializer keeps, a deletion = a tombstone: what Faust's recovery and its
standby replicas read back with ``apply_changelog_batch``), then ONE RocksDB write batch
holding the records and the partition's persisted changelog offset (``__faust\\0offset__``,
the offset of its last changelog record, as Faust stores it).

Ordering (:mod:`streams.worker.commit` drives it): the RocksDB write happens only after the
broker acknowledged the changelog records, so the local database never holds state the
changelog lacks; a kill -9 between the two leaves the changelog ahead, and Faust's recovery
reads it back from the persisted offset. Until then a batch's records are kept in memory
(:class:`Pending`), so the next batch, processed while this one is in flight, reads them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from rocksdict import WriteBatch

from schemas.jsonbytes import dumps
from streams.core.processing import Write
from streams.worker.producer import Record

OFFSET_KEY = b"__faust\0offset__"  # faust.stores.rocksdb.Store.offset_key


def encode_key(key: str) -> bytes:
    """A table key as Faust's JSON key serializer writes it (faust.utils.json: orjson)."""
    return dumps(key)


@dataclass(frozen=True)
class PartitionWrites:
    """One table partition's share of a batch: (key, encoded key, value or None to delete)."""

    table: TableStore
    partition: int
    items: list[tuple[str, bytes, bytes | None]]


class TableStore:
    """One Faust table (RocksDB store) as the hot path sees it."""

    def __init__(self, table: Any) -> None:
        self.table = table
        self.name: str = table.name
        self.changelog: str = table.changelog_topic.get_topic_name()
        # key -> (value or None, sequence number of the batch that wrote it): written by a
        # batch whose changelog is not yet acknowledged, so not yet in RocksDB.
        self.pending: dict[str, tuple[bytes | None, int]] = {}

    def db(self, partition: int) -> Any:
        """The partition's rocksdict database, as Faust opened it."""
        return self.table.data._db_for_partition(partition)

    def get(self, key: str, partition: int) -> bytes | None:
        pending = self.pending.get(key)
        if pending is not None:
            return pending[0]
        value: bytes | None = self.db(partition).get(encode_key(key))
        return value


def write_rocksdb(parts: Sequence[PartitionWrites], acked: dict[tuple[str, int], int]) -> None:
    """Per table partition, one RocksDB write batch: the records, and the offset of the
    partition's last acknowledged changelog record (``acked``: (topic, partition) -> offset)
    as Faust's persisted offset."""
    for part in parts:
        store = part.table
        wb = WriteBatch(raw_mode=True)
        for _, key, value in part.items:
            if value is None:
                wb.delete(key)
            else:
                wb.put(key, value)
        offset = acked.get((store.changelog, part.partition))
        if offset is not None:
            wb.put(OFFSET_KEY, str(offset).encode())
        store.db(part.partition).write(wb)


class View:
    """``get`` for the Processor: pending records first, then the current message's
    partition of the table (set before each message, as Faust's current event would)."""

    def __init__(self, store: TableStore) -> None:
        self.store = store
        self.partition = 0

    def get(self, key: str) -> bytes | None:
        return self.store.get(key, self.partition)


class Pending:
    """The writes of batches in flight, for the tables of one worker."""

    def __init__(self, stores: dict[str, TableStore]) -> None:
        self.stores = stores

    def stage(self, seq: int, writes: Iterable[Write], partition_of: Sequence[int]
              ) -> list[PartitionWrites]:
        """Keep a processed batch's writes readable; return them grouped per table
        partition. ``partition_of[i]``: the partition of the batch's message i."""
        grouped: dict[tuple[str, int], list[tuple[str, bytes, bytes | None]]] = defaultdict(
            list)
        for w in writes:
            self.stores[w.table].pending[w.key] = (w.value, seq)
            grouped[(w.table, partition_of[w.source])].append(
                (w.key, encode_key(w.key), w.value))
        return [PartitionWrites(self.stores[t], p, items) for (t, p), items in grouped.items()]

    def release(self, seq: int, parts: Sequence[PartitionWrites]) -> None:
        """The batch is in RocksDB: forget its pending records (unless a later batch wrote
        the same key since)."""
        for part in parts:
            pending = part.table.pending
            for key, _, _ in part.items:
                entry = pending.get(key)
                if entry is not None and entry[1] == seq:
                    del pending[key]

    def clear(self) -> None:
        for store in self.stores.values():
            store.pending.clear()


def combine(batches: Sequence[Sequence[PartitionWrites]]) -> list[PartitionWrites]:
    """The writes of consecutive batches as one group per table partition, each key once
    (its last value): what is produced to the changelog and written to RocksDB together."""
    merged: dict[tuple[int, int], dict[str, tuple[str, bytes, bytes | None]]] = {}
    owners: dict[tuple[int, int], tuple[TableStore, int]] = {}
    for parts in batches:
        for part in parts:
            ident = (id(part.table), part.partition)
            owners[ident] = (part.table, part.partition)
            items = merged.setdefault(ident, {})
            for item in part.items:
                items.pop(item[0], None)  # keep the order of last writes
                items[item[0]] = item
    return [PartitionWrites(owners[i][0], owners[i][1], list(items.values()))
            for i, items in merged.items()]


def changelog_records(parts: Sequence[PartitionWrites]) -> list[Record]:
    """The changelog records of a batch's writes, with explicit partitions."""
    return [(part.table.changelog, part.partition, key, value)
            for part in parts for _, key, value in part.items]
