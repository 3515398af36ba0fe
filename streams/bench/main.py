"""``python -m streams.bench``: run the phases in order and print the table."""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import tempfile
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

import streams.bench
from models.errors import UsageError
from streams.bench.ceiling import ceiling
from streams.bench.latency import scorer_latency
from streams.bench.parts import measure
from streams.bench.parts import rows as part_rows
from streams.bench.prepare import (
    Run,
    create_topics,
    drop_created,
    ensure_broker,
    ensure_model,
    generate_events,
    preload,
    route,
    say,
    send_routed,
    topic_settings,
)
from streams.bench.report import fmt_rate, render_table, report_rows
from streams.bench.scorer import scorer_throughput
from streams.commands.args import Parser, non_negative_float, positive_float, positive_int
from streams.kafkaconfig import KafkaUnavailable
from streams.local import kafka as localkafka
from streams.settings import Settings, describe_invalid


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = Parser(prog="python -m streams.bench",
               description=(streams.bench.__doc__ or "").split("\n\n")[0])
    p.add_argument("--events", type=positive_int, default=50_000, metavar="N",
                   help="events for the throughput phases (default: 50,000)")
    p.add_argument("--leads", type=positive_int, default=15_000, metavar="N",
                   help="leads per simulated population over 2 days (about 3.7 events each); "
                   "more populations are added until there are --events (default: 15,000)")
    p.add_argument("--model", default=os.environ.get("LEADSCORE_MODEL_DIR"), metavar="DIR",
                   help="model artifact (default: $LEADSCORE_MODEL_DIR; else one is trained)")
    p.add_argument("--bootstrap", default=os.environ.get("LEADSCORE_KAFKA_BOOTSTRAP"),
                   metavar="HOST:PORT", help="broker to use if it answers (default: "
                   "$LEADSCORE_KAFKA_BOOTSTRAP; else a local one is started on free ports)")
    p.add_argument("--partitions", type=positive_int, default=4, metavar="N",
                   help="partitions of every bench topic (default: 4)")
    p.add_argument("--rate", type=rates, default=[300.0, 2000.0], metavar="N[,N...]",
                   help="latency phase: events per second, one measurement per rate, in "
                   "order; the lower first, so a backlog at the higher one cannot spoil it "
                   "(default: 300,2000)")
    p.add_argument("--seconds", type=positive_float, default=20.0, metavar="S",
                   help="latency phase: how long to send at each rate (default: 20)")
    p.add_argument("--sender-linger-ms", type=non_negative_float, default=5.0, metavar="MS",
                   help="latency phase: linger.ms of the producer that sends the pricing "
                   "views (default: 5). Latency is timed from produce(), so this wait is "
                   "inside the figures. Why not 0: a site's event collector batches, and a "
                   "producer with linger 0 sends each event as its own request; at 2,000/s "
                   "that cost the broker ~0.2 cores and this process ~0.1 more, on the cores "
                   "the measured worker shares with them")
    p.add_argument("--workers", type=positive_int, default=1, metavar="N",
                   help="also measure N workers sharing the partitions (aggregate rate; "
                   "give --partitions 8 for 2 workers); default: 1 (only the one worker)")
    return p.parse_args(argv)


def rates(text: str) -> list[float]:
    """argparse type: comma-separated positive numbers."""
    return [positive_float(part) for part in text.split(",")]


def bench(args: argparse.Namespace, run: Run) -> list[tuple[str, str]]:
    run.sample_load("start")
    ensure_broker(run, args.bootstrap, args.partitions)
    ensure_model(run, args.model)
    say(f"simulating {args.events:,} events")
    ev = generate_events(args.events, args.leads, run.work)
    prefix = run.prefix = f"bench-{uuid.uuid4().hex[:8]}"
    scorer_s = topic_settings(f"{prefix}-scorer", run.bootstrap, args.partitions)
    ceil_s = topic_settings(f"{prefix}-ceiling", run.bootstrap, args.partitions)
    group_s = topic_settings(f"{prefix}-group", run.bootstrap, args.partitions)
    names = [*topic_names(scorer_s), *ceil_s.input_topics, ceil_s.topic_changes]
    if args.workers > 1:
        names += topic_names(group_s)
    create_topics(run, names, [scorer_s.topic_changes, group_s.topic_changes], args.partitions)
    say("pre-loading the events into the ceiling's and the scorer's topics")
    preload(run.client, ev.lines, [ceil_s, scorer_s])
    say("ceiling: bare consume/read-modify-write/produce loop")
    ceil = ceiling(run, ceil_s, ceil_s.topic_changes, args.events)
    run.sample_load("ceiling")
    say(f"ceiling {fmt_rate(ceil[0])}; scorer throughput: starting one worker")
    web_port = localkafka.free_port()
    tps = [scorer_throughput(run, scorer_s, args.events, [web_port])]
    run.sample_load("scorer")
    say(f"scorer {fmt_rate(tps[0].events_per_s)}, {tps[0].cpu_us_per_event:.0f} CPU-us/event")
    if args.workers > 1:
        say(f"scorer throughput: {args.workers} workers on {args.partitions} partitions")
        ports = [localkafka.free_port() for _ in range(args.workers)]
        routed = route(ev.lines, group_s)  # validated now, so the load is only producing
        tps.append(scorer_throughput(run, group_s, args.events, ports,
                                     load=lambda: send_routed(run.client, routed)))
        run.sample_load(f"{args.workers} workers")
        say(f"{args.workers} workers: {fmt_rate(tps[-1].events_per_s)} in all")
    say("latency: restarting the worker with LEADSCORE_MIN_SCORE_CHANGE=0")
    lats = scorer_latency(run, scorer_s, ev.leads, web_port, args.rate, args.seconds,
                          args.sender_linger_ms)
    run.sample_load("latency")
    say("explanations and drift: measured in this process")
    assert run.model is not None
    parts = measure(run.model)
    return report_rows(args, run, ev, ceil, tps, lats,
                       part_rows(parts, tps[0].events_per_s, scorer_s.idle_scan_seconds))


def topic_names(s: Settings) -> list[str]:
    """Every topic a worker with settings ``s`` reads or writes (changelogs: Faust's own)."""
    return [*s.input_topics, s.topic_handoff, s.topic_changes, s.topic_alerts,
            s.topic_deadletter]


def _on_sigterm(_sig: int, _frame: Any) -> None:
    raise KeyboardInterrupt  # same clean-up as Ctrl-C


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _on_sigterm)
    run = Run(Path(tempfile.mkdtemp(prefix="leadscore-bench-")))
    ok = False
    try:
        rows = bench(args, run)
        print(render_table(rows), flush=True)
        ok = True
        return 0
    except (UsageError, localkafka.KafkaSetupError, KafkaUnavailable) as exc:
        print(f"python -m streams.bench: error: {exc}", file=sys.stderr)
        return 2
    except ValidationError as exc:
        print(f"python -m streams.bench: error: {describe_invalid(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("python -m streams.bench: interrupted", file=sys.stderr)
        return 130
    finally:
        if run.spec is None and run.prefix:  # somebody else's broker: leave it as it was
            say(f"deleted the {drop_created(run)} topics this run created on {run.bootstrap}")
        elif run.spec is not None:
            localkafka.stop(run.spec, grace=20)
            say("Kafka stopped (the bench started it)")
        if ok:
            shutil.rmtree(run.work, ignore_errors=True)
        else:
            say(f"kept {run.work} (worker logs) for a look")
