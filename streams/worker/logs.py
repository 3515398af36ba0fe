"""The worker's log under trouble: one line when Kafka is lost, one when it is back, and no
flood of identical lines in between.

Why: while a broker is down, aiokafka logs every failed connection and metadata refresh at
ERROR, several per millisecond: a 25 s outage wrote 36,780 lines (and 17,571 more while the
broker restarted), burying everything else and filling disks. Operators need two facts: when
the connection was lost and when it came back; the ``leadscore_kafka_reachable`` gauge shows
the outage on the dashboard.

Two filters, installed on the root logger's handlers (so they see records of every logger):

- :class:`KafkaOutage` recognises the Kafka clients' connection errors. The first one of an
  outage passes, reworded as "Kafka unreachable ..."; the rest are counted and dropped. The
  worker calls :meth:`KafkaOutage.check` every few seconds with whether a broker accepts a TCP
  connection; once one does and no connection error came for ``quiet_s``, it logs "Kafka
  reachable again after N s (M errors suppressed)".
- :class:`RepeatLimit` lets the same message (logger, level, template) through ``burst`` times
  per ``window_s`` and then says once how many it dropped.

Both are pure (a clock is injected), so the unit tests drive them with synthetic records.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger("leadscore.kafka")

# What the Kafka clients (aiokafka, which Faust uses, and Faust's own transport) log while no
# broker answers. Matched on the formatted message of records from these loggers.
_CLIENT_LOGGERS = ("aiokafka", "faust.transport", "faust.tables", "kafka")
_CONNECTION_ERRORS = re.compile(
    r"Unable connect to node|Unable to update metadata|Failed fetch messages|"
    r"Group Coordinator Request failed|NodeNotReadyError|KafkaConnectionError|"
    r"Connect call failed|Connection refused|coordinator dead|coordinator .* not valid|"
    r"Heartbeat (session expired|send request failed|failed)|Error sending HeartbeatRequest|"
    r"Got error produce response|RequestTimedOutError|KafkaTimeoutError")


def is_connection_error(record: logging.LogRecord) -> bool:
    if not record.name.startswith(_CLIENT_LOGGERS) and record.name != "root":
        return False
    if record.levelno < logging.WARNING:
        return False
    return bool(_CONNECTION_ERRORS.search(record.getMessage()))


@dataclass
class KafkaOutage(logging.Filter):
    """One line per outage instead of one per failed connection attempt."""

    bootstrap: str
    on_change: Callable[[bool], None] | None = None  # True: reachable again; False: lost
    clock: Callable[[], float] = time.monotonic
    quiet_s: float = 3.0
    down_since: float | None = None
    last_error: float = 0.0
    suppressed: int = 0
    outages: int = 0

    def __post_init__(self) -> None:
        super().__init__()

    def filter(self, record: logging.LogRecord) -> bool:
        if not is_connection_error(record):
            return True
        now = self.clock()
        self.last_error = now
        if self.down_since is not None:
            self.suppressed += 1
            return False
        self.down_since, self.suppressed = now, 0
        self.outages += 1
        first = _short(record.getMessage())
        record.msg = ("Kafka unreachable at %s (%s); the worker keeps retrying, and repeats of "
                      "this error are suppressed until the connection is back")
        record.args = (self.bootstrap, first)
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        record.exc_info = record.exc_text = None
        if self.on_change:
            self.on_change(False)
        return True

    def check(self, reachable: bool) -> None:
        """Called every few seconds with whether a broker accepts connections."""
        if self.down_since is None or not reachable:
            return
        now = self.clock()
        if now - self.last_error < self.quiet_s:
            return
        lasted, dropped = now - self.down_since, self.suppressed
        self.down_since, self.suppressed = None, 0
        log.warning("Kafka reachable again at %s after %.0f s (%d connection errors "
                    "suppressed)", self.bootstrap, lasted, dropped)
        if self.on_change:
            self.on_change(True)


def _short(message: str, limit: int = 160) -> str:
    first = message.strip().splitlines()[0] if message.strip() else message
    return first if len(first) <= limit else first[: limit - 3] + "..."


@dataclass
class RepeatLimit(logging.Filter):
    """The same message at most ``burst`` times per ``window_s``; then one line saying how
    many were dropped, when the window ends and the message comes again."""

    burst: int = 5
    window_s: float = 60.0
    clock: Callable[[], float] = time.monotonic
    _seen: dict[tuple[str, int, str], tuple[float, int, int]] = field(default_factory=dict)
    dropped_total: int = 0

    def __post_init__(self) -> None:
        super().__init__()

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, record.levelno, str(record.msg))
        now = self.clock()
        start, count, dropped = self._seen.get(key, (now, 0, 0))
        if now - start >= self.window_s:
            if dropped:
                record.msg = f"{record.msg} (the same message was dropped {dropped} times " \
                             f"in the last {self.window_s:.0f} s)"
            start, count, dropped = now, 0, 0
        count += 1
        if count > self.burst:
            self._seen[key] = (start, count, dropped + 1)
            self.dropped_total += 1
            return False
        self._seen[key] = (start, count, dropped)
        if len(self._seen) > 10_000:  # bounded memory: forget the oldest windows
            for k in sorted(self._seen, key=lambda k: self._seen[k][0])[:5_000]:
                del self._seen[k]
        return True


def install(logger: logging.Logger, bootstrap: str) -> KafkaOutage:
    """Put both filters on ``logger``'s handlers (the root logger's, once Faust set up its
    logging: every library's records pass through them); return the outage filter, which
    the Kafka probe (streams/worker/timers/kafka_probe.py) tells when a broker is back."""
    outage = KafkaOutage(bootstrap)
    repeats = RepeatLimit()
    for handler in logger.handlers:
        handler.addFilter(outage)
        handler.addFilter(repeats)
    return outage
