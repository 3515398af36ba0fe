"""The order in which a batch becomes done (streams/worker/commit.py): outputs acknowledged,
then the changelog produced and acknowledged, then RocksDB, then the commit; the next batch
processed meanwhile; nothing committed when a delivery fails. A recording producer and
consumer stand in for Kafka (the broker tests cover the real thing); RocksDB is real."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from faust.types import TP
from rocksdict import Options, Rdict

from streams.core.processing import BatchResult, Output, Write
from streams.worker.batches import Fetched
from streams.worker.commit import Committer, InFlight
from streams.worker.producer import Acks
from streams.worker.state import OFFSET_KEY, Pending, TableStore, encode_key

IN = TP("events.website", 0)


class Log:
    def __init__(self) -> None:
        self.events: list[str] = []


class RecordingProducer:
    """Keeps every send's Acks, to be acknowledged (or failed) by the test."""

    def __init__(self, log: Log) -> None:
        self.log = log
        self.sent: list[tuple[list[Any], Acks]] = []

    def send(self, records: Any, loop: Any = None) -> Acks:
        records = list(records)
        acks = Acks(asyncio.get_running_loop(), len(records))
        kind = "changelog" if records and records[0][0].endswith("changelog") else "outputs"
        self.log.events.append(f"send {kind} {len(records)}")
        self.sent.append((records, acks))
        return acks

    def ack(self, i: int, error: str | None = None) -> None:
        records, acks = self.sent[i]
        for n, (topic, partition, _, _) in enumerate(records):
            msg = SimpleNamespace(topic=lambda t=topic: t,
                                  partition=lambda p=partition or 0: p,
                                  offset=lambda n=n: 100 + n)
            acks.on_delivery(error, msg)


class RecordingConsumer:
    def __init__(self, log: Log) -> None:
        self.log = log

    async def commit_batch(self, offsets: dict[TP, int]) -> bool:
        self.log.events.append(f"commit {sorted((tp.partition, o) for tp, o in offsets.items())}")
        return True


class RecordingDB:
    """A real rocksdict database that logs each write batch."""

    def __init__(self, path: Path, log: Log) -> None:
        self.db = Rdict(str(path), Options(raw_mode=True))
        self.log = log

    def write(self, wb: Any) -> None:
        self.log.events.append("rocksdb write")
        self.db.write(wb)

    def get(self, key: bytes) -> Any:
        return self.db.get(key)


def table(tmp: Path, log: Log) -> Any:
    db = RecordingDB(tmp / "db", log)
    return SimpleNamespace(
        name="leads", changelog_topic=SimpleNamespace(get_topic_name=lambda: "app-leads-changelog"),
        data=SimpleNamespace(_db_for_partition=lambda p: db), db=db)


def batch(offset: int, key: str, value: bytes) -> tuple[Fetched, list, BatchResult]:
    """One input record at ``offset`` yielding one score change and one table write."""
    rec = SimpleNamespace(topic=IN.topic, partition=0, offset=offset, timestamp=1_700_000_000_000)
    result = BatchResult(outputs=[Output("scores.changes", b"k", b"v")],
                         writes=[Write("leads", key, value, 0)])
    return Fetched(1, {IN: [rec]}), [rec], result


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def setup(tmp: Path) -> tuple[Log, RecordingProducer, Committer, Any, list[InFlight], list[int]]:
    log = Log()
    producer = RecordingProducer(log)
    t = table(tmp, log)
    done: list[InFlight] = []
    exits: list[int] = []
    committer = Committer(RecordingConsumer(log), producer,  # type: ignore[arg-type]
                          Pending({"leads": TableStore(t)}), done.append, max_in_flight=2,
                          interval=0.0, exit=exits.append)
    return log, producer, committer, t, done, exits


def test_a_batch_is_done_in_order_and_the_next_is_processed_meanwhile(tmp_path: Path) -> None:
    async def scenario() -> None:
        log, producer, committer, t, done, _ = setup(tmp_path)
        running = asyncio.ensure_future(committer.run())
        await committer.submit(*batch(7, "L:a", b"first"), started=0.0)
        await settle()
        assert log.events == ["send outputs 1"]  # nothing else before the acks
        # The next batch is taken and reads the first one's record, not yet in RocksDB.
        assert TableStore(t).get("L:a", 0) is None
        assert committer.pending.stores["leads"].get("L:a", 0) == b"first"
        await committer.submit(*batch(8, "L:a", b"second"), started=0.0)
        assert log.events == ["send outputs 1", "send outputs 1"]
        producer.ack(0)  # first batch's outputs acknowledged
        await settle()
        assert log.events[2:] == ["send changelog 1"]  # then its changelog, nothing else
        producer.ack(2)
        await settle()
        assert log.events[3:] == ["rocksdb write", "commit [(0, 8)]"]
        assert t.db.get(encode_key("L:a")) == b"first"
        assert t.db.get(OFFSET_KEY) == b"100"  # the changelog record's offset
        assert [b.seq for b in done] == [1]
        producer.ack(1)
        await settle()
        producer.ack(3)
        await settle()
        assert log.events[5:] == ["send changelog 1", "rocksdb write", "commit [(0, 9)]"]
        assert t.db.get(encode_key("L:a")) == b"second"
        assert committer.pending.stores["leads"].pending == {}
        await asyncio.wait_for(committer.drain(), 1)
        running.cancel()

    asyncio.run(scenario())


