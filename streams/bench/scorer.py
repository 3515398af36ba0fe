"""Real ``leadscore worker`` processes on the pre-loaded events: throughput, CPU, memory."""

from __future__ import annotations

import contextlib
import math
import os
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
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
    workers: int
    events_per_s: float
    seconds: float
    to_last_write: float  # events/s to the last output/changelog write (no commit delay)
    startup: float
    peak_rss_mb: float  # the largest worker's peak resident memory (VmHWM): k8s sizing
    cpu_us_per_event: float  # the workers' utime+stime over the window / events
    cpu_share: float  # that CPU time over the window's wall time (1.0 = one core)


def peak_rss_mb(pid: int) -> float:
    """Peak resident set of a live process, MiB (Linux /proc; NaN elsewhere)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return math.nan


def cpu_seconds(pid: int) -> float:
    """utime + stime of a live process, seconds (all its threads; Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return math.nan
    # After the command name: state is field 3, utime 14 and stime 15 (man 5 proc).
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuTrack:
    """(wall time, CPU seconds) samples of a set of processes, interpolated afterwards: the
    window's start (the first output) is only known once the run is over."""

    def __init__(self, pids: list[int]) -> None:
        self.pids = pids
        self.samples: list[tuple[float, float]] = []

    def sample(self) -> None:
        self.samples.append((time.time(), sum(cpu_seconds(p) for p in self.pids)))

    def at(self, t: float) -> float:
        """CPU seconds at wall time ``t``, linear between the samples around it."""
        s = self.samples
        if not s:
            return math.nan
        if t <= s[0][0]:
            return s[0][1]
        for (t0, c0), (t1, c1) in zip(s, s[1:], strict=False):
            if t0 <= t <= t1:
                return c0 + (c1 - c0) * ((t - t0) / (t1 - t0) if t1 > t0 else 1.0)
        return s[-1][1]


def ready(web_port: int) -> bool:
    """The worker answers /readyz with 200 (tables recovered, partitions assigned)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{web_port}/readyz", timeout=2) as r:
            return bool(r.status == 200)
    except OSError:
        return False


def scorer_throughput(run: Run, s: Settings, n: int, web_ports: list[int],
                      load: Callable[[], None] | None = None) -> Throughput:
    """Start one worker per web port on ``s``'s topics; time first output -> group lag 0.

    With ``load`` None the events are already in the topics (one worker: its start-up is not
    counted). Otherwise the workers are started on empty topics, left to form their group
    and recover, and only then ``load()`` sends the events: a group of several workers would
    otherwise rebalance inside the measured window."""
    inputs = [*s.input_topics, s.topic_handoff]
    outputs = [s.topic_changes, s.topic_alerts, s.topic_deadletter, s.topic_handoff]
    changelogs = [f"{s.app_id}-leads-changelog", f"{s.app_id}-aliases-changelog"]
    probe = LagProbe(run.client, s.app_id, inputs)
    started = time.time()
    try:
        with contextlib.ExitStack() as stack:
            procs = [stack.enter_context(worker(run, worker_env(run, s, port, None),
                                                f"worker-throughput-{i}"))
                     for i, port in enumerate(web_ports)]
            say(f"worker pid(s) {', '.join(str(p.pid) for p in procs)} started")
            track = CpuTrack([p.pid for p in procs])
            if load is not None:
                _wait_group_ready(run, procs, web_ports)
                load()
            say(f"waiting for lag 0 on {len(inputs)} topics")
            deadline = time.monotonic() + max(300.0, n / 100.0)
            while True:
                track.sample()
                if probe.lag() == 0:
                    break
                for p in procs:
                    _check_alive(p, run)
                if time.monotonic() > deadline:
                    raise UsageError(f"the worker did not catch up; see {run.work}")
                time.sleep(0.2)
            done = time.time()
            rss = max(peak_rss_mb(p.pid) for p in procs)
    finally:
        probe.close()
    first = edge_timestamp(run.client, outputs, last=False)
    last = edge_timestamp(run.client, outputs + changelogs, last=True)
    if first is None or last is None:
        raise UsageError("the worker wrote no output at all")
    cpu = track.at(done) - track.at(first)
    return Throughput(len(procs), n / (done - first), done - first, n / (last - first),
                      first - started, rss, cpu / n * 1e6, cpu / (done - first))


def _wait_group_ready(run: Run, procs: list[subprocess.Popen[bytes]],
                      web_ports: list[int]) -> None:
    """Every worker ready, and still ready 5 s later (the group has settled)."""
    deadline = time.monotonic() + 180
    since: float | None = None
    while since is None or time.monotonic() - since < 5.0:
        for p in procs:
            _check_alive(p, run)
        if time.monotonic() > deadline:
            raise UsageError(f"the workers did not all become ready in 180 s; see {run.work}")
        all_ready = all(ready(port) for port in web_ports)
        since = (since or time.monotonic()) if all_ready else None
        time.sleep(0.5)
