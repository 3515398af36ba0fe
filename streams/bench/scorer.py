"""One real ``leadscore worker`` on the pre-loaded events: its throughput and memory."""

from __future__ import annotations

import contextlib
import math
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from models.errors import UsageError
from streams.bench.prepare import REPO_ROOT, TOPIC_ENV, Run, say
from streams.local.lag import LagProbe
from streams.local.procs import run_worker
from streams.settings import Settings


def worker_env(run: Run, s: Settings, web_port: int, min_change: int | None) -> dict[str, str]:
    """As tests/integration/helpers.worker_process, plus the bench's topics, app id, model."""
    env = {k: v for k, v in os.environ.items() if k != "LEADSCORE_MIN_SCORE_CHANGE"}
    env.update({
        "LEADSCORE_KAFKA_BOOTSTRAP": run.bootstrap, "LEADSCORE_APP_ID": s.app_id,
        "LEADSCORE_TOPIC_PARTITIONS": str(s.topic_partitions),
        "LEADSCORE_STATE_DIR": str(run.work / "worker"), "LEADSCORE_WEB_PORT": str(web_port),
        "LEADSCORE_LOG_LEVEL": "warn", "LEADSCORE_MODEL_DIR": str(run.model),
    })
    for k, suffix in TOPIC_ENV.items():
        env[f"LEADSCORE_TOPIC_{suffix}"] = getattr(s, f"topic_{k}")
    if min_change is not None:
        env["LEADSCORE_MIN_SCORE_CHANGE"] = str(min_change)
    return env


@contextlib.contextmanager
def worker(run: Run, env: dict[str, str], name: str) -> Iterator[subprocess.Popen[bytes]]:
    """One ``leadscore worker`` process; always stopped (SIGTERM, then SIGKILL after 30 s)."""
    (run.work / "worker").mkdir(exist_ok=True)
    with run_worker(env, run.work / f"{name}.log", cwd=REPO_ROOT) as proc:
        yield proc


def _check_alive(proc: subprocess.Popen[bytes], run: Run) -> None:
    if proc.poll() is not None:
        raise UsageError(f"the worker exited (status {proc.returncode}); see its log in "
                         f"{run.work}")


def edge_timestamp(client: dict[str, Any], topics: list[str], last: bool) -> float | None:
    """Broker timestamp (producer's CreateTime, s) of the first (or last) message over all
    partitions of ``topics``: the worker's own clock for when it started (or stopped) writing."""
    from confluent_kafka import Consumer, TopicPartition

    c = Consumer({**client, "group.id": f"edge-{uuid.uuid4().hex}",
                  "enable.auto.commit": False, "log_level": 3})
    try:
        md = c.list_topics(timeout=10)
        tps = []
        for t in topics:
            for p in md.topics[t].partitions if t in md.topics else {}:
                low, high = c.get_watermark_offsets(TopicPartition(t, p), timeout=10)
                if high > low:
                    tps.append(TopicPartition(t, p, high - 1 if last else low))
        c.assign(tps)
        stamps: dict[tuple[str | None, int | None], float] = {}
        deadline = time.monotonic() + 15
        while len(stamps) < len(tps) and time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is not None and m.error() is None:
                stamps.setdefault((m.topic(), m.partition()), m.timestamp()[1] / 1000.0)
    finally:
        c.close()
    if not stamps:
        return None
    return max(stamps.values()) if last else min(stamps.values())


@dataclass
class Throughput:
    events_per_s: float
    seconds: float
    to_last_write: float  # events/s to the last output/changelog write (no commit delay)
    startup: float
    peak_rss_mb: float  # the worker's peak resident memory (VmHWM): what k8s sizing uses


def peak_rss_mb(pid: int) -> float:
    """Peak resident set of a live process, MiB (Linux /proc; NaN elsewhere)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return math.nan


def scorer_throughput(run: Run, s: Settings, n: int, web_port: int) -> Throughput:
    """Start one worker on the pre-loaded topics; time first output -> group lag 0."""
    inputs = [*s.input_topics, s.topic_handoff]
    outputs = [s.topic_changes, s.topic_alerts, s.topic_deadletter, s.topic_handoff]
    changelogs = [f"{s.app_id}-leads-changelog", f"{s.app_id}-aliases-changelog"]
    probe = LagProbe(run.client, s.app_id, inputs)
    started = time.time()
    try:
        with worker(run, worker_env(run, s, web_port, None), "worker-throughput") as proc:
            say(f"worker pid {proc.pid} started; waiting for lag 0 on {len(inputs)} topics")
            deadline = time.monotonic() + max(300.0, n / 100.0)
            while probe.lag() != 0:
                _check_alive(proc, run)
                if time.monotonic() > deadline:
                    raise UsageError(f"the worker did not catch up; see {run.work}")
                time.sleep(0.2)
            done = time.time()
            rss = peak_rss_mb(proc.pid)
    finally:
        probe.close()
    first = edge_timestamp(run.client, outputs, last=False)
    last = edge_timestamp(run.client, outputs + changelogs, last=True)
    if first is None or last is None:
        raise UsageError("the worker wrote no output at all")
    return Throughput(n / (done - first), done - first, n / (last - first), first - started,
                      rss)
