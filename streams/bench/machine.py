"""Who used the machine while the bench measured latency: the worker, the broker, the bench.

Why: on a small machine the worker shares the cores with the broker and with the bench's own
sender and reader. A latency tail then says as much about the machine's queue for its cores
as about the worker, and a reader of the figures needs to see how busy the machine was to
tell the two apart. Linux /proc only (``/proc/stat``, ``/proc/net/tcp``); elsewhere the
figures are NaN and printed as unknown.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

from streams.bench.scorer import cpu_seconds

PROC = Path("/proc")
LISTEN = "0A"  # TCP_LISTEN in /proc/net/tcp's "st" column


def machine_busy_seconds(proc: Path = PROC) -> tuple[float, int]:
    """CPU seconds all CPUs were busy since boot (everything but idle and iowait), and how
    many CPUs /proc/stat lists."""
    try:
        lines = (proc / "stat").read_text().splitlines()
        fields = lines[0].split()
    except (OSError, IndexError):
        return math.nan, 0
    cpus = sum(1 for line in lines if line.startswith("cpu") and line[3:4].isdigit())
    ticks = [int(v) for v in fields[1:]]
    # user nice system idle iowait irq softirq steal (guest time is already counted in user
    # and nice, man 5 proc).
    busy = sum(ticks[:8]) - ticks[3] - (ticks[4] if len(ticks) > 4 else 0)
    return busy / os.sysconf("SC_CLK_TCK"), cpus


def listener_pid(port: int, proc: Path = PROC) -> int | None:
    """The process listening on TCP ``port`` of this machine, or None when none is found
    (or it belongs to a user whose file descriptors cannot be read)."""
    inodes = set()
    for table in ("tcp", "tcp6"):
        try:
            lines = (proc / "net" / table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            if len(cols) > 9 and cols[3] == LISTEN and int(cols[1].rpartition(":")[2], 16) == port:
                inodes.add(f"socket:[{cols[9]}]")
    if not inodes:
        return None
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            for fd in (entry / "fd").iterdir():
                if os.readlink(fd) in inodes:
                    return int(entry.name)
        except OSError:
            continue
    return None


@dataclass
class Share:
    """Cores used over one window: the whole machine, and the processes the bench knows."""

    cpus: int
    busy: float  # cores busy, all processes (and the kernel)
    worker: float
    broker: float  # NaN when the broker is not a local process the bench could find
    bench: float  # this process: the sender and the reader

    @property
    def other(self) -> float:
        known = self.worker + self.bench + (0.0 if math.isnan(self.broker) else self.broker)
        return max(0.0, self.busy - known)

    def text(self) -> str:
        broker = "broker unknown" if math.isnan(self.broker) else f"broker {self.broker:.2f}"
        return (f"{self.busy:.2f} of {self.cpus} cores busy: worker {self.worker:.2f}, "
                f"{broker}, this bench's sender and reader {self.bench:.2f}, "
                f"other {self.other:.2f}")


class ShareMeter:
    """Start with :meth:`start`, read the window's :class:`Share` with :meth:`stop`."""

    def __init__(self, worker_pid: int, broker_pid: int | None) -> None:
        self.worker_pid, self.broker_pid = worker_pid, broker_pid
        self._t0 = (0.0, 0.0, 0.0, 0.0, 0.0)

    def _now(self) -> tuple[float, float, float, float, float]:
        broker = math.nan if self.broker_pid is None else cpu_seconds(self.broker_pid)
        return (time.monotonic(), machine_busy_seconds()[0], cpu_seconds(self.worker_pid),
                broker, cpu_seconds(os.getpid()))

    def start(self) -> None:
        self._t0 = self._now()

    def stop(self) -> Share:
        now = self._now()
        wall = now[0] - self._t0[0]
        used = [(b - a) / wall if wall > 0 else math.nan
                for a, b in zip(self._t0, now, strict=True)]
        return Share(machine_busy_seconds()[1], *used[1:])


def broker_pid(bootstrap: str) -> int | None:
    """The local broker's process for a loopback ``host:port`` bootstrap, else None."""
    host, _, port = bootstrap.split(",")[0].rpartition(":")
    if host.strip("[]") not in ("127.0.0.1", "localhost", "::1") or not port.isdigit():
        return None
    return listener_pid(int(port))
