"""The hot path's table writes are what Faust itself reads: its RocksDB store (the lookup view,
the idle scan, a restarted worker) and its recovery from the changelog (a new owner, a
standby replica). Real Faust stores on disk; no broker needed."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import faust
import pytest
from faust.types import TP

from streams.core.processing import Write
from streams.worker.state import (
    OFFSET_KEY,
    Pending,
    TableStore,
    View,
    changelog_records,
    combine,
    encode_key,
    write_rocksdb,
)

KEYS = ["L:lead-1", "L:lead-2", "A:anon-é", 'L:quote"d', "L:\u2028", "L:😀"]


def faust_table(tmp: Path, name: str = "app") -> Any:
    app = faust.App(name, store="rocksdb://", datadir=str(tmp / name), autodiscover=False)
    return app.Table("leads", key_type=str, value_type=bytes, partitions=4)


def raw_items(table: Any, partition: int) -> dict[bytes, bytes]:
    db = table.data._db_for_partition(partition)
    return {bytes(k): bytes(v) for k, v in db.items()}


def test_keys_are_encoded_as_fausts_key_serializer_does(tmp_path: Path) -> None:
    store = faust_table(tmp_path).data
    for key in KEYS:
        assert encode_key(key) == store._encode_key(key)


def test_writes_are_read_by_fausts_store_and_its_recovery(tmp_path: Path) -> None:
    table = faust_table(tmp_path, "writer")
    stores = {"leads": TableStore(table)}
    pending = Pending(stores)
    # Message i is on partition i % 4; the writes of two batches, the second overwriting and
    # deleting keys of the first.
    partition_of = [i % 4 for i in range(len(KEYS))]
    first = pending.stage(1, [Write("leads", k, f"v1-{k}".encode(), i)
                              for i, k in enumerate(KEYS)], partition_of)
    second = pending.stage(2, [Write("leads", KEYS[0], b"v2", 0),
                               Write("leads", KEYS[1], None, 1)], partition_of)
    parts = combine([first, second])
    records = changelog_records(parts)
    assert len(records) == len(KEYS)  # each key once: its last value
    assert {(t, p) for t, p, _, _ in records} <= {(stores["leads"].changelog, p)
                                                  for p in range(4)}
    # As the broker would acknowledge them: offsets 10, 11, ... per partition.
    acked: dict[tuple[str, int], int] = {}
    offsets: list[int] = []
    for topic, partition, _, _ in records:
        acked[(topic, partition)] = acked.get((topic, partition), 9) + 1
        offsets.append(acked[(topic, partition)])
    write_rocksdb(parts, acked)
    pending.release(1, first)
    pending.release(2, second)
    assert stores["leads"].pending == {}

    # Faust's store API: what views, the idle scan and a restarted worker read.
    assert table.data[KEYS[0]] == b"v2"
    assert KEYS[1] not in table.data
    for i, key in enumerate(KEYS[2:], start=2):
        assert table.data[key] == f"v1-{key}".encode()
        assert View(stores["leads"]).store.get(key, partition_of[i]) == f"v1-{key}".encode()
    changelog = stores["leads"].changelog
    for (topic, partition), offset in acked.items():
        assert table.data.persisted_offset(TP(topic, partition)) == offset

    # Faust's recovery (and a standby) applies the changelog records to an empty store.
    other = faust_table(tmp_path, "recovered")
    events = [SimpleNamespace(message=SimpleNamespace(
        tp=TP(topic, partition), offset=offset, partition=partition, key=key, value=value))
        for (topic, partition, key, value), offset in zip(records, offsets, strict=True)]
    other.apply_changelog_batch(events)
    for p in range(4):
        assert raw_items(other, p) == raw_items(table, p)
        if (changelog, p) in acked:
            assert raw_items(table, p)[OFFSET_KEY] == str(acked[(changelog, p)]).encode()


def test_pending_records_are_read_before_rocksdb_and_released_by_their_batch(
        tmp_path: Path) -> None:
    table = faust_table(tmp_path)
    store = TableStore(table)
    pending = Pending({"leads": store})
    view = View(store)
    view.partition = 2
    first = pending.stage(1, [Write("leads", "L:x", b"one", 0)], [2])
    assert view.get("L:x") == b"one"  # in flight: not in RocksDB yet
    second = pending.stage(2, [Write("leads", "L:x", None, 0)], [2])
    assert view.get("L:x") is None  # the later batch deleted it
    write_rocksdb(first, {})
    pending.release(1, first)
    assert view.get("L:x") is None  # still the second batch's (pending) value
    write_rocksdb(second, {})
    pending.release(2, second)
    assert store.pending == {} and view.get("L:x") is None


@pytest.mark.parametrize("value", [b"", b"\x00\x01", bytes(range(256)) * 40])
def test_values_are_stored_as_they_are(tmp_path: Path, value: bytes) -> None:
    table = faust_table(tmp_path)
    store = TableStore(table)
    parts = Pending({"leads": store}).stage(1, [Write("leads", "L:v", value, 0)], [3])
    write_rocksdb(parts, {})
    assert table.data["L:v"] == value
