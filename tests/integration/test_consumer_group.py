"""Two consumers in one group share a topic's partitions and together read each message once."""

from __future__ import annotations

import time

from confluent_kafka import Consumer, Producer

from tests.integration.helpers import create_topics


def _poll_all(consumers, received, assignments):
    for i, c in enumerate(consumers):
        msg = c.poll(0.2)
        assignments[i] = {tp.partition for tp in c.assignment()}
        if msg is not None and not msg.error():
            received[i].append(msg.value())


def test_two_consumers_split_partitions_and_read_everything_once(kafka, topic_prefix):
    topic = f"{topic_prefix}.shared"
    create_topics(kafka.bootstrap, [topic], partitions=4)
    conf = {"bootstrap.servers": kafka.bootstrap, "group.id": f"{topic_prefix}-group",
            "auto.offset.reset": "earliest", "session.timeout.ms": 10000,
            "partition.assignment.strategy": "range"}
    consumers = [Consumer(dict(conf)), Consumer(dict(conf))]
    for c in consumers:
        c.subscribe([topic])
    received: list[list[bytes]] = [[], []]
    assignments: list[set[int]] = [set(), set()]
    sent = {f"m{i:03d}".encode() for i in range(200)}
    try:
        # Wait for the group to settle with both members, so no rebalance re-delivers.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not all(assignments):
            _poll_all(consumers, received, assignments)
        assert all(assignments), f"both consumers got partitions: {assignments}"

        producer = Producer({"bootstrap.servers": kafka.bootstrap})
        for i, value in enumerate(sorted(sent)):
            producer.produce(topic, key=f"lead-{i % 37}".encode(), value=value)
        assert producer.flush(30) == 0

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and sum(map(len, received)) < len(sent):
            _poll_all(consumers, received, assignments)
    finally:
        for c in consumers:
            c.close()

    assert assignments[0].isdisjoint(assignments[1])
    assert assignments[0] | assignments[1] == {0, 1, 2, 3}
    assert received[0] and received[1], "both consumers did some of the work"
    everything = received[0] + received[1]
    assert sorted(everything) == sorted(sent), "every message read exactly once by the group"
