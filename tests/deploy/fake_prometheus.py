"""Just enough of Prometheus's ``/api/v1/query_range`` to test deploy/grafana/render.py.

Answers every query with deterministic series shaped like the real ones: the labels come
from the query's ``by (...)`` clause (sources, tiers, alert kinds, ``le`` buckets, topic
partitions...), values from a fixed function of the metric named and the timestamp. It
evaluates no PromQL; it records every query it was asked, so a test can check that each
panel was queried with its variables substituted.

Also runnable, to look at a render without a worker:
``python -m tests.deploy.fake_prometheus --port 9091`` then
``python deploy/grafana/render.py --prometheus http://127.0.0.1:9091 --out /tmp/d.png``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

SOURCES = ("website", "email", "product", "profile", "outcomes")
TIERS = ("hot", "warm", "cold")
KINDS = ("entered_tier", "spike", "decline")
REASONS = (("website", "unparseable_json"), ("email", "missing_field"),
           ("product", "unknown_event_type"))
TOPICS = ("events.website", "events.email")
INSTANCES = ("worker-1:6066", "worker-2:6066")
SCORE_LE = ("10", "20", "30", "40", "50", "60", "70", "80", "90", "100", "+Inf")
SCORE_SHARE = (0.22, 0.18, 0.14, 0.11, 0.09, 0.08, 0.07, 0.05, 0.04, 0.02, 0.0)

# First matching substring of the query -> typical value (the scale a real worker shows).
SCALES = (
    ("histogram_quantile(0.5, sum by (le) (rate(leadscore_event_to_score", 0.04),
    ("histogram_quantile(0.95, sum by (le) (rate(leadscore_event_to_score", 0.18),
    ("histogram_quantile(0.99, sum by (le) (rate(leadscore_event_to_score", 0.6),
    ("histogram_quantile(0.5, sum by (le) (rate(leadscore_batch_processing", 0.008),
    ("histogram_quantile(0.95, sum by (le) (rate(leadscore_batch_processing", 0.03),
    ("histogram_quantile(0.99, sum by (le) (rate(leadscore_batch_processing", 0.07),
    ("histogram_quantile(0.95, sum by (le) (rate(leadscore_batch_messages", 180.0),
    ("leadscore_batch_messages", 40.0),
    ("leadscore_events_invalid_total", 0.02),  # shares and dead letters/s
    ("leadscore_events_consumed_total", 35.0),
    ("leadscore_scores_computed_total", 30.0),
    ("leadscore_score_changes_total", 2.0),
    ("leadscore_alerts_total", 3.0),
    ("leadscore_consumer_lag_messages", 120.0),
    ("leadscore_last_event_timestamp_seconds", 12.0),
    ("leadscore_leads", 4000.0),
    ("leadscore_model_info", 2.0),
    ("process_resident_memory_bytes", 190e6),
    ("process_cpu_seconds_total", 0.35),
    ("up", 1.0),
    ("leadscore_ready", 1.0),
)


def label_sets(query: str) -> list[dict[str, str]]:
    """The series a query of this shape returns: from its outermost ``by (...)``."""
    if query.startswith("histogram_quantile("):
        return [{}]
    m = re.search(r"\bby \(([^)]*)\)", query)
    if m is None:
        if re.match(r"^(rate\()?\w+\{", query):  # a bare selector: one series per worker
            name = re.match(r"^(?:rate\()?(\w+)", query)
            assert name is not None
            return [{"__name__": name.group(1), "job": "leadscore", "instance": i}
                    for i in INSTANCES]
        return [{}]
    labels = tuple(x.strip() for x in m.group(1).split(","))
    if labels == ("le",):
        return [{"le": le} for le in SCORE_LE]
    if labels == ("source",):
        return [{"source": s} for s in SOURCES]
    if labels == ("tier",):
        return [{"tier": t} for t in TIERS]
    if labels == ("kind",):
        return [{"kind": k} for k in KINDS]
    if labels == ("source", "reason"):
        return [{"source": s, "reason": r} for s, r in REASONS]
    if labels == ("topic", "partition"):
        return [{"topic": t, "partition": str(p)} for t in TOPICS for p in range(4)]
    if labels == ("version",):
        return [{"version": "2026-11-20-lgbm"}]
    return [dict.fromkeys(labels, "x")]


def value(query: str, labels: dict[str, str], index: int, t: float) -> float:
    base = next((v for key, v in SCALES if key in query), 1.0)
    if query.startswith(("up{", "leadscore_ready{")):
        return 1.0
    if query.startswith(("count(up{", "sum(up{", "count by (version)")):
        return float(len(INSTANCES))
    if query.startswith("sum(leadscore_ready{"):  # the second worker recovers for a while
        return float(len(INSTANCES)) - (1.0 if math.sin(t / 75.0) > 0.6 else 0.0)
    if "le" in labels:  # cumulative buckets: the share of scores at or below le
        upto = SCORE_LE.index(labels["le"]) + 1
        return 50.0 * sum(SCORE_SHARE[:upto]) * (1.0 + 0.2 * math.sin(t / 90.0))
    if "tier" in labels and "leadscore_leads" in query:
        base = {"hot": 600.0, "warm": 2500.0, "cold": 9000.0}[labels["tier"]]
    wobble = 1.0 + 0.25 * math.sin(t / 75.0 + index * 1.3) + 0.08 * math.sin(t / 11.0 + index)
    return base * wobble / (1.0 + 0.35 * index)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        url = urlparse(self.path)
        params = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path != "/api/v1/query_range":
            self._send(404, {"status": "error", "errorType": "not_found",
                             "error": f"{url.path} is not implemented by the fake"})
            return
        try:
            query = params["query"]
            start, end = float(params["start"]), float(params["end"])
            step = float(params["step"].rstrip("s"))
        except (KeyError, ValueError) as e:
            self._send(400, {"status": "error", "errorType": "bad_data", "error": repr(e)})
            return
        with self.server.lock:
            self.server.queries.append(query)
        if "$" in query:  # an unsubstituted Grafana variable: real Prometheus rejects it too
            self._send(400, {"status": "error", "errorType": "bad_data",
                             "error": f"parse error: unexpected character '$' in {query!r}"})
            return
        steps = int((end - start) // step) + 1
        times = [start + k * step for k in range(steps)]
        result = [{"metric": labels,
                   "values": [[t, repr(value(query, labels, i, t))] for t in times]}
                  for i, labels in enumerate(label_sets(query))]
        self._send(200, {"status": "success",
                         "data": {"resultType": "matrix", "result": result}})

    def _send(self, code: int, body: dict[str, Any]) -> None:
        raw = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.lock = threading.Lock()
        self.queries: list[str] = []


class FakePrometheus:
    """``with FakePrometheus() as prom: ... prom.url ... prom.queries``"""

    def __init__(self, port: int = 0) -> None:
        self._server = _Server(port)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def queries(self) -> list[str]:
        with self._server.lock:
            return list(self._server.queries)

    def __enter__(self) -> FakePrometheus:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--port", type=int, default=9091)
    port = ap.parse_args().port
    with FakePrometheus(port) as prom:
        print(f"fake Prometheus query_range API on {prom.url} (Ctrl-C stops)", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
