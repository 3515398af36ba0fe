"""``leadscore kafka start|stop|status|fetch``: the local single-node Kafka (KRaft) broker."""

from __future__ import annotations

import argparse

from models.progress import Progress
from streams.commands.args import port
from streams.local import kafka as localkafka
from streams.settings import get_settings


def broker_spec(port: int | None = None, controller_port: int | None = None
                ) -> localkafka.BrokerSpec:
    """The local broker as the settings describe it (a port given here wins)."""
    s = get_settings()
    port = port if port is not None else s.kafka_port
    return localkafka.BrokerSpec(
        port=port,
        controller_port=controller_port or port + 1,
        state_dir=(s.state_dir / f"kafka-{port}").resolve(),
        cache_dir=s.cache_dir,
        version=s.kafka_version,
        partitions=s.topic_partitions,
    )


def cmd_kafka(args: argparse.Namespace) -> int:
    spec = broker_spec(args.port, args.controller_port)
    if args.action == "fetch":
        progress = Progress()
        libs = localkafka.fetch(spec, progress=progress)
        progress.done()
        print(f"Kafka {spec.version} jars in {libs}")
        return 0
    if args.action == "start":
        progress = Progress()
        st, started, secs = localkafka.start(spec, progress=progress)
        progress.done()
        if started:
            print(f"Kafka {st.version or spec.version} ready on {st.bootstrap} in {secs:.1f} s "
                  f"(pid {st.pid}, log {st.log_file})")
        else:
            print(f"Kafka already running on {st.bootstrap} (pid {st.pid})")
        return 0
    if args.action == "stop":
        if localkafka.stop(spec):
            print(f"Kafka on {spec.bootstrap} stopped")
        else:
            print(f"no local Kafka running on {spec.bootstrap}")
        return 0
    st = localkafka.status(spec)
    if st.running:
        print(f"running: Kafka {st.version or '?'} on {st.bootstrap} (pid {st.pid}, "
              f"log {st.log_file})")
        return 0
    print(f"stopped: no local Kafka on {st.bootstrap}")
    return 3


def add_arguments(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "kafka",
        help="start, stop or inspect the local Apache Kafka (KRaft) broker",
        description="Manage a single-node Apache Kafka broker on 127.0.0.1, fetched from "
        "Maven Central on first use (needs Java 17+ and Maven). Its data and log live "
        "under $LEADSCORE_STATE_DIR (default .leadscore/).",
    )
    p.add_argument("action", choices=["start", "stop", "status", "fetch"],
                   help="start: run in the background and wait until ready (a second start "
                   "finds the running one); stop: shut down cleanly; status: exit 0 if running, "
                   "3 if not; fetch: only download the jars")
    p.add_argument("--port", type=port, default=None,
                   help="client port on 127.0.0.1 (default: $LEADSCORE_KAFKA_PORT or 9092)")
    p.add_argument("--controller-port", type=port, default=None,
                   help="KRaft controller port (default: client port + 1)")
    p.set_defaults(func=cmd_kafka)
