"""Event-to-score latency: pricing views at a steady rate, matched to their score changes."""

from __future__ import annotations

import contextlib
import math
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from models.errors import UsageError
from streams.bench.machine import Share, ShareMeter, broker_pid
from streams.bench.prepare import Run, _producer, _send
from streams.bench.scorer import _check_alive, worker, worker_env
from streams.commands.produce import route_lines
from streams.core.latency import histogram_delta, parse_histogram
from streams.settings import Settings


def pricing_view(event_id: str, lead: str) -> bytes:
    """A significant event (pricing page view) for a known lead, happening now."""
    return orjson.dumps({
        "event_id": event_id, "type": "page_view", "lead_id": lead, "source": "leadscore-bench",
        "occurred_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "schema_version": 2, "properties": {"url": "https://www.example.com/pricing",
                                            "path": "/pricing", "page_category": "pricing"}})


class ChangeReader:
    """Reads score changes from the end offsets as they were at creation (explicit assignment:
    nothing sent after it can be missed); records when each cause_event_id arrived."""

    def __init__(self, client: dict[str, Any], topic: str) -> None:
        from confluent_kafka import Consumer, TopicPartition

        self.c = Consumer({**client, "group.id": f"bench-{uuid.uuid4()}",
                           "enable.auto.commit": False, "log_level": 3})
        parts = self.c.list_topics(topic, timeout=10).topics[topic].partitions
        self.c.assign([TopicPartition(topic, p, self.c.get_watermark_offsets(
            TopicPartition(topic, p), timeout=10)[1]) for p in parts])
        self.seen: dict[str, float] = {}

    def poll(self, timeout: float) -> None:
        first = self.c.poll(timeout)
        if first is None:
            return
        now = time.monotonic()  # one read time for what one poll returned
        for m in [first, *self.c.consume(num_messages=500, timeout=0)]:
            value = m.value()
            if m.error() is None and value is not None:
                # orjson, not the contract's pydantic reader: at 2,000 changes/s this process
                # shares the machine with the worker it measures.
                with contextlib.suppress(ValueError, TypeError, KeyError):
                    self.seen.setdefault(orjson.loads(value)["cause_event_id"], now)

    def close(self) -> None:
        self.c.close()


class Sender(threading.Thread):
    """Sends ``total`` pricing views at ``rate``/s round-robin over the leads; records the
    monotonic time of each produce() call. ``producer``: one that has already sent (the
    probe's), so its connection and its idempotent producer id are not timed as latency."""

    def __init__(self, producer: Any, s: Settings, leads: list[str], rate: float,
                 total: int, tag: str) -> None:
        super().__init__(name="bench-sender", daemon=True)
        self.producer, self.s, self.leads, self.rate, self.total = producer, s, leads, rate, total
        self.tag = tag
        self.sent_at: dict[str, float] = {}
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            producer = self.producer
            t0 = time.monotonic()
            for i in range(self.total):
                eid = f"bench-{self.tag}-{i}"
                lead = self.leads[i % len(self.leads)]
                line = pricing_view(eid, lead)
                # A page view goes to the website topic keyed by its lead, as route_lines
                # would send it (without validating: this process shares the machine).
                self.sent_at[eid] = time.monotonic()
                _send(producer, self.s.topic_website, lead.encode(), line)
                producer.poll(0)
                ahead = (i + 1) / self.rate - (time.monotonic() - t0)
                if ahead > 0:
                    time.sleep(ahead)
            producer.flush(30)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            self.error = exc


@dataclass
class Latency:
    rate: float  # asked for
    sent: int
    matched: int
    latencies: list[float]
    send_rate: float  # achieved: the sender shares this process (and the machine)
    # The worker's own histogram (what Prometheus and the Grafana dashboard show) over the
    # same events: cumulative (upper bound, count) per bucket, from /metrics before and after.
    worker_buckets: list[tuple[float, float]]
    linger_ms: float = 0.0  # the sending producer's linger.ms
    machine: Share | None = None  # who used the machine's cores while sending

    @property
    def worker_cores(self) -> float:
        """The worker's CPU time while sending / wall time."""
        return self.machine.worker if self.machine is not None else math.nan


