"""Small helpers for broker tests: topic creation, bounded consumption, a worker subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from confluent_kafka import Consumer, Message
from confluent_kafka.admin import AdminClient, NewTopic

from streams.localkafka import free_port


def create_topics(bootstrap: str, names: list[str], partitions: int = 4) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
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
def worker_process(env_overrides: dict[str, str], state_dir: Path) -> Iterator[subprocess.Popen]:
    """Run ``leadscore worker`` as a real process with its own web port and state dir."""
    env = dict(os.environ)
    env.update({
        "LEADSCORE_STATE_DIR": str(state_dir),
        "LEADSCORE_WEB_PORT": str(free_port()),
        "LEADSCORE_LOG_LEVEL": "warn",
    })
    env.update(env_overrides)
    log = open(state_dir / "worker.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, "-m", "streams.cli", "worker"],
        env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
    )
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
