"""Event-time order across a task's partitions (streams/worker/order.py): records released
oldest first, a task held while a partition with lag has nothing buffered (for at most the
wait), never past a held record, unordered topics passed through, memory bounded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import orjson
from faust.types import TP

from streams.worker.batches import Fetched
from streams.worker.order import OrderBuffer, event_time_ms

T0 = datetime(2026, 3, 1, tzinfo=UTC)
WEB0, MAIL0, WEB1, HANDOFF0 = (TP("events.website", 0), TP("events.email", 0),
                               TP("events.website", 1), TP("leads.handoff", 0))
INPUTS = {"events.website", "events.email"}


def rec(tp: TP, offset: int, minutes: float) -> Any:
    at = (T0 + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")
    value = orjson.dumps({"event_id": f"{tp.topic}-{offset}", "occurred_at": at})
    return SimpleNamespace(topic=tp.topic, partition=tp.partition, offset=offset,
                           value=value, timestamp=1)


def buffer(wait_s: float = 2.0, full_at: int = 5000) -> OrderBuffer:
    order = OrderBuffer(lambda tp: tp.partition if tp.topic in INPUTS else None, wait_s,
                        full_at=full_at)
    order.assign([WEB0, MAIL0, WEB1, HANDOFF0])
    return order


def lags(**by_topic: int | None):
    """lag_of for partition 0 by topic short name; 0 for everything else."""
    names = {"web": WEB0, "mail": MAIL0}
    table = {names[k]: v for k, v in by_topic.items()}
    return lambda tp: table.get(tp, 0)


def ids(records: list[Any]) -> list[str]:
    return [orjson.loads(r.value)["event_id"] for r in records]


def test_event_time_comes_from_occurred_at_and_else_from_the_kafka_timestamp() -> None:
    assert event_time_ms(b'{"occurred_at": "2026-03-01T00:00:01Z"}', 7) == (
        T0.timestamp() * 1000 + 1000)
    assert event_time_ms(b'{"occurred_at":"2026-03-01T01:00:00+01:00","x":1}', 7) == (
        T0.timestamp() * 1000)
    for garbage in (b"", None, b"not json", b'{"occurred_at": 5}', b'{"occurred_at": "x"}',
                    b'{"occurred_at": "2026-03-01T00:00:00"}', b'\xff"occurred_at":"\xfe"'):
        assert event_time_ms(garbage, 7) == 7


def test_a_task_is_released_oldest_event_first_across_its_topics() -> None:
    order = buffer()
    order.add(WEB0, [rec(WEB0, 0, 0), rec(WEB0, 1, 10), rec(WEB0, 2, 20)])
    order.add(MAIL0, [rec(MAIL0, 5, 5), rec(MAIL0, 6, 15), rec(MAIL0, 7, 25)])
    out = order.take(0.0, lags(), 100)
    assert ids(out.records) == ["events.website-0", "events.email-5", "events.website-1",
                                "events.email-6", "events.website-2", "events.email-7"]
    assert [r.offset for r in out.by_tp[WEB0]] == [0, 1, 2]
    assert [r.offset for r in out.by_tp[MAIL0]] == [5, 6, 7]
    assert order.buffered == 0


def test_a_partition_with_lag_and_nothing_buffered_holds_its_task_back() -> None:
    order = buffer()
    order.add(WEB0, [rec(WEB0, 0, 0), rec(WEB0, 1, 60)])
    held = order.take(0.0, lags(mail=40), 100)
    assert held.records == [] and order.buffered == 2
    assert order.holding(0.5, lags(mail=40)) == 1.5
    # The email records arrive: the task goes on, oldest first.
    order.add(MAIL0, [rec(MAIL0, 0, 30)])
    out = order.take(0.6, lags(mail=0), 100)
    assert ids(out.records) == ["events.website-0", "events.email-0", "events.website-1"]


def test_a_merge_stops_where_a_partition_runs_empty_with_more_on_the_broker() -> None:
    order = buffer()
    order.add(WEB0, [rec(WEB0, 0, 0), rec(WEB0, 1, 10), rec(WEB0, 2, 20)])
    order.add(MAIL0, [rec(MAIL0, 0, 5)])
    out = order.take(0.0, lags(mail=100), 100)
    # After email 0, email's next record (on the broker) could be older than website 1.
    assert ids(out.records) == ["events.website-0", "events.email-0"]
    assert {tp: [r.offset for r in rs] for tp, rs in out.by_tp.items()} == {
        WEB0: [0], MAIL0: [0]}
    # The offsets the batch commits stop before the held records.
    assert Fetched(1, out.by_tp, out.records).next_offsets() == {WEB0: 1, MAIL0: 1}
    assert order.buffered == 2


def test_the_wait_is_bounded_then_the_rest_goes_on_in_order() -> None:
    order = buffer(wait_s=2.0)
    order.add(WEB0, [rec(WEB0, 0, 20), rec(WEB0, 1, 10)])
    assert order.take(0.0, lags(mail=None), 100).records == []  # lag not known yet
    assert order.take(1.9, lags(mail=None), 100).records == []
    out = order.take(2.0, lags(mail=None), 100)
    assert [r.offset for r in out.records] == [0, 1]  # one partition: offset order
    assert order.holding(2.0, lags(mail=None)) is None


def test_a_partition_with_nothing_more_on_the_broker_is_never_waited_for() -> None:
    order = buffer()
    order.add(WEB0, [rec(WEB0, 0, 0)])
    assert [r.offset for r in order.take(0.0, lags(mail=0), 100).records] == [0]


def test_no_wait_at_all_when_the_wait_is_zero() -> None:
    order = buffer(wait_s=0.0)
    order.add(WEB0, [rec(WEB0, 0, 0)])
    assert [r.offset for r in order.take(0.0, lags(mail=50), 100).records] == [0]


def test_tasks_are_independent_and_unordered_topics_pass_through_at_once() -> None:
    order = buffer()
    order.add(WEB0, [rec(WEB0, 0, 0)])  # task 0 waits for email 0
    order.add(WEB1, [rec(WEB1, 0, 99)])  # task 1: email 1 has nothing more
    order.add(HANDOFF0, [rec(HANDOFF0, 3, 500)])
    out = order.take(0.0, lags(mail=7), 100)
    assert [(r.topic, r.partition, r.offset) for r in out.records] == [
        ("leads.handoff", 0, 3), ("events.website", 1, 0)]
    assert set(out.by_tp) == {HANDOFF0, WEB1}
    assert order.buffered == 1


def test_the_limit_caps_a_batch_and_the_rest_follows_in_the_next() -> None:
    order = buffer()
    order.add(WEB0, [rec(WEB0, i, 2 * i) for i in range(5)])
    order.add(MAIL0, [rec(MAIL0, i, 2 * i + 1) for i in range(5)])
    first = order.take(0.0, lags(), 4)
    second = order.take(0.0, lags(), 100)
    assert [int(orjson.loads(r.value)["occurred_at"][14:16]) for r in
            first.records + second.records] == list(range(10))
    assert [r.offset for r in second.by_tp[WEB0]] == [2, 3, 4]


def test_a_full_partition_is_left_out_of_the_fetch_until_taken_from() -> None:
    order = buffer(full_at=3)
    order.add(WEB0, [rec(WEB0, i, 100 + i) for i in range(3)])
    order.add(MAIL0, [rec(MAIL0, 0, 0)])
    assert order.full() == {WEB0}
    order.take(0.0, lags(mail=5), 100)  # email 0 goes; the website records wait for email
    assert order.full() == {WEB0}
    order.add(MAIL0, [rec(MAIL0, 1, 200)])
    order.take(0.0, lags(web=5), 100)
    # The website records go; email 1 (minute 200) waits for website's next ones.
    assert order.full() == set() and order.buffered == 1


def test_a_partition_sought_back_is_dropped_from_its_first_held_offset() -> None:
    order = buffer()
    order.add(WEB0, [rec(WEB0, 7, 0), rec(WEB0, 8, 1)])
    assert order.drop(WEB0) == 7
    assert order.drop(WEB0) is None
    assert order.buffered == 0 and order.take(0.0, lags(), 100).records == []


def test_a_new_assignment_forgets_everything_held() -> None:
    order = buffer()
    order.add(WEB0, [rec(WEB0, 0, 0)])
    order.take(0.0, lags(mail=3), 100)
    order.assign([WEB0, MAIL0])
    assert order.buffered == 0 and order.take(0.0, lags(), 100).records == []
