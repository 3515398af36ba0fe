"""``leadscore topics create``: the topics the workers read and write, created as the
contracts say (inputs, handoff and outputs with LEADSCORE_TOPIC_PARTITIONS partitions; score
changes compacted; the model topic compacted, one partition). Existing topics are kept as
they are.

The partition count is the most workers that can share the load, and a lead's partition is
the murmur2 hash of its id modulo that count: adding partitions later moves leads away from
their state, so choose it for the largest deployment you expect.
"""

from __future__ import annotations

import argparse

from models.errors import UsageError
from streams.kafkaconfig import client_config, redact, wait_for_brokers
from streams.settings import Settings, get_settings


def create_topics(bootstrap: str, s: Settings, replication: int = 1) -> list[str]:
    """Create the missing topics on the brokers at ``bootstrap`` (reached with ``s``'s security
    settings); return the names created. No broker answering within
    LEADSCORE_KAFKA_CONNECT_TIMEOUT is one line (:class:`KafkaUnavailable`), not librdkafka's
    retries printed until a timeout."""
    from confluent_kafka import KafkaError, KafkaException
    from confluent_kafka.admin import AdminClient, NewTopic

    wait_for_brokers(s, bootstrap)
    admin = AdminClient({**client_config(s, bootstrap), "log_level": 3})
    n = s.topic_partitions
    plain = [*s.input_topics, s.topic_handoff, s.topic_alerts, s.topic_deadletter,
             s.topic_shadow]
    topics = [NewTopic(t, n, replication) for t in plain]
    topics.append(NewTopic(s.topic_changes, n, replication,
                           config={"cleanup.policy": "compact"}))
    # The model registry on Kafka: one partition (its records are read in order), compacted
    # (the newest pointer and every artifact stay); models/publish.py.
    topics.append(NewTopic(s.topic_models, 1, replication, config={"cleanup.policy": "compact"}))
    created = []
    for name, fut in admin.create_topics(topics, request_timeout=30).items():
        try:
            fut.result(timeout=30)
            created.append(name)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise UsageError(redact(f"cannot create topic {name}: {exc.args[0].str()}",
                                        s)) from None
    return sorted(created)


def run_from_args(args: argparse.Namespace) -> int:
    s = get_settings()
    created = create_topics(s.kafka_bootstrap, s,
                            args.replication_factor or s.topic_replication_factor)
    kept = len(s.input_topics) + 6 - len(created)
    print(f"topics on {s.kafka_bootstrap}: created {len(created)}"
          + (f" ({', '.join(created)})" if created else "") + f", {kept} already there")
    return 0


def add_arguments(sub: argparse._SubParsersAction) -> None:
    from streams.commands.args import positive_int

    p = sub.add_parser("topics", help="create the input, internal and output topics",
                       description=(__doc__ or "").strip())
    p.add_argument("action", choices=["create"], help="create the missing topics")
    p.add_argument("--replication-factor", type=positive_int, default=None, metavar="N",
                   help="replicas per partition (default: $LEADSCORE_TOPIC_REPLICATION_FACTOR "
                   "or 1, for one broker; 3 in production)")
    p.set_defaults(func=run_from_args)
