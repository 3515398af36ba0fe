"""Delivery on the real broker: Kafka end state equals offline replay, across two workers,
a worker leaving the group, and a worker killed with SIGKILL under load."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from models.simulate import run as simulate
from schemas import Event, parse_event
from streams.commands.replay import final_scores, messages_from_lines, run
from streams.core.alerting import AlertState
from streams.core.record import LEAD, LeadRecord
from streams.runtime import build_processor
from streams.settings import Settings
from tests.integration.helpers import (
    consume,
    read_table,
    scorer_setup,
    wait_caught_up,
    worker_process,
)


@pytest.fixture(scope="module")
def history(tmp_path_factory) -> Path:
    """Recent traffic spanning less than the state's lateness (48 h), so arrival order across
    topics cannot change what is folded, and young enough for the worker's age limit."""
    path = tmp_path_factory.mktemp("history") / "events.jsonl"
    simulate(1500, 1, seed=11, out=str(path), progress=False,
             start=date.today() - timedelta(days=2))
    events = [parse_event(line, max_age=None) for line in path.read_bytes().splitlines()]
    times = [e.occurred_at for e in events if isinstance(e, Event)]
    assert max(times) - min(times) < timedelta(hours=47)
    return path


class Setup:
    def __init__(self, kafka, prefix: str, model: Path, tmp: Path) -> None:
        self.bootstrap = kafka.bootstrap
        self.app_id = f"{prefix}-app"
        self.tmp = tmp
        self.names, self.env = scorer_setup(self.bootstrap, prefix, model, min_score_change="1")
        self.settings = Settings(**{k.removeprefix("LEADSCORE_").lower(): v
                                    for k, v in self.env.items()})

    @property
    def consumed(self) -> list[str]:
        return [self.names[k] for k in ("website", "email", "product", "profile", "outcomes",
                                        "feedback", "handoff")]

    def produce(self, lines: list[bytes], rate: float | None = None) -> None:
        path = self.tmp / f"part-{time.monotonic_ns()}.jsonl"
        path.write_bytes(b"".join(lines))
        args = ["produce", "--events", str(path)] + (["--rate", str(rate)] if rate else [])
        res = subprocess.run([os.sys.executable, "-m", "streams.cli", *args],
                             env={**os.environ, **self.env}, capture_output=True, text=True,
                             timeout=300)
        assert res.returncode == 0, res.stderr

    def caught_up(self) -> None:
        wait_caught_up(self.bootstrap, self.app_id, self.consumed)

    def kafka_final(self, proc) -> dict:
        table = read_table(self.bootstrap, f"{self.app_id}-leads-changelog")
        return final_scores(proc, table.items()), table


def replay_final(history: Path, settings: Settings, model: Path):
    proc = build_processor(settings, model_dir=model)
    with history.open("rb") as fh:
        tables, _ = run(proc, messages_from_lines(fh, settings))
    return proc, final_scores(proc, tables.leads.items())


def assert_parity(kafka_scores: dict, replay_scores: dict) -> None:
    assert kafka_scores.keys() == replay_scores.keys()
    worst = max(abs(kafka_scores[k].probability - replay_scores[k].probability)
                for k in replay_scores)
    assert worst <= 1e-9, f"max probability difference {worst}"


def wait_for_parity(s: Setup, proc, replay_scores: dict, timeout: float):
    """Poll the worker's changelog until its final scores equal the replay's (or time out)."""
    deadline = time.monotonic() + timeout
    while True:
        kafka_scores, table = s.kafka_final(proc)
        same = kafka_scores.keys() == replay_scores.keys() and all(
            abs(kafka_scores[k].probability - replay_scores[k].probability) <= 1e-9
            for k in replay_scores)
        if same or time.monotonic() > deadline:
            return kafka_scores, table
        time.sleep(3)


