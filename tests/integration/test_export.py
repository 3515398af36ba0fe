"""``leadscore export`` reads the input topics back into an event file: the records from
--since on, valid events only, in the form ``leadscore train`` reads."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

from confluent_kafka import Producer

from models.snapshots import read_events
from tests.integration.helpers import create_topics
from tests.integration.test_worker_roundtrip import _event


def test_export_writes_the_valid_events_since_a_date(kafka, topic_prefix, tmp_path) -> None:
    names = {k: f"{topic_prefix}.{k}" for k in ("website", "email", "product", "profile",
                                                "outcomes", "feedback")}
    create_topics(kafka.bootstrap, list(names.values()), partitions=2)
    now = datetime.now(UTC)
    old, new = now - timedelta(days=10), now - timedelta(hours=1)
    producer = Producer({"bootstrap.servers": kafka.bootstrap, "partitioner": "murmur2_random"})

    def send(topic: str, value: bytes, at: datetime) -> None:
        producer.produce(topic, key=b"k", value=value, timestamp=int(at.timestamp() * 1000))

    for i in range(5):  # before --since: not exported
        send(names["website"], _event("page_view", f"old-{i}", i, url="https://x.io/",
                                      path="/", page_category="home"), old)
    expected = set()
    for i in range(7):
        raw = _event("page_view", f"lead-{i}", i, url="https://x.io/pricing", path="/pricing",
                     page_category="pricing")
        send(names["website"], raw, new)
        expected.add(raw)
    outcome = _event("converted", "lead-1", 99, deal_value=12000, currency="EUR")
    send(names["outcomes"], outcome, new)
    expected.add(outcome)
    send(names["website"], b"{not json", new)  # invalid: skipped, counted
    assert producer.flush(30) == 0

    out = tmp_path / "exported.jsonl"
    env = {**os.environ, "LEADSCORE_KAFKA_BOOTSTRAP": kafka.bootstrap,
           **{f"LEADSCORE_TOPIC_{k.upper()}": v for k, v in names.items()}}
    since = (now - timedelta(days=2)).date().isoformat()
    res = subprocess.run([sys.executable, "-m", "streams.cli", "export", "--since", since,
                          "--out", str(out)], env=env, capture_output=True, text=True,
                         timeout=120, stdin=subprocess.DEVNULL)
    assert res.returncode == 0, res.stderr
    assert "exported 8 events" in res.stdout and "skipped 1 invalid" in res.stdout, res.stdout
    assert set(out.read_bytes().splitlines()) == expected
    log = read_events(str(out))  # the file is what training reads
    assert log.valid == 8 and not log.rejected


def test_export_refuses_a_bad_date_in_one_line() -> None:
    res = subprocess.run([sys.executable, "-m", "streams.cli", "export", "--since", "yesterday",
                          "--out", "x.jsonl"], capture_output=True, text=True, timeout=60)
    assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1
    assert "not a date" in res.stderr
