"""``leadscore produce``: send an event file to Kafka the way a tracking pixel's producer would.

Each JSON line goes to its category's topic (names from settings), keyed by the lead id, or by
the anonymous id for web events before the visitor is known (``Event.key``, from the
contract: ``identify`` is keyed by its anonymous id, so it lands where that visitor's
anonymous history lives). Lines that are not valid events are still sent (to
``--malformed-topic``), byte for byte: the worker's dead-letter path is part of what a
producer exercises, and nothing in a file is silently dropped.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from models.errors import UsageError
from models.state import DEFAULT_STATE_CONFIG
from schemas import Event, parse_event
from streams.kafkaconfig import KafkaUnavailable, client_config, redact, wait_for_brokers
from streams.settings import Settings, get_settings


def topic_for(event: Event, settings: Settings) -> str:
    """The contract's category -> topic mapping, with the topic names from settings."""
    return {
        "website": settings.topic_website,
        "email": settings.topic_email,
        "product": settings.topic_product,
        "profile": settings.topic_profile,
        "outcome": settings.topic_outcomes,
    }[event.category]


@dataclass
class Routed:
    topic: str
    key: bytes | None
    value: bytes
    valid: bool
    at: float | None = None  # the event's time (epoch s), for valid events


class TimeOrder:
    """Counts events sent more than the state's lateness (48 h) before an event sent earlier
    on the same topic. The worker merges a lead's topics in event-time order, per partition
    (streams/worker/order.py), so a topic that goes back in time that far (a file in lead-by-
    lead order, as ``leadscore simulate`` writes) has events the worker may drop as late."""

    def __init__(self, lateness_s: float = DEFAULT_STATE_CONFIG.lateness_seconds) -> None:
        self.lateness_s = lateness_s
        self.newest: dict[str, float] = {}
        self.behind = 0

    def see(self, topic: str, at: float | None) -> None:
        if at is None:
            return
        newest = self.newest.get(topic)
        if newest is None or at > newest:
            self.newest[topic] = at
        elif at < newest - self.lateness_s:
            self.behind += 1

    def warning(self) -> str | None:
        if not self.behind:
            return None
        return (f"warning: {self.behind:,} events were sent more than "
                f"{self.lateness_s / 3600:.0f} h before an event sent earlier on the same "
                "topic; the worker drops an event that far behind its lead's newest as late. "
                "Sort the file by occurred_at (README: Bootstrapping a worker from history)")


def route_lines(
    lines: Iterator[bytes], settings: Settings, malformed_topic: str
) -> Iterator[Routed]:
    """Pure routing of raw lines (blank lines skipped), testable without a broker."""
    for line in lines:
        raw = line.rstrip(b"\r\n")
        if not raw.strip():
            continue
        ev = parse_event(raw, max_age=None)
        if isinstance(ev, Event):
            yield Routed(topic_for(ev, settings), ev.key.encode(), raw, True,
                         ev.occurred_at.timestamp())
        else:
            yield Routed(malformed_topic, None, raw, False)


def produce_file(path: Path, *, rate: float | None, malformed_topic: str | None = None,
                 settings: Settings | None = None, progress: bool = True,
                 order: TimeOrder | None = None) -> Counter[str]:
    """Send every line of ``path``; return counts per topic (plus 'malformed'). ``order``
    counts events far behind their topic's newest (:class:`TimeOrder`)."""
    from confluent_kafka import KafkaException, Producer

    settings = settings or get_settings()
    wait_for_brokers(settings)  # one line, not a minute of retries, when no broker answers
    producer = Producer({
        **client_config(settings),
        "enable.idempotence": True,  # a retried send is not a duplicate event
        # Kafka's default partitioner (Java clients, Faust): librdkafka's own default hashes
        # differently, which would put a lead's events and its handoffs on different partitions.
        "partitioner": "murmur2_random",
        "linger.ms": 5,
        "log_level": 3,  # errors only: retries on a fresh broker are not the user's problem
        "compression.type": "lz4",
    })
    failures: list[str] = []

    def on_delivery(err: object, _msg: object) -> None:
        if err is not None:
            failures.append(str(err))

    counts: Counter[str] = Counter()
    started = time.monotonic()
    with path.open("rb") as fh:
        for i, r in enumerate(route_lines(iter(fh), settings,
                                          malformed_topic or settings.topic_website)):
            while True:
                try:
                    producer.produce(r.topic, key=r.key, value=r.value, on_delivery=on_delivery)
                    break
                except BufferError:
                    producer.poll(0.1)
                except KafkaException as exc:
                    raise UsageError(redact(f"Kafka refused a message: {exc}", settings)) from None
            producer.poll(0)
            if order is not None:
                order.see(r.topic, r.at)
            counts[r.topic] += 1
            if not r.valid:
                counts["malformed"] += 1
            if rate:
                ahead = (i + 1) / rate - (time.monotonic() - started)
                if ahead > 0:
                    time.sleep(ahead)
            if progress and (i + 1) % 10_000 == 0:
                print(f"\rproduced {i + 1:,} events", end="", file=sys.stderr, flush=True)
    remaining = producer.flush(60)
    if progress:
        print("\r", end="", file=sys.stderr)
    if remaining or failures:
        raise KafkaUnavailable(redact(
            f"{remaining + len(failures):,} messages not delivered to "
            f"{settings.kafka_bootstrap}; first error: "
            f"{failures[0] if failures else 'not acknowledged within 60 s'}", settings))
    return counts


def add_arguments(sub: argparse._SubParsersAction) -> None:
    from streams.commands.args import existing_file, positive_float

    p = sub.add_parser(
        "produce",
        help="send a JSON-lines event file to the input topics, keyed as a producer would",
        description="Send each line of FILE to its category's topic, keyed by lead id (or "
        "anonymous id for web events before identification; identify by its anonymous id). "
        "Invalid lines are sent unchanged to --malformed-topic so the worker dead-letters them.",
    )
    p.add_argument("--events", type=existing_file, required=True, metavar="FILE",
                   help="JSON lines, one event per line (e.g. from leadscore simulate)")
    p.add_argument("--rate", type=positive_float, default=None, metavar="N",
                   help="events per second (default: as fast as possible)")
    p.add_argument("--malformed-topic", default=None,
                   help="where invalid lines go (default: the website topic)")
    p.set_defaults(func=run_from_args)


def run_from_args(args: argparse.Namespace) -> int:
    order = TimeOrder()
    counts = produce_file(args.events, rate=args.rate, malformed_topic=args.malformed_topic,
                          order=order)
    total = sum(v for k, v in counts.items() if k != "malformed")
    parts = ", ".join(f"{k} {v:,}" for k, v in sorted(counts.items()) if k != "malformed")
    print(f"sent {total:,} messages ({parts}); {counts['malformed']:,} invalid lines included "
          "for the dead-letter topic")
    warning = order.warning()
    if warning:
        print(warning, file=sys.stderr)
    return 0
