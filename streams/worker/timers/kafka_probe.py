"""The Kafka probe: every few seconds, does a broker accept a TCP connection? It drives the
``leadscore_kafka_reachable`` gauge and tells the log filter (:mod:`streams.worker.logs`)
when an outage is over, so the log says "back after N s" once.

Why a TCP connect and not a metadata request: it is cheap (no client, no authentication),
answers within its timeout whatever the clients are doing, and an outage is exactly "no
broker accepts connections"; the clients' own retries do the rest. A broker that accepts
connections but refuses requests shows in the clients' errors and the lag instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence

import faust

from streams.worker.context import WorkerContext
from streams.worker.logs import KafkaOutage
from streams.worker.metrics import worker_metrics

PROBE_INTERVAL_S = 2.0
CONNECT_TIMEOUT_S = 1.0


def brokers(bootstrap: str) -> list[tuple[str, int]]:
    """``host:port[,host:port]`` as (host, port) pairs (IPv6 in brackets allowed)."""
    out = []
    for part in bootstrap.split(","):
        host, _, port = part.strip().rpartition(":")
        if host and port.isdigit():
            out.append((host.strip("[]"), int(port)))
    return out


async def reachable(addresses: Sequence[tuple[str, int]],
                    timeout: float = CONNECT_TIMEOUT_S) -> bool:
    """True once one of ``addresses`` accepts a TCP connection within ``timeout``."""
    for host, port in addresses:
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
        except (OSError, TimeoutError):
            continue
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return True
    return False


class Probe:
    """One probe's bookkeeping: the gauge, the outage seconds, the log filter's state."""

    def __init__(self, addresses: Sequence[tuple[str, int]],
                 outage: KafkaOutage | None) -> None:
        self.addresses = list(addresses)
        self.outage = outage
        self._last = time.monotonic()

    async def once(self) -> bool:
        up = await reachable(self.addresses)
        now = time.monotonic()
        m = worker_metrics()
        m.kafka_reachable.set(1 if up else 0)
        if not up:
            m.kafka_unreachable.inc(max(0.0, now - self._last))
        self._last = now
        if self.outage is not None:
            self.outage.check(up)
        return up


def register(app: faust.App, ctx: WorkerContext) -> None:
    """Probe every :data:`PROBE_INTERVAL_S` (the log filter is the app's ``kafka_outage``,
    installed with the worker's logging: streams/worker/app.py)."""
    probe = Probe(brokers(ctx.settings.kafka_bootstrap), None)

    @app.timer(interval=PROBE_INTERVAL_S, name="leadscore.kafka_probe")
    async def kafka_probe() -> None:
        probe.outage = getattr(app, "kafka_outage", None)
        await probe.once()
