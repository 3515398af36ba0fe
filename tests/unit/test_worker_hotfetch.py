"""The librdkafka fetcher of the scorer's records (streams/worker/hotfetch.py), without a
broker: which partitions it holds and when, where each starts, the lag the ordering reads,
and that a batch handed over under a given-up assignment is never processed. Its behaviour
on a real broker (parity, kill -9, rebalances) is in the broker tests, run both ways."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest
from faust.types import TP

from streams.settings import Settings
from streams.worker.app import build_app
from streams.worker.batches import Fetched
from streams.worker.fetch import CHANGELOG_FETCH_WAIT_MS, BatchConsumer
from streams.worker.hotfetch import HotFetch, Rec, _Fetching
from streams.worker.order import OrderBuffer

WEB = [TP("web", p) for p in range(2)]
EMAIL = [TP("email", p) for p in range(2)]
CHANGELOG = TP("app-leads-changelog", 0)


class FakeConsumer:
    """What HotFetch reads of Faust's consumer."""

    def __init__(self) -> None:
        self.flow_active = True
        self.should_stop = False
        self.assigned = {*WEB, *EMAIL, CHANGELOG}
        self.active = set(self.assigned)
        self._read_offset: dict[TP, int] = {}
        self.app = SimpleNamespace(
            consumer_generation_id=1, conf=SimpleNamespace(broker_max_poll_records=1000),
            monitor=SimpleNamespace(track_tp_end_offset=lambda tp, offset: None))

    def assignment(self) -> set[TP]:
        return self.assigned

    def _get_active_partitions(self) -> set[TP]:
        return self.active


class FakeSink:
    def __init__(self) -> None:
        self.topics = frozenset({"web", "email"})
        self.drains = 0
        self.delivered: list[Fetched] = []
        self.commands: list[tuple[Any, ...]] = []
        self.drained_after: list[tuple[Any, ...]] = []  # the last command before each drain

    async def drain(self) -> None:
        self.drains += 1
        self.drained_after.append(self.commands[-1])

    async def deliver(self, fetched: Fetched) -> None:
        self.delivered.append(fetched)


class Commands(list[tuple[Any, ...]]):
    def put(self, cmd: tuple[Any, ...]) -> None:
        self.append(cmd)


def hot_fetch(consumer: FakeConsumer, sink: FakeSink) -> tuple[HotFetch, Commands]:
    order = OrderBuffer(lambda tp: tp.partition if tp.topic in {"web", "email"} else None, 2.0)
    hot = HotFetch(consumer, sink, {}, order)  # type: ignore[arg-type]
    commands = sink.commands = Commands()
    hot.thread = SimpleNamespace(commands=commands, room=SimpleNamespace(release=lambda: None))  # type: ignore[assignment]
    return hot, commands


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_it_takes_the_active_scorer_partitions_after_the_started_batches_are_committed() -> None:
    async def go() -> None:
        consumer, sink = FakeConsumer(), FakeSink()
        consumer.active -= {EMAIL[1]}  # still being recovered: paused by Faust
        hot, commands = hot_fetch(consumer, sink)
        await hot._sync()
        assert commands == [("assign", 1, []), ("assign", 1, sorted([*WEB, EMAIL[0]]))]
        assert sink.drains == 1 and hot.assigned == {*WEB, EMAIL[0]}
        assert sink.drained_after == [("assign", 1, [])]  # given up, drained, then assigned
        await hot._sync()  # nothing changed: nothing done
        assert len(commands) == 2 and sink.drains == 1
        consumer.active.add(EMAIL[1])  # recovered: everything is given up and re-read
        await hot._sync()
        assert commands[2:] == [("assign", 2, []), ("assign", 2, sorted([*WEB, *EMAIL]))]
        assert sink.drains == 2
    run(go())


def test_a_rebalance_gives_everything_up_and_drops_what_was_handed_over() -> None:
    async def go() -> None:
        consumer, sink = FakeConsumer(), FakeSink()
        hot, commands = hot_fetch(consumer, sink)
        await hot._sync()
        before = Fetched(1, {WEB[0]: []}, [], hot._live(hot.epoch))
        assert not before.stale(1)
        consumer.flow_active = False  # the rebalance begins
        await hot._sync()
        assert commands[-1] == ("assign", 2, []) and hot.assigned == frozenset()
        assert before.stale(1)  # not processed: fetched again from the committed offsets
        consumer.flow_active, consumer.app.consumer_generation_id = True, 2
        consumer.assigned = {WEB[0], CHANGELOG}
        consumer.active = set(consumer.assigned)
        await hot._sync()
        assert commands[-1] == ("assign", 3, [WEB[0]])
    run(go())