def assert_no_alert_lost(table: dict[str, bytes], alerts: list[dict]) -> None:
    """Every alert the state says was raised is on the alerts topic (state is written only
    after the broker acknowledged the alert)."""
    by_lead: dict[str, list[dict]] = {}
    for a in alerts:
        by_lead.setdefault(a["lead_id"], []).append(a)
    for key, raw in table.items():
        if not key.startswith(LEAD):
            continue
        st: AlertState = LeadRecord.from_bytes(raw).alert
        mine = by_lead.get(key[len(LEAD):], [])
        if st.in_hot:
            assert any(a["kind"] == "entered_tier" for a in mine), key
        for kind, at in (("spike", st.last_spike_at), ("decline", st.last_decline_at)):
            if at is not None:
                stamp = datetime.fromtimestamp(at, UTC)
                # A rise that enters Hot is paged once, by entered_tier, though the state
                # records it as the last spike too (streams/core/alerting.py).
                assert any(a["kind"] == kind or (kind == "spike" and a["kind"] == "entered_tier"
                                                 and a["to_score"] == st.spike_score)
                           for a in mine), (key, kind, stamp)


def test_kafka_end_state_equals_replay(kafka, topic_prefix, tmp_path, small_model, history):
    s = Setup(kafka, topic_prefix, small_model, tmp_path)
    with worker_process(s.env, tmp_path):
        s.produce(history.read_bytes().splitlines(keepends=True))
        s.caught_up()
    proc, replay_scores = replay_final(history, s.settings, small_model)
    kafka_scores, _ = s.kafka_final(proc)
    assert len(replay_scores) > 100
    assert_parity(kafka_scores, replay_scores)


def test_two_workers_share_partitions_and_a_leaving_one_loses_nothing(
        kafka, topic_prefix, tmp_path, small_model, history):
    s = Setup(kafka, topic_prefix, small_model, tmp_path)
    lines = history.read_bytes().splitlines(keepends=True)
    third = len(lines) // 3
    with worker_process(s.env, tmp_path, name="a"):
        s.produce(lines[:third])
        s.caught_up()
        with worker_process(s.env, tmp_path, name="b") as b:  # joins: partitions are split
            s.produce(lines[third:2 * third])
            s.caught_up()
            b.send_signal(signal.SIGTERM)  # leaves: its partitions move back to a
            b.wait(timeout=60)
        s.produce(lines[2 * third:])
        s.caught_up()
    logs = (tmp_path / "a.log").read_text() + (tmp_path / "b.log").read_text()
    assert "Traceback" not in logs, logs[-3000:]
    proc, replay_scores = replay_final(history, s.settings, small_model)
    kafka_scores, _ = s.kafka_final(proc)
    assert_parity(kafka_scores, replay_scores)


def test_kill_9_under_load_then_restart_equals_replay_and_keeps_every_alert(
        kafka, topic_prefix, tmp_path, small_model, history):
    s = Setup(kafka, topic_prefix, small_model, tmp_path)
    lines = history.read_bytes().splitlines(keepends=True)
    sender = threading.Thread(target=s.produce, args=(lines, 250.0))
    with worker_process(s.env, tmp_path, name="first") as first:
        sender.start()
        consume(s.bootstrap, s.names["changes"], until=lambda m: len(m) >= 200, timeout=120)
        first.send_signal(signal.SIGKILL)  # mid-stream: the sender is still going
        first.wait(timeout=30)
    # As a supervisor would: restart after the broker has expired the dead member (session
    # timeout 10 s), so the new worker joins an empty group instead of rebalancing twice.
    time.sleep(12)
    proc, replay_scores = replay_final(history, s.settings, small_model)
    with worker_process(s.env, tmp_path, name="second"):
        sender.join(timeout=300)
        # The end state is the criterion (not committed offsets: faust-streaming has open
        # issues where commits stall after a rebalance while processing goes on, #312/#318).
        kafka_scores, table = wait_for_parity(s, proc, replay_scores, timeout=180)
    assert_parity(kafka_scores, replay_scores)
    alerts = [orjson.loads(m.value()) for m in consume(
        s.bootstrap, s.names["alerts"], until=lambda m: False, timeout=8)]
    assert_no_alert_lost(table, alerts)
