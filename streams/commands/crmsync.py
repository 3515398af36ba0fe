"""``leadscore crm-sync``: keep a database table of every lead's current score, tier, reasons
and model version, from the score changes topic (see README, "The CRM table")."""

from __future__ import annotations

import argparse
import re

from models.errors import UsageError
from streams.kafkaconfig import client_config, wait_for_brokers
from streams.settings import Settings, get_settings


def database_url(s: Settings, given: str | None = None) -> str:
    if given:
        return given
    if s.crm_database_url is not None:
        return s.crm_database_url.get_secret_value()
    return f"sqlite:///{(s.state_dir / 'crm.sqlite3').resolve()}"


def table_name(text: str) -> str:
    """argparse type: a plain SQL identifier (it is written into the statements)."""
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", text):
        raise argparse.ArgumentTypeError(
            f"not a table name: {text!r} (lower-case letters, digits, _; at most 63)")
    return text


def run_from_args(args: argparse.Namespace) -> int:
    from streams.integrations import kafkaio
    from streams.integrations.crmsync.database import DatabaseError, connect
    from streams.integrations.crmsync.metrics import Metrics
    from streams.integrations.crmsync.service import CrmSync

    s = get_settings()
    log = kafkaio.setup_logging("crm-sync", "info")
    table = args.table or s.crm_table
    try:
        db = connect(database_url(s, args.database_url), table)
    except DatabaseError as exc:
        raise UsageError(str(exc)) from None
    wait_for_brokers(s)  # one line, not librdkafka's retries, when no broker answers
    kafka = client_config(s)
    try:
        kafkaio.ensure_topic(kafka, s.topic_crm_deadletter, s.topic_partitions)
    except Exception as exc:  # noqa: BLE001 - one line, whatever librdkafka raised
        raise UsageError(f"Kafka at {s.kafka_bootstrap}: {exc}") from None
    metrics = Metrics()
    kafkaio.serve_metrics(metrics.registry, s.web_host, s.crm_metrics_port)
    stop = kafkaio.stop_on_signals()
    log.info("%s -> %s table %s (group %s); dead letters to %s; metrics %s", s.topic_changes,
             db.name, table, s.crm_group, s.topic_crm_deadletter,
             f"http://{s.web_host}:{s.crm_metrics_port}/metrics" if s.crm_metrics_port
             else "off")
    sync = CrmSync(kafka=kafka, topic=s.topic_changes, group=s.crm_group, db=db,
                   deadletter_topic=s.topic_crm_deadletter, metrics=metrics,
                   batch_max=s.crm_batch_max, batch_seconds=s.crm_batch_seconds)
    try:
        sync.run(stop)
    finally:
        db.close()
    log.info("stopped after %d batches", sync.batches)
    return 0


def add_arguments(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "crm-sync",
        help="keep a database table of every lead's current score and reasons",
        description="Read the score changes topic and upsert, per lead, the score, tier, top "
        "factors (as JSON and as readable lines), recommended action and model version into a "
        "table: SQLite by default (STATE_DIR/crm.sqlite3), PostgreSQL with "
        "--database-url postgresql://USER:PASS@HOST:PORT/DB. Newest by event time wins; "
        "offsets are committed after each transaction. Stops cleanly on Ctrl-C or SIGTERM.",
    )
    p.add_argument("--database-url", default=None, metavar="URL",
                   help="sqlite:///PATH or postgresql://... (default: "
                   "$LEADSCORE_CRM_DATABASE_URL, else sqlite:///STATE_DIR/crm.sqlite3)")
    p.add_argument("--table", type=table_name, default=None, metavar="NAME",
                   help="table name (default: $LEADSCORE_CRM_TABLE or lead_scores)")
    p.set_defaults(func=run_from_args)