def test_nothing_is_assigned_while_stopping() -> None:
    async def go() -> None:
        consumer, sink = FakeConsumer(), FakeSink()
        consumer.should_stop = True
        hot, commands = hot_fetch(consumer, sink)
        await hot._sync()
        assert commands == [("assign", 1, [])] and sink.drains == 0
    run(go())


def test_batches_reach_the_agent_in_event_time_order_and_stale_ones_never() -> None:
    async def go() -> None:
        consumer, sink = FakeConsumer(), FakeSink()
        hot, _ = hot_fetch(consumer, sink)
        await hot._sync()

        def rec(tp: TP, offset: int, at: str) -> Rec:
            value = b'{"occurred_at": "2026-11-30T10:00:0%sZ"}' % at.encode()
            return Rec(tp.topic, tp.partition, offset, b"k", value, 0)

        lags = {tp: 0 for tp in [*WEB, *EMAIL]}
        hot._arrive((0, {WEB[0]: [rec(WEB[0], 5, "9")]}, lags,  # an older epoch's batch
                     {WEB[0]: 6}))
        hot._arrive((hot.epoch, {WEB[0]: [rec(WEB[0], 7, "3")],
                                 EMAIL[0]: [rec(EMAIL[0], 2, "1"), rec(EMAIL[0], 3, "5")]},
                     lags, {WEB[0]: 8, EMAIL[0]: 4}))
        task = asyncio.ensure_future(hot._run())
        for _ in range(20):
            await asyncio.sleep(0.01)
            if sink.delivered:
                break
        task.cancel()
        assert len(sink.delivered) == 1
        got = sink.delivered[0]
        assert [(r.topic, r.offset) for r in got.records()] == [
            ("email", 2), ("web", 7), ("email", 3)]
        assert got.next_offsets() == {WEB[0]: 8, EMAIL[0]: 4}
        assert consumer._read_offset == {WEB[0]: 7, EMAIL[0]: 3}
        # the high watermarks librdkafka saw, for the consumer-lag gauge; none of the stale
        # epoch's, none of a partition it has not fetched
        assert (hot.high_of(WEB[0]), hot.high_of(EMAIL[0]), hot.high_of(WEB[1])) == (8, 4, None)
    run(go())


class FakeRdConsumer:
    """What _Fetching reads of a confluent-kafka Consumer."""

    def __init__(self, committed: dict[tuple[str, int], int],
                 watermarks: dict[tuple[str, int], tuple[int, int]]) -> None:
        self.committed_at, self.watermarks = committed, watermarks

    def committed(self, parts: list[Any], timeout: float) -> list[Any]:
        return [SimpleNamespace(topic=p.topic, partition=p.partition, error=None,
                                offset=self.committed_at.get((p.topic, p.partition), -1001))
                for p in parts]

    def get_watermark_offsets(self, p: Any, timeout: float = 0,
                              cached: bool = False) -> tuple[int, int]:
        return self.watermarks.get((p.topic, p.partition), (-1001, -1001))


def test_each_partition_starts_at_its_committed_offset_else_at_the_log_start() -> None:
    from confluent_kafka import TopicPartition

    c = FakeRdConsumer({("web", 0): 40}, {("web", 1): (12, 90)})
    starts = _Fetching._starts(c, [TopicPartition("web", 0), TopicPartition("web", 1)])
    assert [(p.topic, p.partition, p.offset) for p in starts] == [("web", 0, 40), ("web", 1, 12)]


def test_the_lag_is_the_high_watermark_minus_the_next_offset_and_unknown_before_a_fetch() -> None:
    from confluent_kafka import TopicPartition

    c = FakeRdConsumer({}, {("web", 0): (0, 50), ("web", 1): (0, 7)})
    parts = [TopicPartition("web", p) for p in range(3)]
    at = {TP("web", 0): 45, TP("web", 1): 9, TP("web", 2): 0}
    assert _Fetching._lags(c, parts, at) == {TP("web", 0): 5, TP("web", 1): 0}


