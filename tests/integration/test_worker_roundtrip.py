"""confluent-kafka producer -> Faust agent (a real `leadscore worker` process) -> consumer."""

from __future__ import annotations

from collections import Counter

import orjson
from confluent_kafka import Producer

from tests.integration.helpers import consume, create_topics, worker_process


def test_events_flow_through_the_worker_and_are_counted_per_key(kafka, topic_prefix, tmp_path):
    names = {k: f"{topic_prefix}.{k}" for k in
             ("website", "email", "product", "profile", "outcomes", "activity")}
    create_topics(kafka.bootstrap, list(names.values()), partitions=4)
    env = {
        "LEADSCORE_KAFKA_BOOTSTRAP": kafka.bootstrap,
        "LEADSCORE_APP_ID": f"{topic_prefix}-app",
        **{f"LEADSCORE_TOPIC_{k.upper()}": v for k, v in names.items()},
    }
    producer = Producer({"bootstrap.servers": kafka.bootstrap})
    sent: Counter[str] = Counter()
    for i in range(30):
        lead = f"lead-{i % 5}"
        topic = names["website"] if i % 2 else names["email"]
        producer.produce(topic, key=lead.encode(), value=orjson.dumps({"n": i}))
        sent[lead] += 1
    assert producer.flush(30) == 0

    with worker_process(env, tmp_path) as proc:
        out = consume(kafka.bootstrap, names["activity"], until=lambda m: len(m) >= 30,
                      timeout=120)
        assert proc.poll() is None, (tmp_path / "worker.log").read_text()[-2000:]

    records = [orjson.loads(m.value()) for m in out]
    assert len(records) == 30
    final = {}
    for r in records:
        assert r["topic"] in (names["website"], names["email"])
        final[r["key"]] = max(final.get(r["key"], 0), r["events_seen"])
    assert final == dict(sent)
    # Output is keyed by the lead, like the input.
    assert {m.key().decode() for m in out} == set(sent)
