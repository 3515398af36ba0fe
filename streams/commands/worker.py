"""``leadscore worker``: one stream worker of the consumer group.

Faust and the model are imported here, inside the command, so ``leadscore --help`` stays
instant. Before Faust starts, the command checks what would otherwise fail later and less
clearly: the lookup API's exposure (``views.check_exposure``), that a broker answers with these
credentials (``kafkaconfig.wait_for_brokers``: one line within LEADSCORE_KAFKA_CONNECT_TIMEOUT
instead of a minute of silence and a traceback), and the model.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import sys

from streams.commands.args import port
from streams.kafkaconfig import (
    KafkaUnavailable,
    client_config,
    redact,
    redact_logs,
    wait_for_brokers,
)
from streams.settings import get_settings


def limit_malloc_arenas(arenas: int = 2) -> None:
    """glibc gives each thread that allocates its own heap arena (up to 8 per core): the
    worker's RocksDB, librdkafka and consumer threads each kept one, with memory the others
    could not reuse. Two arenas measured 18 MiB less at 100,000 leads for the same CPU.
    Best effort, Linux/glibc only; before any thread starts."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").mallopt(-8, arenas)  # M_ARENA_MAX


def lightgbm_without_sklearn() -> None:
    """Import LightGBM without its optional scikit-learn estimators. LightGBM imports
    scikit-learn (and most of SciPy) whenever it is installed - training needs it - and the
    worker never uses it: ~75 MiB of the worker's resident memory (`python -m streams.bench`'s
    peak RSS row). The worker's own modules import scikit-learn only inside the fitting
    functions. Before anything else imports LightGBM in this process; a no-op after."""
    if "lightgbm" in sys.modules or "sklearn" in sys.modules:
        return
    sys.modules["sklearn"] = None  # type: ignore[assignment]  # `import sklearn` fails
    try:
        import lightgbm  # noqa: F401
    finally:
        del sys.modules["sklearn"]


def cmd_worker(args: argparse.Namespace) -> int:
    limit_malloc_arenas()
    lightgbm_without_sklearn()
    if args.web_port is not None:
        os.environ["LEADSCORE_WEB_PORT"] = str(args.web_port)
    if args.log_level is not None:
        os.environ["LEADSCORE_LOG_LEVEL"] = args.log_level
    get_settings.cache_clear()
    s = get_settings()
    from streams.worker.views import check_exposure

    check_exposure(s)
    redact_logs(s)  # aiokafka's debug log would print a SASL PLAIN password
    wait_for_brokers(s)
    # Faust creates only the last level of its data directory.
    s.state_dir.mkdir(parents=True, exist_ok=True)
    from streams.worker.app import app, context
    from streams.worker.changelog import create_changelog_topics

    # Load the model now: a missing or incompatible artifact is a one-line error at start,
    # not an agent crash-looping inside a running worker.
    context.processor()
    # Before the consumer joins the group, so its first metadata has them
    # (streams/worker/changelog.py).
    try:
        create_changelog_topics(client_config(s), context.tables.changelog_topic_names(),
                                s.topic_partitions, app.conf.topic_replication_factor)
    except RuntimeError as exc:  # e.g. no Create permission, or a replication factor refused
        raise KafkaUnavailable(redact(str(exc), s) + " (LEADSCORE_TOPIC_REPLICATION_FACTOR; "
                               "README: Permissions)") from None
    sys.argv = ["leadscore", "worker", "-l", s.log_level,
                "--web-host", s.web_host, "--web-port", str(s.web_port)]
    app.main()  # runs until SIGTERM/SIGINT; Faust exits the process itself
    return 0


def add_arguments(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "worker",
        help="run a stream worker (joins the consumer group; start more to share partitions)",
        description="Run one Faust worker against $LEADSCORE_KAFKA_BOOTSTRAP. Workers with the "
        "same $LEADSCORE_APP_ID share the input partitions.",
    )
    p.add_argument("--web-port", type=port, default=None,
                   help="web server port (default: $LEADSCORE_WEB_PORT or 6066); each worker "
                   "on a host needs its own")
    p.add_argument("--log-level", choices=["debug", "info", "warn", "error"], default=None,
                   help="log level (default: $LEADSCORE_LOG_LEVEL or warn)")
    p.set_defaults(func=cmd_worker)
