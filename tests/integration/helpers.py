"""Small helpers for broker tests: topic creation, bounded consumption, a worker subprocess."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

from confluent_kafka import Consumer, KafkaException, Message, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from streams.local.kafka import die_with_parent, free_port
from streams.local.lag import LagProbe
from streams.local.procs import run_worker


@cache
def admin_client(bootstrap: str) -> AdminClient:
    """One AdminClient per broker for the whole session: librdkafka has crashed the test
    process (SIGSEGV) while destroying short-lived admin clients with events still queued."""
    # It outlives the session broker; its reconnect errors after teardown are noise.
    return AdminClient({"bootstrap.servers": bootstrap, "log_level": 2})


def create_topics(bootstrap: str, names: list[str], partitions: int = 4) -> None:
    admin = admin_client(bootstrap)
    futures = admin.create_topics([NewTopic(n, partitions, 1) for n in names])
    for fut in futures.values():
        fut.result(timeout=30)


def consume(
    bootstrap: str,
    topic: str,
    *,
    until: Callable[[list[Message]], bool],
    timeout: float = 90.0,
    group: str | None = None,
) -> list[Message]:
    """Read ``topic`` from the beginning until ``until(messages)`` holds or time runs out."""
    consumer = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": group or f"reader-{topic}-{time.monotonic_ns()}",
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
    })
    consumer.subscribe([topic])
    got: list[Message] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and not until(got):
            msg = consumer.poll(0.5)
            if msg is None or msg.error():
                continue
            got.append(msg)
    finally:
        consumer.close()
    return got


@contextmanager
def worker_process(env_overrides: dict[str, str], state_dir: Path,
                   name: str = "worker") -> Iterator[subprocess.Popen]:
    """Run ``leadscore worker`` as a real process with its own web port; log in state_dir."""
    env = dict(os.environ)
    env.update({
        "LEADSCORE_STATE_DIR": str(state_dir),
        "LEADSCORE_WEB_PORT": str(free_port()),
        "LEADSCORE_LOG_LEVEL": "warn",
    })
    env.update(env_overrides)
    # die_with_parent: a killed test session leaves no worker behind.
    with run_worker(env, state_dir / f"{name}.log", preexec=die_with_parent) as proc:
        yield proc


def group_lag(bootstrap: str, group: str, topics: list[str]) -> int | None:
    """Total lag of ``group`` on ``topics`` (None while the group has committed nothing)."""
    probe = LagProbe({"bootstrap.servers": bootstrap}, group, topics)
    try:
        return probe.lag()
    finally:
        probe.close()


def wait_caught_up(bootstrap: str, group: str, topics: list[str], timeout: float = 180.0,
                   settle: float = 6.0) -> None:
    """Wait until the group's lag is 0 and stays 0 for ``settle`` seconds (handoffs included)."""
    deadline = time.monotonic() + timeout
    zero_since: float | None = None
    while time.monotonic() < deadline:
        try:
            lag = group_lag(bootstrap, group, topics)
        except KafkaException:  # e.g. NOT_COORDINATOR while the group is being set up
            lag = None
        if lag == 0:
            zero_since = zero_since or time.monotonic()
            if time.monotonic() - zero_since >= settle:
                return
        else:
            zero_since = None
        time.sleep(1.0)
    raise AssertionError(f"group {group} did not catch up on {topics} within {timeout} s")


def topic_size(bootstrap: str, topic: str) -> int:
    """Messages in a topic now: the sum of its partitions' high watermarks."""
    parts = admin_client(bootstrap).list_topics(timeout=10).topics[topic].partitions
    probe = Consumer({"bootstrap.servers": bootstrap, "group.id": f"{topic}-size"})
    try:
        return sum(probe.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
                   for p in parts)
    finally:
        probe.close()


def read_table(bootstrap: str, changelog: str) -> dict[str, bytes]:
    """A Faust table's final content, from its changelog topic (last value per key wins)."""
    import orjson

    latest: dict[str, bytes | None] = {}
    high_total = 0
    admin = admin_client(bootstrap)
    parts = admin.list_topics(timeout=10).topics[changelog].partitions
    probe = Consumer({"bootstrap.servers": bootstrap, "group.id": f"{changelog}-probe"})
    for p in parts:
        high_total += probe.get_watermark_offsets(TopicPartition(changelog, p), timeout=10)[1]
    probe.close()
    msgs = consume(bootstrap, changelog, until=lambda m: len(m) >= high_total, timeout=60)
    for m in msgs:
        latest[orjson.loads(m.key())] = m.value()
    return {k: v for k, v in latest.items() if v is not None}


SCORER_TOPICS = ("website", "email", "product", "profile", "outcomes", "feedback", "handoff",
                 "changes", "alerts", "deadletter", "shadow")


def scorer_setup(bootstrap: str, prefix: str, model: Path,
                 **settings: str) -> tuple[dict[str, str], dict[str, str]]:
    """Create a test's own scorer topics; return (topic names, worker environment).

    ``settings`` are extra LEADSCORE_* variables, by setting name (tier_hot="70")."""
    names = {k: f"{prefix}.{k}" for k in SCORER_TOPICS}
    create_topics(bootstrap, list(names.values()), partitions=4)
    env = {
        "LEADSCORE_KAFKA_BOOTSTRAP": bootstrap,
        "LEADSCORE_APP_ID": f"{prefix}-app",
        "LEADSCORE_MODEL_DIR": str(model),
        **{f"LEADSCORE_TOPIC_{k.upper()}": v for k, v in names.items()},
        # the test's own model topic (one partition: the worker or promote creates it)
        "LEADSCORE_TOPIC_MODELS": f"{prefix}.models",
        **{f"LEADSCORE_{k.upper()}": v for k, v in settings.items()},
    }
    return names, env
