"""crm-sync's Prometheus metrics (served on LEADSCORE_CRM_METRICS_PORT)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.process_collector import ProcessCollector

PREFIX = "leadscore_crmsync"


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        r = self.registry = registry or CollectorRegistry()
        ProcessCollector(registry=r)
        self.consumed = Counter(f"{PREFIX}_changes_consumed_total",
                                "Records read from the score changes topic.", registry=r)
        self.rows = Counter(f"{PREFIX}_rows_total",
                            "What the batches did to the table: written (inserted or "
                            "replaced), stale (older than the row, not written), deleted "
                            "(tombstones).", ["outcome"], registry=r)
        self.dead_letters = Counter(f"{PREFIX}_dead_letters_total",
                                    "Records that are not valid score changes, dead-lettered, "
                                    "by reason code.", ["reason"], registry=r)
        self.db_errors = Counter(f"{PREFIX}_database_errors_total",
                                 "Transactions that failed and were retried.", registry=r)
        self.transaction_seconds = Histogram(
            f"{PREFIX}_transaction_seconds", "Wall time of one batch's transaction.",
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
            registry=r)
        self.batch_size = Histogram(f"{PREFIX}_batch_records", "Records per batch.",
                                    buckets=(1, 5, 10, 25, 50, 100, 250, 500, 1000, 5000),
                                    registry=r)
        self.last_event_time = Gauge(f"{PREFIX}_last_event_timestamp_seconds",
                                     "event_time of the newest change written.", registry=r)
