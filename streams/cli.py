"""``leadscore``: the one console script. Subcommands are registered from the modules that
own them; heavy imports (Faust, LightGBM) happen inside the command that needs them so
``leadscore --help`` and ``leadscore kafka status`` stay instant.

User mistakes (a wrong argument, no Java, a port in use) end with one line on stderr and
exit status 2; nothing the user can fix prints a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

from models.errors import UsageError
from streams import localkafka
from streams.settings import get_settings


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad argument is one line (with a pointer to --help), not a usage dump."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


# --------------------------------------------------------------------------- kafka


def _broker_spec(args: argparse.Namespace) -> localkafka.BrokerSpec:
    s = get_settings()
    port = args.port if args.port is not None else s.kafka_port
    return localkafka.BrokerSpec(
        port=port,
        controller_port=args.controller_port or port + 1,
        state_dir=(s.state_dir / f"kafka-{port}").resolve(),
        cache_dir=s.cache_dir,
        version=s.kafka_version,
        partitions=s.topic_partitions,
    )


def cmd_kafka(args: argparse.Namespace) -> int:
    spec = _broker_spec(args)
    if args.action == "fetch":
        libs = localkafka.fetch(spec)
        print(f"Kafka {spec.version} jars in {libs}")
        return 0
    if args.action == "start":
        st, started, secs = localkafka.start(spec)
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


def _add_kafka(sub: argparse._SubParsersAction) -> None:
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
    p.add_argument("--port", type=_port, default=None,
                   help="client port on 127.0.0.1 (default: $LEADSCORE_KAFKA_PORT or 9092)")
    p.add_argument("--controller-port", type=_port, default=None,
                   help="KRaft controller port (default: client port + 1)")
    p.set_defaults(func=cmd_kafka)


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port out of range 1-65535: {value}")
    return value


# --------------------------------------------------------------------------- worker


def cmd_worker(args: argparse.Namespace) -> int:
    if args.web_port is not None:
        os.environ["LEADSCORE_WEB_PORT"] = str(args.web_port)
    if args.log_level is not None:
        os.environ["LEADSCORE_LOG_LEVEL"] = args.log_level
    get_settings.cache_clear()
    s = get_settings()
    from streams.app import app, load_agents

    load_agents()
    from streams.agents import lead_events

    # Load the model now: a missing or incompatible artifact is a one-line error at start,
    # not an agent crash-looping inside a running worker.
    lead_events.processor()
    from streams import tables
    from streams.changelog import create_changelog_topics

    # Before the consumer joins the group, so its first metadata has them (streams/changelog.py).
    create_changelog_topics(s.kafka_bootstrap, tables.changelog_topic_names(),
                            s.topic_partitions, app.conf.topic_replication_factor)
    sys.argv = ["leadscore", "worker", "-l", s.log_level,
                "--web-host", s.web_host, "--web-port", str(s.web_port)]
    app.main()  # runs until SIGTERM/SIGINT; Faust exits the process itself
    return 0


def _add_worker(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "worker",
        help="run a stream worker (joins the consumer group; start more to share partitions)",
        description="Run one Faust worker against $LEADSCORE_KAFKA_BOOTSTRAP. Workers with the "
        "same $LEADSCORE_APP_ID share the input partitions.",
    )
    p.add_argument("--web-port", type=_port, default=None,
                   help="web server port (default: $LEADSCORE_WEB_PORT or 6066); each worker "
                   "on a host needs its own")
    p.add_argument("--log-level", choices=["debug", "info", "warn", "error"], default=None,
                   help="log level (default: $LEADSCORE_LOG_LEVEL or warn)")
    p.set_defaults(func=cmd_worker)


# --------------------------------------------------------------------------- entry point

Registrar = Callable[[argparse._SubParsersAction], None]


def _model_command(name: str, module: str, help_: str) -> Registrar:
    """Register a models/ command: the module owns its arguments and its run."""

    def register(sub: argparse._SubParsersAction) -> None:
        import importlib

        mod = importlib.import_module(module)
        p = sub.add_parser(name, help=help_, description=(mod.__doc__ or help_).strip())
        mod.add_arguments(p)
        p.set_defaults(func=mod.run_from_args)

    return register


def _registrars() -> list[Registrar]:
    """Subcommands, in --help order. Modules that own a command provide add_arguments()."""
    from streams import admin, demo, produce, replay

    return [
        demo.add_arguments,
        _model_command("evaluate", "models.evaluate",
                       "metrics and an HTML report for a model on an event file"),
        _add_kafka,
        produce.add_arguments,
        replay.add_arguments,
        _model_command("simulate", "models.simulate",
                       "write realistic synthetic event history (JSON lines)"),
        admin.add_arguments,
        _model_command("train", "models.train",
                       "train, calibrate and save a model artifact from an event file"),
        _add_worker,
    ]


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="leadscore",
        description="Real-time lead scoring on Kafka: calibrated probabilities, reasons in "
        "points, alerts when a lead heats up.",
        epilog="Settings come from LEADSCORE_* environment variables (see README).",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for register in _registrars():
        register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (UsageError, localkafka.KafkaSetupError) as exc:
        print(f"leadscore {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def existing_file(text: str) -> Path:
    """argparse type: a file that exists."""
    path = Path(text)
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"no such file: {text}")
    return path


def positive_float(text: str) -> float:
    """argparse type: a number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0: {text}")
    return value


def positive_int(text: str) -> int:
    """argparse type: a whole number > 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0: {text}")
    return value


if __name__ == "__main__":
    raise SystemExit(main())
