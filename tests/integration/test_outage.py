"""A broker outage under load: the worker rides it out in the same process (no restart),
loses nothing (end state equals replay), and logs it in a few lines, not tens of thousands
(streams/worker/logs.py, streams/worker/timers/kafka_probe.py)."""

from __future__ import annotations

import threading
import time
from datetime import date, timedelta
from urllib.request import urlopen

from models.simulate import run as simulate
from streams.local import kafka as localkafka
from tests.integration.helpers import consume, worker_process
from tests.integration.test_delivery import (
    Setup,
    assert_parity,
    replay_final,
    wait_for_parity,
)

OUTAGE_S = 15.0


def metric(port: str, name: str) -> float:
    """A sample of the worker's /metrics, by full sample name."""
    body = urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    for line in body.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not in /metrics")


def total_lag(port: str) -> float:
    """The worker's consumer lag over all its partitions (a labelled gauge)."""
    body = urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    return sum(float(line.split()[-1]) for line in body.splitlines()
               if line.startswith("leadscore_consumer_lag_messages{"))


def poll(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(0.5)


def test_broker_down_15_s_under_load_loses_nothing_needs_no_restart_and_logs_a_few_lines(
        own_kafka, topic_prefix, tmp_path, small_model):
    history = tmp_path / "events.jsonl"
    # Under 48 h of event time: what is folded cannot depend on arrival order.
    simulate(1000, 1, seed=31, out=str(history), progress=False,
             start=date.today() - timedelta(days=2))
    lines = history.read_bytes().splitlines(keepends=True)
    s = Setup(own_kafka, topic_prefix, small_model, tmp_path)
    log = tmp_path / "worker.log"
    sent: list[BaseException | None] = []

    def send() -> None:  # the sender's outcome, so a failed send is not read as a lost event
        try:
            s.produce(lines, 250.0)
            sent.append(None)
        except BaseException as exc:  # noqa: BLE001 - reported by the test's thread
            sent.append(exc)

    sender = threading.Thread(target=send)
    web = str(localkafka.free_port())
    with worker_process({**s.env, "LEADSCORE_WEB_PORT": web}, tmp_path) as worker:
        pid = worker.pid
        sender.start()
        consume(s.bootstrap, s.names["changes"], until=lambda m: len(m) >= 100, timeout=120)
        assert own_kafka.spec is not None
        before = log.read_text().count("\n")
        localkafka.stop(own_kafka.spec, grace=20)  # the sender is still sending
        stopped = time.monotonic()
        poll(lambda: metric(web, "leadscore_kafka_reachable") == 0, 10, "reachable 0")
        time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - stopped)))  # the outage itself
        localkafka.start(own_kafka.spec, tied_to_parent=True)  # same ports, same data
        poll(lambda: metric(web, "leadscore_kafka_reachable") == 1, 30, "reachable 1")
        assert metric(web, "leadscore_kafka_unreachable_seconds_total") >= OUTAGE_S - 4
        sender.join(timeout=300)
        assert sent == [None], f"the events were not all sent: {sent or 'still sending'}"
        proc, replay_scores = replay_final(history, s.settings, small_model)
        kafka_scores, _ = wait_for_parity(s, proc, replay_scores, timeout=180)
        assert worker.poll() is None and worker.pid == pid, "the worker exited"
        # Which side is short, and how far the worker got (its consumer lag), if parity fails.
        short = (f"the changelog has {len(kafka_scores)} of replay's {len(replay_scores)} "
                 f"leads; the worker's consumer lag: {total_lag(web)} messages")
        # "Back" is logged once the clients have been quiet for a few seconds after the probe
        # reached a broker again; the clients' reconnect backoff can outlast a quick catch-up.
        poll(lambda: "Kafka reachable again" in log.read_text(), 60, "the back-again line")
        during = log.read_text().splitlines()[before:]
    assert len(kafka_scores) == len(replay_scores), short
    assert_parity(kafka_scores, replay_scores)
    text = "\n".join(during)
    assert "Kafka unreachable at" in text and "Kafka reachable again" in text, text[-3000:]
    assert len(during) <= 40, f"{len(during)} log lines during the outage:\n" + text[-3000:]
