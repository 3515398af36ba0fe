"""Event-time order across the input topics on the real broker: a worker bootstrapped from 60
days of history loaded topic by topic (every website event first, then email, ...: the worst
order a backlog can have), then fed live traffic, ends with replay's scores. Before the
ordering (streams/worker/order.py) it dropped as late the events replay keeps."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from models.simulate import run as simulate
from models.state import M
from schemas import Event, parse_event
from streams.commands.produce import topic_for
from streams.core.record import LEAD, LeadRecord
from tests.integration.helpers import worker_process
from tests.integration.test_delivery import Setup, assert_parity, replay_final


def in_time_order(path: Path) -> list[tuple[datetime | None, Event | None, bytes]]:
    """The file's lines sorted by event time, as a history export is (invalid lines last),
    without anonymous visitors: their events reach the lead through ``leads.handoff``, which
    replay loops back only after the whole file, so over 60 days replay itself drops some of
    them as late (README, "Bootstrapping from history": the ordering covers the five input
    topics)."""
    rows: list[tuple[datetime | None, Event | None, bytes]] = []
    invalid: list[tuple[datetime | None, Event | None, bytes]] = []
    for line in path.read_bytes().splitlines(keepends=True):
        ev = parse_event(line, max_age=None)
        if not isinstance(ev, Event):
            invalid.append((None, None, line))
        elif ev.lead_id is not None and ev.type != "identify":
            rows.append((ev.occurred_at, ev, line))
    return sorted(rows, key=lambda r: r[0] or datetime.min) + invalid


@pytest.fixture(scope="module")
def sixty_days(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("sixty") / "raw.jsonl"
    simulate(400, 60, seed=23, out=str(path), progress=False,
             start=date.today() - timedelta(days=62))
    return path


def test_bootstrap_from_history_loaded_topic_by_topic_then_live_traffic_equals_replay(
        kafka, topic_prefix, tmp_path, small_model, sixty_days):
    s = Setup(kafka, topic_prefix, small_model, tmp_path)
    rows = in_time_order(sixty_days)
    first = rows[0][0]
    assert first is not None
    cut = first + timedelta(days=50)
    history = [r for r in rows if r[0] is None or r[0] < cut]
    live = [r for r in rows if r[0] is not None and r[0] >= cut]
    assert len(history) > 4000 and len(live) > 500
    # The history, one topic after the other: a backlog where website runs 50 days ahead.
    by_topic: dict[str, list[bytes]] = {}
    for _, ev, line in history:
        topic = topic_for(ev, s.settings) if ev is not None else s.settings.topic_website
        by_topic.setdefault(topic, []).append(line)
    assert len(by_topic) == 5
    for topic in s.settings.input_topics:  # the feedback topic has no history here
        if topic in by_topic:
            s.produce(by_topic[topic])
    with worker_process(s.env, tmp_path) as worker:
        s.caught_up()
        # Live traffic, in time order, over 30 s of wall time. Ten days of events sent in
        # half a second (2,000/s) made a few hundred ms of skew between two topics' deliveries
        # worth days of event time: a lead's website events could reach the worker before
        # its email events of days earlier, with the email partition's lag 0 (nothing on the
        # broker yet, so nothing to wait for, as designed), and the fold dropped those as
        # more than 48 h late. Live traffic's event time moves with the clock, so there a
        # skew of milliseconds is milliseconds.
        s.produce([line for _, _, line in live], rate=len(live) / 30.0)
        s.caught_up()
        assert worker.poll() is None
    everything = tmp_path / "everything.jsonl"
    everything.write_bytes(b"".join(line for _, _, line in history + live))
    proc, replay_scores = replay_final(everything, s.settings, small_model)
    kafka_scores, table = s.kafka_final(proc)
    assert len(replay_scores) > 300
    assert late_events(table) == 0, "the worker dropped events as late"
    assert_parity(kafka_scores, replay_scores)


def late_events(table: dict[str, bytes]) -> int:
    """Events the worker's lead states dropped as too late."""
    return sum(int(LeadRecord.from_bytes(raw).state.misc[M["late"]])
               for key, raw in table.items() if key.startswith(LEAD))
