"""SIGTERM mid-batch under load: a graceful stop loses nothing and publishes nothing twice.

"Twice" precisely: on ``scores.changes``, two messages for the same (lead, cause event); on
``scores.alerts``, two messages with the same idempotency key (lead, kind, tier, cause
event). With ``MIN_SCORE_CHANGE=1`` every computed score that moved is published, so a batch
redone after the restart would show up as a repeated (lead, cause). Nothing is redone when the
stop is graceful: every batch the agent started is delivered, written and committed before
the worker leaves the group."""

from __future__ import annotations

import signal
import threading
import time
from collections import Counter

import orjson
from confluent_kafka import Consumer, TopicPartition

from tests.integration.helpers import admin_client, consume, worker_process
from tests.integration.test_delivery import (  # noqa: F401 - history is the module's fixture
    Setup,
    assert_parity,
    history,
    replay_final,
    wait_for_parity,
)

# The stop must be prompt: Faust's own shutdown plus committing what is in flight.
STOP_WITHIN_S = 30.0


def read_all(bootstrap: str, topic: str) -> list[dict]:
    probe = Consumer({"bootstrap.servers": bootstrap, "group.id": f"{topic}-probe"})
    parts = admin_client(bootstrap).list_topics(timeout=10).topics[topic].partitions
    total = sum(probe.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
                for p in parts)
    probe.close()
    msgs = consume(bootstrap, topic, until=lambda got: len(got) >= total, timeout=60)
    assert len(msgs) == total
    return [orjson.loads(m.value()) for m in msgs]


def test_sigterm_under_load_loses_nothing_and_publishes_nothing_twice(
        kafka, topic_prefix, tmp_path, small_model, history):  # noqa: F811
    s = Setup(kafka, topic_prefix, small_model, tmp_path)
    # Tiers a small model's scores cross, so that alerts are published too. State and offsets
    # are committed every 3 s (outputs are sent at once): whenever the SIGTERM comes, seconds
    # of batches are published but not committed, which a stop that did not finish them would
    # leave to be redone, and published again, after the restart.
    s.env.update(LEADSCORE_TIER_HOT="3", LEADSCORE_TIER_WARM="1",
                 LEADSCORE_COMMIT_INTERVAL_MS="3000")
    lines = history.read_bytes().splitlines(keepends=True)
    warm, rest = lines[:500], lines[500:]
    # The rest at a steady rate, started once the worker is scoring: it lasts ~30 s, so the
    # SIGTERM lands under load however slowly the worker started on a busy machine.
    sender = threading.Thread(target=s.produce, args=(rest, 150.0))
    with worker_process(s.env, tmp_path, name="first") as first:
        s.produce(warm)
        before = len(consume(s.bootstrap, s.names["changes"], until=lambda m: len(m) >= 50,
                             timeout=180))
        sender.start()
        seen = consume(s.bootstrap, s.names["changes"],
                       until=lambda m: len(m) >= before + 150, timeout=120)
        assert len(seen) >= before + 150 and sender.is_alive(), "SIGTERM must come under load"
        started = time.monotonic()
        first.send_signal(signal.SIGTERM)
        status = first.wait(timeout=60)
        stopped_in = time.monotonic() - started
    print(f"\nSIGTERM after {len(seen)} score changes: stopped in {stopped_in:.1f} s")
    assert status == 0, f"exit status {status}"
    assert stopped_in < STOP_WITHIN_S, f"stopped in {stopped_in:.1f} s"
    proc, replay_scores = replay_final(history, s.settings, small_model)
    with worker_process(s.env, tmp_path, name="second"):
        sender.join(timeout=300)
        kafka_scores, _ = wait_for_parity(s, proc, replay_scores, timeout=180)
        s.caught_up()
    assert_parity(kafka_scores, replay_scores)  # every event's effect is there

    changes = read_all(s.bootstrap, s.names["changes"])
    alerts = read_all(s.bootstrap, s.names["alerts"])
    twice = [k for k, n in Counter((c["lead_id"], c["cause_event_id"]) for c in changes).items()
             if n > 1]
    assert not twice, f"{len(twice)} score changes published twice, e.g. {twice[:5]}"
    twice = [k for k, n in Counter(a["idempotency_key"] for a in alerts).items() if n > 1]
    assert not twice, f"{len(twice)} alerts published twice, e.g. {twice[:5]}"
    assert len(changes) > len(seen) and alerts
    log = (tmp_path / "first.log").read_text()
    assert "Traceback" not in log, log[-3000:]
