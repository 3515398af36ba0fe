"""The pager's Prometheus metrics (served on LEADSCORE_PAGER_METRICS_PORT). Labels are
bounded by the routing file (route and webhook names) and fixed vocabularies; never a lead or
a rep."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.process_collector import ProcessCollector

PREFIX = "leadscore_pager"


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        r = self.registry = registry or CollectorRegistry()
        ProcessCollector(registry=r)
        self.alerts = Counter(
            f"{PREFIX}_alerts_total",
            "Alerts read, by what became of them: delivered, duplicate (idempotency key seen "
            "before), held_quiet_hours, held_hourly_cap, unrouted, dead_lettered, invalid.",
            ["outcome"], registry=r)
        self.pages = Counter(f"{PREFIX}_pages_delivered_total",
                             "Pages delivered (2xx), by route.", ["route"], registry=r)
        self.digests = Counter(f"{PREFIX}_digests_total",
                               "Digests of held alerts, by reason and outcome (delivered, "
                               "dead_lettered).", ["reason", "outcome"], registry=r)
        self.attempts = Counter(
            f"{PREFIX}_delivery_attempts_total",
            "HTTP attempts by webhook and result: ok, http_4xx, http_5xx, timeout, refused, "
            "error.", ["webhook", "result"], registry=r)
        self.attempt_seconds = Histogram(
            f"{PREFIX}_attempt_seconds", "Wall time of one HTTP attempt.", ["webhook"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
            registry=r)
        self.held = Gauge(f"{PREFIX}_held_alerts",
                          "Alerts held for a digest (quiet hours, hourly cap).", registry=r)
        self.view_lag = Gauge(f"{PREFIX}_views_behind_messages",
                              "Profile and score records not yet read into the pager's views "
                              "when the last alert batch was routed.", registry=r)
