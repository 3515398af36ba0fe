"""``python -m streams.bench.routes``: the measurement behind the hot path's design.

Two ways to make a Faust agent's unit of work a fetched Kafka batch, each with an EMPTY agent
(it only commits what it receives), so what is measured is the cost of getting batches to an
agent of the app and committing them:

- ``a``: Faust's own consumer hands the batches aiokafka fetched to the agent
  (:class:`streams.worker.fetch.BatchConsumer`, what the worker uses);
- ``b``: a confluent-kafka consumer, assigned the input partitions Faust's group gave the
  worker, fetches them in a thread and feeds the agent; Faust's consumer keeps the group and
  the changelogs, and the commits go through it (a commit from a consumer outside the
  group's generation is refused while the group is active).

Each runs as its own process (a Faust app with one table, so the assignor, recovery and the
changelog consumer are in play) on the same N pre-loaded events, twice, alternating; printed:
events/s and CPU-us/event (the process's utime+stime over the run / events).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from streams.bench.prepare import (
    REPO_ROOT,
    Run,
    create_topics,
    drop_created,
    ensure_broker,
    generate_events,
    preload,
    say,
    topic_settings,
)
from streams.commands.args import Parser, positive_int
from streams.local import kafka as localkafka

RESULT = re.compile(r"ROUTE (\w): ([\d.]+) events/s, ([\d.]+) CPU-us/event")


def child(route: str, prefix: str, n: int, bootstrap: str, port: int, datadir: str) -> None:
    """One empty batch agent (route a or b) until it has committed ``n`` events."""
    import faust
    from faust.transport.drivers import aiokafka as faust_aiokafka
    from faust.types import TP

    from streams.worker.batches import BatchSink, Fetched
    from streams.worker.fetch import BatchTransport

    s = topic_settings(prefix, bootstrap, 4)
    inputs = frozenset([*s.input_topics, s.topic_handoff])

    class NoInputsConsumer(faust_aiokafka.Consumer):
        """Route b: Faust's consumer fetches what is not an input (the changelog)."""

        def _get_active_partitions(self) -> Any:
            return {tp for tp in super()._get_active_partitions() if tp.topic not in inputs}

    class NoInputsTransport(faust_aiokafka.Transport):
        Consumer = NoInputsConsumer

    class App(faust.App):
        batch_sink: BatchSink | None = None

        def _new_transport(self) -> Any:
            cls = BatchTransport if route == "a" else NoInputsTransport
            return cls(self.conf.broker_consumer, self)

    app = App(f"{prefix}-{route}", broker=f"kafka://{bootstrap}", store="rocksdb://",
              datadir=datadir, topic_partitions=4, broker_session_timeout=10.0,
              broker_heartbeat_interval=3.0, consumer_auto_offset_reset="earliest",
              broker_max_poll_records=1000, autodiscover=False)
    app.Table("leads", key_type=str, value_type=bytes, partitions=4)
    app.topics.add(app.topic(*inputs, key_serializer="raw", value_serializer="raw"))
    channel = app.channel(maxsize=2)
    done = {"n": 0, "t0": 0.0, "cpu0": 0.0}

    def cpu() -> float:
        t = os.times()
        return t.user + t.system

    async def finish(count: int) -> None:
        if not done["t0"]:
            done["t0"], done["cpu0"] = time.monotonic(), cpu()
        done["n"] += count
        if done["n"] >= n:
            secs, used = time.monotonic() - done["t0"], cpu() - done["cpu0"]
            print(f"ROUTE {route}: {n / secs:.0f} events/s, {used / n * 1e6:.2f} CPU-us/event",
                  flush=True)
            os._exit(0)

    @app.agent(channel, concurrency=1)
    async def empty(stream: Any) -> None:
        consumer: Any = app.consumer
        async for batch in stream:
            if route == "a":
                await consumer.commit_batch(batch.next_offsets())
                await finish(batch.count)
            else:
                await consumer._thread.commit(
                    {tp: msgs[-1].offset() + 1 for tp, msgs in batch.items()})
                await finish(sum(len(m) for m in batch.values()))

    async def drain() -> None:
        return None

    async def deliver(fetched: Fetched) -> None:
        await channel.send(value=fetched)

    app.batch_sink = BatchSink(inputs, deliver, drain)

    def fetch_b(loop: asyncio.AbstractEventLoop, tps: list[Any]) -> None:
        from confluent_kafka import Consumer, TopicPartition

        c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"{prefix}-b-reader",
                      "enable.auto.commit": False, "log_level": 3, "fetch.wait.max.ms": 10})
        c.assign([TopicPartition(tp.topic, tp.partition, 0) for tp in tps])
        while True:
            by: dict[Any, list[Any]] = {}
            for m in c.consume(num_messages=1000, timeout=0.5):
                if m.error() is None:
                    by.setdefault(TP(str(m.topic()), int(m.partition() or 0)), []).append(m)
            if by:
                asyncio.run_coroutine_threadsafe(channel.send(value=by), loop).result()

    @app.task
    async def start_b() -> None:
        if route != "b":
            return
        while app.in_recovery or not [tp for tp in app.consumer.assignment()
                                      if tp.topic in inputs]:
            await asyncio.sleep(0.2)
        tps = [tp for tp in app.consumer.assignment() if tp.topic in inputs]
        threading.Thread(target=fetch_b, args=(asyncio.get_running_loop(), tps),
                         daemon=True).start()

    sys.argv = ["routes", "worker", "-l", "warn", "--web-port", str(port)]
    app.main()


def main(argv: list[str] | None = None) -> int:
    p = Parser(prog="python -m streams.bench.routes",
               description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--events", type=positive_int, default=200_000, metavar="N")
    p.add_argument("--bootstrap", default=os.environ.get("LEADSCORE_KAFKA_BOOTSTRAP"),
                   metavar="HOST:PORT")
    p.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        route, prefix, n, bootstrap, port = args.child
        child(route, prefix, int(n), bootstrap, int(port), tempfile.mkdtemp())
        return 0
    run = Run(Path(tempfile.mkdtemp(prefix="leadscore-routes-")))
    try:
        ensure_broker(run, args.bootstrap, 4)
        say(f"simulating {args.events:,} events")
        lines = generate_events(args.events, max(1000, args.events // 4), run.work).lines
        for route in ("a", "b", "a", "b"):
            prefix = f"routes-{uuid.uuid4().hex[:8]}"
            s = topic_settings(prefix, run.bootstrap, 4)
            create_topics(run, [*s.input_topics, s.topic_handoff], [], 4)
            preload(run.client, lines, [s])
            out = subprocess.run(
                [sys.executable, "-m", "streams.bench.routes", "--child", route, prefix,
                 str(len(lines)), run.bootstrap, str(localkafka.free_port())],
                cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
            found = RESULT.search(out.stdout + out.stderr)
            print(found.group(0) if found else f"ROUTE {route}: no result "
                  f"(status {out.returncode})", flush=True)
            if run.spec is None:  # somebody else's broker: leave it as it was
                run.prefix = prefix
                drop_created(run)
    finally:
        if run.spec is not None:
            localkafka.stop(run.spec, grace=20)
    return 0


if __name__ == "__main__":
    sys.exit(main())
