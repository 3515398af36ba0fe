"""The session's broker is a real Apache Kafka 4 in KRaft mode that serves clients."""

from __future__ import annotations

from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient

from tests.integration.helpers import create_topics


def test_broker_is_apache_kafka_4_and_serves_metadata(kafka):
    md = AdminClient({"bootstrap.servers": kafka.bootstrap}).list_topics(timeout=10)
    assert len(md.brokers) == 1
    if kafka.started_here:
        # Printed by the broker itself at startup ("Kafka version: X").
        assert kafka.version is not None and kafka.version.startswith("4.")


def test_transactions_work_on_one_node(kafka, topic_prefix):
    """Transaction state log settings lowered to 1: a transactional producer can commit."""
    topic = f"{topic_prefix}.tx"
    create_topics(kafka.bootstrap, [topic], partitions=1)
    producer = Producer({"bootstrap.servers": kafka.bootstrap,
                         "transactional.id": f"{topic_prefix}-tx"})
    producer.init_transactions(30)
    producer.begin_transaction()
    producer.produce(topic, key=b"k", value=b"committed")
    producer.commit_transaction(30)
    consumer = Consumer({"bootstrap.servers": kafka.bootstrap, "group.id": f"{topic_prefix}-g",
                         "auto.offset.reset": "earliest", "isolation.level": "read_committed"})
    consumer.subscribe([topic])
    values = []
    for _ in range(60):
        msg = consumer.poll(0.5)
        if msg is not None and not msg.error():
            values.append(msg.value())
            break
    consumer.close()
    assert values == [b"committed"]
