"""The tables' changelog topics, created before the worker joins the group.

Why: Faust declares them when its table service starts, which is after the consumer has
subscribed. On a first start the group's metadata snapshot can then miss a changelog topic
that was just created ("Ignoring missing topic"), and every write to that table fails its
partition check (``PartitionsMismatch``) until the consumer's next metadata refresh, five
minutes later by default (robinhood/faust #499 fixed this for the producer's metadata only).
Seen in 1 kill -9 test run of 11: the first worker's agent crashed on every batch with an
identify, and Faust acknowledged those batches. (The scorer agent writes its changelog
records itself now, streams/worker/state.py; Faust still reads them for recovery and
standbys, and needs the topics in its metadata for that.)
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any


def create_changelog_topics(client: Mapping[str, Any], names: list[str], partitions: int,
                            replication: int = 1, timeout: float = 60.0) -> None:
    """Create the compacted changelog topics Faust would create (an existing one is left as it
    is), and wait until the broker's metadata lists their partitions. ``client`` is the
    confluent-kafka configuration (:func:`streams.kafkaconfig.client_config`)."""
    from confluent_kafka import KafkaError, KafkaException
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({**client, "log_level": 2})
    new = [NewTopic(n, partitions, replication, config={"cleanup.policy": "compact"})
           for n in names]
    for name, fut in admin.create_topics(new, request_timeout=timeout).items():
        try:
            fut.result(timeout=timeout)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise RuntimeError(f"cannot create changelog topic {name}: {exc}") from exc
    deadline = time.monotonic() + timeout
    while True:
        topics = admin.list_topics(timeout=timeout).topics
        if all(n in topics and topics[n].error is None and topics[n].partitions
               for n in names):
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"changelog topics {names} not visible after {timeout} s")
        time.sleep(0.2)
