"""``leadscore pager``: deliver alerts to the reps' webhooks, routed by a TOML file (see
README, "Paging reps")."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from models.errors import UsageError
from streams.kafkaconfig import client_config, wait_for_brokers
from streams.settings import Settings, get_settings


def store_path(s: Settings) -> Path:
    return (s.pager_store or s.state_dir / "pager.sqlite3").resolve()


def describe(config: object) -> list[str]:
    """One line per route, as --check prints them."""
    from streams.integrations.pager.config import MATCH_KEYS, PagerConfig

    assert isinstance(config, PagerConfig)
    lines = []
    for r in config.routes:
        match = ", ".join(f"{k} in {getattr(r.match, k)}" for k in MATCH_KEYS
                          if getattr(r.match, k) is not None) or "everything"
        hook = config.webhooks[r.webhook]
        extra = []
        if r.quiet_hours:
            q = r.quiet_hours
            extra.append(f"quiet {q.start:%H:%M}-{q.end:%H:%M} {q.timezone}")
        if r.hourly_cap:
            extra.append(f"at most {r.hourly_cap} pages per rep per hour")
        lines.append(f"  {r.name}: {match} -> {r.webhook} ({hook.format})"
                     + (f"; {'; '.join(extra)}" if extra else ""))
    return lines


def run_from_args(args: argparse.Namespace) -> int:
    from streams.integrations import kafkaio
    from streams.integrations.pager.config import ConfigError, load

    s = get_settings()
    path = args.config or s.pager_config
    if path is None:
        raise UsageError("no routing file: pass --config FILE or set LEADSCORE_PAGER_CONFIG "
                         "(README, 'Paging reps', has an example)")
    try:
        config = load(Path(path))
    except ConfigError as exc:
        raise UsageError(f"config {exc}") from None
    if args.check:
        print(f"{path}: valid; {len(config.webhooks)} webhooks, {len(config.routes)} routes "
              "(first match wins):")
        print("\n".join(describe(config)))
        return 0

    from streams.integrations.pager.metrics import Metrics
    from streams.integrations.pager.service import Pager, run
    from streams.integrations.pager.store import Store

    log = kafkaio.setup_logging("pager", "info")
    wait_for_brokers(s)  # one line, not librdkafka's retries, when no broker answers
    kafka = client_config(s)
    try:
        kafkaio.ensure_topic(kafka, s.topic_pager_deadletter, s.topic_partitions)
    except Exception as exc:  # noqa: BLE001 - one line, whatever librdkafka raised
        raise UsageError(f"Kafka at {s.kafka_bootstrap}: {exc}") from None
    store = Store(store_path(s))
    metrics = Metrics()
    kafkaio.serve_metrics(metrics.registry, s.web_host, s.pager_metrics_port)
    stop = kafkaio.stop_on_signals()
    pager = Pager(config, store, deadletters=kafkaio.DeadLetters(kafka,
                                                                 s.topic_pager_deadletter),
                  metrics=metrics)
    log.info("%s -> %d routes from %s; store %s; dead letters to %s; metrics %s",
             s.topic_alerts, len(config.routes), path, store.path, s.topic_pager_deadletter,
             f"http://{s.web_host}:{s.pager_metrics_port}/metrics" if s.pager_metrics_port
             else "off")
    try:
        run(pager, kafka=kafka, group=s.pager_group,
            alerts_topic=s.topic_alerts, profile_topic=s.topic_profile,
            changes_topic=s.topic_changes, stop=stop)
    except RuntimeError as exc:
        print(f"leadscore pager: {exc}", file=sys.stderr)
        return 1
    finally:
        store.close()
    log.info("stopped")
    return 0


def add_arguments(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "pager",
        help="deliver alerts to the reps' webhooks (Slack-compatible or JSON)",
        description="Read the alerts topic and deliver each alert as a readable page to a "
        "webhook chosen by the routing file (first matching route on the lead's owner, "
        "territory, country, the alert's tier and kind), with quiet hours, a per-rep hourly "
        "cap (the rest as one digest), retries with backoff, a dead-letter topic, and no page "
        "twice for one idempotency key. Offsets are committed only after delivery.",
    )
    p.add_argument("--config", type=Path, default=None, metavar="FILE",
                   help="routing file, TOML (default: $LEADSCORE_PAGER_CONFIG)")
    p.add_argument("--check", action="store_true",
                   help="only validate the routing file and print its routes")
    p.set_defaults(func=run_from_args)
