"""The bench's figures: percentiles, formatting, and the report table."""

from __future__ import annotations

import argparse
import math
import os
import shlex
import sys
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

from streams.bench.latency import Latency
from streams.bench.prepare import Events, Run
from streams.bench.scorer import Throughput
from streams.core.latency import histogram_quantile, percentile


def fmt_rate(events_per_s: float) -> str:
    return "n/a" if math.isnan(events_per_s) else f"{events_per_s:,.0f} events/s"


def fmt_ms(seconds: float) -> str:
    return "n/a" if math.isnan(seconds) else f"{seconds * 1000:,.1f} ms"


def render_table(rows: Sequence[tuple[str, str]]) -> str:
    """Two aligned columns; a row with an empty label continues the previous one."""
    width = max((len(k) for k, _ in rows), default=0)
    return "\n".join(f"{k.ljust(width)}  {v}".rstrip() for k, v in rows)


def ratio_text(scorer: float, ceiling: float) -> str:
    if not (scorer > 0 and ceiling > 0):
        return "n/a"
    return (f"{100.0 * scorer / ceiling:.1f}% of the ceiling "
            f"(ceiling / scorer = {ceiling / scorer:.1f}x)")


def versions() -> str:
    def v(dist: str) -> str:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return "?"

    import confluent_kafka

    py = ".".join(map(str, sys.version_info[:3]))
    return (f"Python {py}, faust-streaming {v('faust-streaming')}, aiokafka {v('aiokafka')}, "
            f"confluent-kafka {v('confluent-kafka')} (librdkafka {confluent_kafka.libversion()[0]})"
            f", rocksdict {v('rocksdict')}, lightgbm {v('lightgbm')}")


def latency_rows(lat: Latency, seconds: float) -> list[tuple[str, str]]:
    q = {p: percentile(lat.latencies, p) for p in (50, 90, 99)}
    worst = max(lat.latencies, default=math.nan)
    w50, w99 = (histogram_quantile(lat.worker_buckets, x) for x in (0.5, 0.99))
    return [
        ("event-to-score latency", f"at {lat.rate:,.0f}/s: p50 {fmt_ms(q[50])}, p90 "
                                   f"{fmt_ms(q[90])}, p99 {fmt_ms(q[99])}, max {fmt_ms(worst)}"),
        ("", f"{lat.matched:,} of {lat.sent:,} pricing views matched (produce() -> score "
             f"change read), sent at {lat.send_rate:,.0f}/s for {seconds:g} s by a "
             f"producer with linger.ms {lat.linger_ms:g}"),
        ("", f"the worker's own histogram (what Grafana shows): p50 {fmt_ms(w50)}, p99 "
             f"{fmt_ms(w99)} (record timestamp -> change acknowledged; bucket-interpolated)"),
        ("", f"the worker used {lat.worker_cores:.2f} cores while they were sent "
             f"({lat.worker_cores / lat.send_rate * 1e6:,.0f} CPU-us per event)"),
    ] + ([("", f"the machine meanwhile: {lat.machine.text()}")] if lat.machine else [])


def throughput_rows(tp: Throughput, events: int, leads_held: int) -> list[tuple[str, str]]:
    name = f"scorer ({tp.workers} worker{'s' if tp.workers > 1 else ''})"
    rows = [
        (name, f"{fmt_rate(tp.events_per_s)}  ({events:,} events in {tp.seconds:.2f} s, "
               f"first output -> group lag 0{', aggregate' if tp.workers > 1 else ''})"),
        ("", f"to its last output/changelog write: {fmt_rate(tp.to_last_write)} "
             "(no commit wait)"),
    ]
    if tp.workers == 1:
        rows.append(("", f"worker start-up before its first output: {tp.startup:.1f} s "
                         "(not counted)"))
    else:
        rows.append(("", "workers started on empty topics and left to form their group "
                         "before the events were sent"))
    rows += [
        ("", f"worker peak resident memory (VmHWM): {tp.peak_rss_mb:,.0f} MiB"
             f"{' (largest worker)' if tp.workers > 1 else ''}, {leads_held:,} leads and "
             "visitors in the tables"),
        ("CPU per event" + ("" if tp.workers == 1 else f" ({tp.workers} workers)"),
         f"{tp.cpu_us_per_event:,.1f} CPU-us/event (worker utime+stime over the window / "
         f"events; {tp.cpu_share:.2f} cores busy)"),
    ]
    return rows


def report_rows(args: argparse.Namespace, run: Run, ev: Events, ceil: tuple[float, float],
                tps: Sequence[Throughput], lats: Sequence[Latency],
                parts: Sequence[tuple[str, str]] = ()) -> list[tuple[str, str]]:
    loads = ", ".join(f"{k} {a:.2f}/{b:.2f}/{c:.2f}" for k, (a, b, c) in run.load.items())
    rows = [
        ("ceiling (bare loop)", f"{fmt_rate(ceil[0])}  ({args.events:,} events in "
                                f"{ceil[1]:.2f} s)"),
        ("", "per event: orjson parse, rocksdict get+put of a small value, one produce"),
    ]
    for tp in tps:
        rows += throughput_rows(tp, args.events, ev.keys)
    rows.append(("scorer / ceiling", ratio_text(tps[0].events_per_s, ceil[0])))
    rows += parts
    for lat in lats:
        rows += latency_rows(lat, args.seconds)
    rows += [
        ("", "LEADSCORE_MIN_SCORE_CHANGE=0 in this phase, so every scored event yields a change"),
        ("events", f"{args.events:,} simulated ({ev.leads_simulated:,} leads simulated, last 2 "
                   f"days), {args.partitions} partitions per topic"),
        ("model", run.model_note),
        ("kafka", f"{run.kafka} at {run.bootstrap}"),
        ("load average 1/5/15 min", loads),
        ("cpus", str(os.cpu_count())),
        ("versions", versions()),
        ("command", shlex.join([Path(sys.executable).name, "-m", "streams.bench", *sys.argv[1:]])),
    ]
    return rows