def scorer_latency(run: Run, s: Settings, leads: list[str], web_port: int,
                   rates: list[float], seconds: float, linger_ms: float = 5.0
                   ) -> list[Latency]:
    """Restart the worker with LEADSCORE_MIN_SCORE_CHANGE=0; once it scores a probe, send
    pricing views at each rate in turn for ``seconds`` and match each to its score change.
    ``linger_ms``: the sending producer's linger.ms (timed: latency starts at produce())."""
    reader = ChangeReader(run.client, s.topic_changes)
    out: list[Latency] = []
    try:
        with worker(run, worker_env(run, s, web_port, 0), "worker-latency") as proc:
            producer = _wait_probe(run, s, reader, proc, leads[0], uuid.uuid4().hex[:8],
                                   linger_ms)
            meter = ShareMeter(proc.pid, broker_pid(run.bootstrap))
            for rate in rates:
                tag = uuid.uuid4().hex[:8]
                before = scrape_histogram(web_port, LATENCY_METRIC)
                sender = Sender(producer, s, leads, rate, max(1, round(rate * seconds)), tag)
                meter.start()
                sender.start()
                while sender.is_alive():
                    reader.poll(0.1)
                    _check_alive(proc, run)
                share = meter.stop()
                _drain(reader, sender, proc, run)
                if sender.error is not None:
                    raise UsageError(f"sending the latency events failed: {sender.error}")
                time.sleep(1.0)  # the worker counts a batch once its outputs are acknowledged
                after = scrape_histogram(web_port, LATENCY_METRIC)
                lat = [reader.seen[e] - t for e, t in sender.sent_at.items() if e in reader.seen]
                times = list(sender.sent_at.values())
                span = max(times) - min(times) if len(times) > 1 else math.nan
                out.append(Latency(rate, len(times), len(lat), lat, (len(times) - 1) / span,
                                   histogram_delta(after, before), linger_ms, share))
    finally:
        reader.close()
    return out


LATENCY_METRIC = "leadscore_event_to_score_seconds"


def scrape_histogram(web_port: int, name: str) -> dict[float, float]:
    """Cumulative bucket counts ``{le: count}`` of a histogram on a worker's /metrics."""
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{web_port}/metrics", timeout=5) as r:
            return parse_histogram(r.read().decode(), name)
    except OSError:
        return {}


def _wait_probe(run: Run, s: Settings, reader: ChangeReader, proc: subprocess.Popen[bytes],
                lead: str, tag: str, linger_ms: float) -> Any:
    """The worker has recovered its tables and loaded the model once it scores one event:
    without this its start-up would be measured as the first events' latency. Returns the
    producer that sent the probe, warmed up for the senders."""
    eid = f"bench-probe-{tag}"
    producer = _producer(run.client, linger_ms=linger_ms)
    for r in route_lines(iter([pricing_view(eid, lead)]), s, s.topic_website):
        _send(producer, r.topic, r.key, r.value)
    producer.flush(30)
    deadline = time.monotonic() + 180
    while eid not in reader.seen:
        _check_alive(proc, run)
        if time.monotonic() > deadline:
            raise UsageError(f"the restarted worker scored no probe event in 180 s; see {run.work}")
        reader.poll(0.2)
    time.sleep(2.0)  # let the recovery's tail settle before the clock starts
    reader.poll(0.1)
    return producer


def _drain(reader: ChangeReader, sender: Sender, proc: subprocess.Popen[bytes],
           run: Run) -> None:
    """Read until every sent event is matched, or 10 s after the last send."""
    end = time.monotonic() + 10
    while time.monotonic() < end and not set(sender.sent_at) <= set(reader.seen):
        reader.poll(0.2)
        _check_alive(proc, run)
