"""``leadscore export``: read the input topics back into an event file, for retraining.

Why from Kafka: the input topics are the system of record of what leads did; an export of
them since a date is exactly the history a challenger model is trained on (``leadscore
retrain``), in the same JSON-lines form ``leadscore simulate`` writes and ``leadscore train``
reads. Each topic's partitions are read from the first record at or after ``--since`` (the
broker's time index, ``offsets_for_times``) up to their end as it was when the export started,
so the file is a consistent cut even while traffic flows. Only valid events are written (the
invalid ones are in the dead-letter topic already); the summary counts what was skipped.
Records are written in the order read (per partition); ``leadscore train`` does not need
them sorted.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from models.errors import UsageError
from schemas import Event, parse_event
from streams.kafkaconfig import client_config, wait_for_brokers
from streams.settings import Settings, get_settings


@dataclass
class Exported:
    events: int = 0
    skipped: Counter[str] = field(default_factory=Counter)  # reason -> count
    per_topic: Counter[str] = field(default_factory=Counter)


def export(s: Settings, since: datetime, until: datetime | None, out: Path,
           topics: list[str] | None = None, timeout: float = 30.0) -> Exported:
    """Write every valid event of ``topics`` (default: the input topics) with a Kafka
    timestamp in [since, until) to ``out``."""
    from confluent_kafka import OFFSET_END, Consumer, TopicPartition

    wait_for_brokers(s)
    topics = topics or s.input_topics
    consumer = Consumer({**client_config(s), "group.id": "leadscore-export",
                         "enable.auto.commit": False, "auto.offset.reset": "earliest",
                         "log_level": 3})
    done = Exported()
    try:
        md = consumer.list_topics(timeout=timeout)
        missing = [t for t in topics if t not in md.topics]
        if missing:
            raise UsageError(f"no such topic at {s.kafka_bootstrap}: {', '.join(missing)}")
        since_ms = int(since.timestamp() * 1000)
        wanted = [TopicPartition(t, p, since_ms) for t in topics for p in md.topics[t].partitions]
        starts = consumer.offsets_for_times(wanted, timeout=timeout)
        ends: dict[tuple[str, int], int] = {}
        assign = []
        for tp in starts:
            _, high = consumer.get_watermark_offsets(TopicPartition(tp.topic, tp.partition),
                                                     timeout=timeout)
            if tp.offset in (OFFSET_END, -1) or tp.offset >= high:
                continue  # nothing at or after --since in this partition
            ends[(tp.topic, tp.partition)] = high
            assign.append(tp)
        consumer.assign(assign)
        until_ms = int(until.timestamp() * 1000) if until else None
        tmp = out.with_name(out.name + ".partial")
        with tmp.open("wb") as fh:
            while ends:
                batch = consumer.consume(num_messages=1000, timeout=1.0)
                for m in batch:
                    if m.error() is not None:
                        continue
                    key = (m.topic() or "", m.partition() or 0)
                    if key not in ends:
                        continue
                    if (m.offset() or 0) >= ends[key] - 1:
                        del ends[key]
                    if until_ms is not None and m.timestamp()[1] >= until_ms:
                        continue
                    _write(fh, m.value(), m.topic() or "", done)
                if not batch and not _any_left(consumer, ends, timeout):
                    break
        tmp.replace(out)
    finally:
        consumer.close()
    return done


def _write(fh: BinaryIO, value: bytes | None, topic: str, done: Exported) -> None:
    ev = parse_event(value, max_age=None)
    if not isinstance(ev, Event):
        done.skipped[ev.reason_code.value] += 1
        return
    assert value is not None  # an Event came from bytes
    fh.write(value.rstrip(b"\r\n") + b"\n")
    done.events += 1
    done.per_topic[topic] += 1


def _any_left(consumer: object, ends: dict[tuple[str, int], int], timeout: float) -> bool:
    """Whether a partition still has records before its end (records deleted by retention or
    compaction leave gaps the position jumps over)."""
    from confluent_kafka import TopicPartition

    positions = consumer.position(  # type: ignore[attr-defined]
        [TopicPartition(t, p) for t, p in ends])
    for tp in positions:
        if tp.offset >= 0 and tp.offset >= ends[(tp.topic, tp.partition)]:
            del ends[(tp.topic, tp.partition)]
    return bool(ends)


def _date(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a date: {text!r} (YYYY-MM-DD or an ISO-8601 time)") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def add_arguments(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export",
        help="read the input topics back into an event file (for leadscore retrain)",
        description=(__doc__ or "").split("\n\n")[1].replace("\n", " "),
    )
    p.add_argument("--since", type=_date, required=True, metavar="DATE",
                   help="first Kafka timestamp to export (YYYY-MM-DD, UTC, or ISO-8601)")
    p.add_argument("--until", type=_date, default=None, metavar="DATE",
                   help="stop before this timestamp (default: the topics' end at start)")
    p.add_argument("--out", type=Path, required=True, metavar="FILE",
                   help="JSON lines, one event per line")
    p.set_defaults(func=run_from_args)


def run_from_args(args: argparse.Namespace) -> int:
    s = get_settings()
    if args.until is not None and args.until <= args.since:
        raise UsageError("--until must be after --since")
    if not args.out.parent.is_dir():
        raise UsageError(f"no such folder: {args.out.parent}")
    done = export(s, args.since, args.until, args.out)
    topics = ", ".join(f"{t} {n:,}" for t, n in sorted(done.per_topic.items())) or "none"
    skipped = sum(done.skipped.values())
    print(f"exported {done.events:,} events to {args.out} ({topics})"
          + (f"; skipped {skipped:,} invalid records (in the dead-letter topic already: "
             + ", ".join(f"{r} {n}" for r, n in done.skipped.most_common()) + ")"
             if skipped else ""), file=sys.stdout)
    return 0