def test_the_setting_chooses_the_fetcher_and_its_consumer_follows_the_fetch_settings() -> None:
    async def create() -> tuple[Any, int]:
        app = build_app(Settings(hot_fetch="librdkafka", app_id="scorer-x",
                                 fetch_wait_ms=7, fetch_min_kb=8))
        assert isinstance(app.consumer, BatchConsumer)
        consumer = app.consumer._new_consumer_thread()._create_worker_consumer(app.transport)
        try:
            return app.hot_fetch_config, consumer._fetch_max_wait_ms
        finally:
            await consumer.stop()
    config, aiokafka_wait = run(create())
    assert config["group.id"] == "scorer-x" and config["enable.auto.commit"] is False
    assert config["fetch.wait.max.ms"] == 7 and config["fetch.min.bytes"] == 8192
    assert config["auto.offset.reset"] == "earliest"
    # aiokafka fetches only the changelogs then: nothing waits behind its fetch wait.
    assert aiokafka_wait == CHANGELOG_FETCH_WAIT_MS


def test_by_default_librdkafka_fetches_gathering_64_kib_for_at_most_5_ms() -> None:
    config = build_app(Settings()).hot_fetch_config
    assert config is not None
    assert (config["fetch.min.bytes"], config["fetch.wait.max.ms"]) == (64 * 1024, 5)
    assert config["queued.max.messages.kbytes"] == 2048  # bounded prefetch: memory
    assert build_app(Settings(hot_fetch="faust")).hot_fetch_config is None


def test_an_unknown_fetcher_is_refused() -> None:
    with pytest.raises(ValueError, match="hot_fetch"):
        Settings(hot_fetch="kafka-python")


def test_a_broker_that_does_not_answer_is_asked_again_until_a_newer_command_comes(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from confluent_kafka import KafkaException, TopicPartition

    monkeypatch.setattr("streams.worker.hotfetch.time.sleep", lambda s: None)

    class Flaky(FakeRdConsumer):
        calls = 0

        def committed(self, parts: list[Any], timeout: float) -> list[Any]:
            self.calls += 1
            if self.calls < 3:
                raise KafkaException("timed out")
            return super().committed(parts, timeout)

    fetching = _Fetching({}, 1000, lambda *a: None)
    c = Flaky({("web", 0): 7}, {})
    starts = fetching._starts_retrying(c, [TopicPartition("web", 0)])
    assert c.calls == 3 and [(p.partition, p.offset) for p in starts] == [(0, 7)]
    down = Flaky({}, {})
    fetching.commands.put(("assign", 9, []))  # superseded: nothing is assigned meanwhile
    assert fetching._starts_retrying(down, [TopicPartition("web", 0)]) == []
    assert down.calls == 1


def test_a_partition_holding_two_batches_is_paused_until_it_holds_half_a_batch() -> None:
    async def go() -> None:
        consumer, sink = FakeConsumer(), FakeSink()
        consumer.app.conf.broker_max_poll_records = 4  # a batch: 4 records
        hot, commands = hot_fetch(consumer, sink)
        await hot._sync()

        def recs(topic: str, first: int, n: int) -> list[Rec]:
            return [Rec(topic, 0, i, b"k", b"{}", 0) for i in range(first, first + n)]

        # Both web 0 and email 0 hold records (web 0's task waits for email 0's next).
        hot.order.add(WEB[0], recs("web", 0, 7))
        hot.order.add(EMAIL[0], recs("email", 0, 3))
        hot._pause_full()
        assert commands[-1][0] == "assign"  # 7 and 3: under 2 batches (8) each
        hot.order.add(WEB[0], recs("web", 7, 1))
        hot._pause_full()
        # web 0 alone: email 0, which the merge needs next, keeps fetching.
        assert commands[-1] == ("pause", [WEB[0]])
        n = len(commands)
        hot.order.drop(WEB[0])
        hot.order.add(WEB[0], recs("web", 5, 3))  # 3 held: over half a batch, still paused
        hot._pause_full()
        assert len(commands) == n and hot.paused == {WEB[0]}
        hot.order.drop(WEB[0])
        hot.order.add(WEB[0], recs("web", 6, 2))  # 2 held: half a batch
        hot._pause_full()
        assert commands[-1] == ("resume", [WEB[0]]) and hot.paused == set()
    run(go())