def test_ready_batches_are_committed_together_with_each_key_once(tmp_path: Path) -> None:
    async def scenario() -> None:
        log, producer, committer, t, done, _ = setup(tmp_path)
        await committer.submit(*batch(1, "L:a", b"1"), started=0.0)
        await committer.submit(*batch(2, "L:a", b"2"), started=0.0)
        producer.ack(0)
        producer.ack(1)
        await settle()
        running = asyncio.ensure_future(committer.run())
        await settle()
        assert log.events[2:] == ["send changelog 1"]  # L:a once, its last value
        assert producer.sent[2][0][0][3] == b"2"
        producer.ack(2)
        await settle()
        assert log.events[3:] == ["rocksdb write", "commit [(0, 3)]"]
        assert [b.seq for b in done] == [1, 2]
        running.cancel()

    asyncio.run(scenario())


def test_a_full_pipeline_holds_the_agent_back(tmp_path: Path) -> None:
    async def scenario() -> None:
        _, producer, committer, _, _, _ = setup(tmp_path)
        await committer.submit(*batch(1, "L:a", b"1"), started=0.0)
        await committer.submit(*batch(2, "L:b", b"2"), started=0.0)
        third = asyncio.ensure_future(committer.submit(*batch(3, "L:c", b"3"), started=0.0))
        await settle()
        assert not third.done()  # max_in_flight=2: waits for the oldest
        running = asyncio.ensure_future(committer.run())
        producer.ack(0)
        await settle()
        producer.ack(3)  # first batch's changelog
        await settle()
        assert third.done()
        running.cancel()

    asyncio.run(scenario())


@pytest.mark.parametrize("failing", ["outputs", "changelog"])
def test_a_failed_delivery_exits_without_writing_or_committing(
        tmp_path: Path, failing: str) -> None:
    async def scenario() -> None:
        log, producer, committer, t, _, exits = setup(tmp_path)
        running = asyncio.ensure_future(committer.run())
        await committer.submit(*batch(1, "L:a", b"1"), started=0.0)
        if failing == "outputs":
            producer.ack(0, error="broker said no")
        else:
            producer.ack(0)
            await settle()
            producer.ack(1, error="broker said no")
        await settle()
        assert exits == [70]
        assert "rocksdb write" not in log.events
        assert not any(e.startswith("commit") for e in log.events)
        assert t.db.get(encode_key("L:a")) is None
        running.cancel()

    asyncio.run(scenario())


def test_drain_waits_for_the_batch_being_processed(tmp_path: Path) -> None:
    async def scenario() -> None:
        _, _, committer, _, _, _ = setup(tmp_path)
        committer.begin()
        draining = asyncio.ensure_future(committer.drain())
        await settle()
        assert not draining.done()
        committer.end()
        await settle()
        assert draining.done()
        # A stopped agent does not hold a rebalance up: its batches are redone elsewhere.
        committer.begin()
        committer.close()
        await asyncio.wait_for(committer.drain(), 1)

    asyncio.run(scenario())


def test_state_and_offsets_are_written_every_interval_or_when_drained(tmp_path: Path) -> None:
    async def scenario() -> None:
        log, producer, committer, _, done, _ = setup(tmp_path)
        committer.interval, committer.max_in_flight = 0.3, 10
        committer._last = 0.0  # the previous commit was long ago: the first batch goes now
        running = asyncio.ensure_future(committer.run())
        await committer.submit(*batch(1, "L:a", b"1"), started=0.0)
        producer.ack(0)
        await settle()
        producer.ack(1)  # its changelog
        await settle()
        assert [b.seq for b in done] == [1]
        # The next two: outputs acknowledged at once, state and offsets only at the interval.
        await committer.submit(*batch(2, "L:b", b"2"), started=0.0)
        await committer.submit(*batch(3, "L:c", b"3"), started=0.0)
        producer.ack(2)
        producer.ack(3)
        await asyncio.sleep(0.1)
        assert log.events[-1] == "send outputs 1"  # nothing written yet
        await asyncio.sleep(0.3)
        assert log.events[-1] == "send changelog 2"  # both batches, one send
        producer.ack(4)
        await settle()
        assert log.events[-1] == "commit [(0, 4)]" and [b.seq for b in done] == [1, 2, 3]
        # A rebalance does not wait for the interval.
        await committer.submit(*batch(4, "L:d", b"4"), started=0.0)
        producer.ack(5)
        draining = asyncio.ensure_future(committer.drain())
        await settle()
        assert log.events[-1] == "send changelog 1"
        producer.ack(6)
        await asyncio.wait_for(draining, 1)
        assert log.events[-1] == "commit [(0, 5)]"
        running.cancel()

    asyncio.run(scenario())
