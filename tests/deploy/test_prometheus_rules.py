"""deploy/prometheus against real Prometheus binaries (Debian's package, fetched into the cache
by streams.local.prometheus; a failed fetch fails these tests, it never skips them).

- promtool accepts the config and the rules, and the rule unit tests pass;
- every alert is shaped the same way and has a firing and a non-firing unit test;
- every metric the rules use exists in the worker's exposition (streams.worker.metrics);
- a real Prometheus server on loopback scrapes a worker's registry with known counts, and the
  HTTP API returns those numbers, the recording rules' results and the pending alerts.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import start_http_server
from prometheus_client.parser import text_string_to_metric_families

from streams.local import prometheus as localprometheus
from streams.local.kafka import port_in_use
from streams.worker.metrics import ConsumerCollector, Metrics

DEPLOY = localprometheus.DEPLOY_DIR
RULES = sorted((DEPLOY / "rules").glob("*.yml"))
RULE_TESTS = sorted((DEPLOY / "tests").glob("*.yml"))
SOURCES = {"events.website": "website", "events.email": "email", "events.product": "product",
           "leads.profile": "profile", "leads.outcomes": "outcomes"}


@pytest.fixture(scope="module")
def binaries() -> localprometheus.Binaries:
    return localprometheus.fetch()


def _load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def _rules() -> list[dict[str, Any]]:
    return [r for path in RULES for g in _load(path)["groups"] for r in g["rules"]]


def _alerts() -> list[dict[str, Any]]:
    return [r for r in _rules() if "alert" in r]


# --------------------------------------------------------------------------- promtool


@pytest.mark.parametrize("cmd", list(localprometheus.check_commands()),
                         ids=lambda c: " ".join(c[:2]))
def test_promtool(binaries: localprometheus.Binaries, cmd: list[str]) -> None:
    assert RULES and RULE_TESTS
    proc = localprometheus.promtool(*cmd, cwd=DEPLOY)
    out = (proc.stdout + proc.stderr).strip()
    assert proc.returncode == 0, f"promtool {' '.join(cmd)} failed:\n{out}"
    assert "SUCCESS" in out and "FAILED" not in out, out


# --------------------------------------------------------------------------- rule shape


def test_alerts_have_for_severity_and_annotations() -> None:
    alerts = _alerts()
    assert len(alerts) >= 6
    for a in alerts:
        name = a["alert"]
        assert re.fullmatch(r"Leadscore[A-Z]\w+", name), name
        assert a.get("for"), f"{name}: no for:"
        assert a.get("labels", {}).get("severity") in {"warning", "critical"}, name
        ann = a.get("annotations", {})
        assert {"summary", "description", "runbook"} <= set(ann), f"{name}: {sorted(ann)}"
        anchor = f"README.md#{name.lower()}"
        assert anchor in ann["runbook"], f"{name}: runbook should point at {anchor}"
        assert f"\n### {name}\n" in (DEPLOY / "README.md").read_text(), (
            f"{name} is not explained in deploy/prometheus/README.md")


def test_every_alert_has_a_firing_and_a_quiet_unit_test() -> None:
    firing: set[str] = set()
    quiet: set[str] = set()
    for path in RULE_TESTS:
        for group in _load(path)["tests"]:
            for case in group.get("alert_rule_test", []):
                (firing if case.get("exp_alerts") else quiet).add(case["alertname"])
    names = {a["alert"] for a in _alerts()}
    assert names - firing == set(), "alerts never shown firing"
    assert names - quiet == set(), "alerts never shown not firing"


def test_alert_rules_select_the_scrape_job() -> None:
    config = _load(DEPLOY / "prometheus.yml")
    jobs = {j["job_name"] for j in config["scrape_configs"]}
    assert jobs == {localprometheus.DEFAULT_JOB}
    used = {m for r in _rules() for m in re.findall(r'job="([^"]+)"', r["expr"])}
    assert used <= jobs, used
    targets = [t for j in config["scrape_configs"] for sc in j["static_configs"]
               for t in sc["targets"]]
    assert targets == ["worker-1:6066", "worker-2:6066"]
    assert config["rule_files"] == ["rules/*.yml"]


# --------------------------------------------------------------------------- metric names

_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or",
             "unless", "bool", "offset", "inf", "nan"}


def promql_metric_names(expr: str) -> set[str]:
    """Metric names in a PromQL expression: identifiers that are not functions, keywords,
    label names (in {...}, by/on/... lists) or inside strings and [ranges]."""
    s = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'', '""', expr)
    s = re.sub(r"\{[^}]*\}", " ", s)
    s = re.sub(r"\[[^\]]*\]", " ", s)
    s = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", s)
    names = set()
    for m in re.finditer(r"(?<![\w:.])([A-Za-z_:][\w:]*)(?![\w:])(\s*\()?", s):
        if not m.group(2) and m.group(1).lower() not in _KEYWORDS:
            names.add(m.group(1))
    return names


def test_promql_metric_names_extractor() -> None:
    expr = ('sum by (source, le) (rate(a_total{type="x",le="+Inf"}[5m] offset 1m)) / on (source)'
            ' b:c:rate10m > 1e3 and ignoring(job) label_replace(vector(1), "s", "w", "", "")'
            ' unless absent(up{job="leadscore"} == 1) or histogram_quantile(0.99, d_bucket)')
    assert promql_metric_names(expr) == {"a_total", "b:c:rate10m", "up", "d_bucket"}


def _exposed_names() -> set[str]:
    """Sample names a fresh worker registry can expose, including those of labelled metrics
    that have no child yet (only their HELP/TYPE lines are printed)."""
    metrics = Metrics()
    # Registered by the worker on the same registry; read Faust's consumer at scrape time.
    metrics.registry.register(ConsumerCollector(lambda: []))
    suffixes = {"counter": ["_total", "_created"], "gauge": [""],
                "histogram": ["_bucket", "_sum", "_count", "_created"],
                "summary": ["", "_sum", "_count", "_created"], "info": ["_info"]}
    names: set[str] = set()
    for fam in text_string_to_metric_families(metrics.exposition().decode()):
        names.update(fam.name + sfx for sfx in suffixes.get(fam.type, [""]))
        names.update(s.name for s in fam.samples)
    return names


def test_every_metric_used_exists_in_the_worker_exposition() -> None:
    exposed = _exposed_names()
    assert "leadscore_event_to_score_seconds_bucket" in exposed
    recorded = {r["record"] for r in _rules() if "record" in r}
    from_prometheus = {"up"}  # added by Prometheus to every target
    used: dict[str, set[str]] = {}
    for rule in _rules():
        for name in promql_metric_names(rule["expr"]):
            used.setdefault(name, set()).add(rule.get("alert") or rule.get("record"))
    # The scrape config may name metrics in relabelling (source_labels [__name__]).
    config = _load(DEPLOY / "prometheus.yml")
    for job in config["scrape_configs"]:
        for rc in job.get("metric_relabel_configs", []):
            if "__name__" in rc.get("source_labels", []):
                pattern = re.compile(rc.get("regex", "(.*)"))
                assert any(pattern.fullmatch(n) for n in exposed), rc
    assert used, "no metric names found in the rules"
    unknown = {n: sorted(r) for n, r in used.items()
               if n not in exposed | recorded | from_prometheus}
    assert unknown == {}, f"metrics used by rules but not exposed by the worker: {unknown}"
    # Recorded names follow level:metric:operations and are built from worker metrics.
    for name in recorded:
        assert re.fullmatch(r"[a-z]+:leadscore_\w+:\w+", name), name


# --------------------------------------------------------------------------- real server


@pytest.fixture
def worker_registry() -> Iterator[tuple[Metrics, str]]:
    """A worker's registry with known values, served on loopback like a worker's /metrics."""
    m = Metrics()
    lag = [("events.website", 0, 100), ("events.website", 1, 50), ("events.email", 0, 7)]
    m.registry.register(ConsumerCollector(lambda: lag))
    m.events_consumed.labels(source="website", type="page_view").inc(120)
    m.events_consumed.labels(source="website", type="invalid").inc(6)
    m.events_consumed.labels(source="email", type="email_click").inc(40)
    m.events_invalid.labels(source="website", reason="missing_field").inc(6)
    m.scores.inc(160)
    m.alerts.labels(kind="entered_tier").inc(2)
    for seconds in (0.02, 0.03, 0.2, 0.7, 3.0):
        m.latency.observe(seconds)
    now = time.time()
    # product's newest event is 20 minutes old: LeadscoreSourceSilent's condition holds.
    m.record_seen(SOURCES, ["events.website", "events.email", "events.product"],
                  [now - 5, now - 10, now - 1200])
    m.record_scan({"hot": 7, "warm": 20, "cold": 73}, leads=100, anonymous=12)
    m.ready.set(1)
    httpd, _ = start_http_server(0, addr="127.0.0.1", registry=m.registry)
    try:
        yield m, f"127.0.0.1:{httpd.server_port}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def _eventually(fetch: Callable[[], Any], ok: Callable[[Any], bool], timeout: float = 30.0,
                ) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        got = fetch()
        if ok(got) or time.monotonic() > deadline:
            return got
        time.sleep(0.2)


def test_real_prometheus_scrapes_worker_metrics(
    binaries: localprometheus.Binaries, worker_registry: tuple[Metrics, str], tmp_path: Path
) -> None:
    metrics, target = worker_registry
    with localprometheus.start([target], None, tmp_path / "prom", rules_files=RULES,
                               scrape_interval=0.5) as prom:
        assert prom.url.startswith("http://127.0.0.1:")
        targets = prom.wait_for_targets(timeout=30)
        assert [t["labels"] for t in targets] == [{"instance": target, "job": "leadscore"}]

        def one(expr: str) -> float:
            samples = prom.query(expr)
            assert len(samples) == 1, (expr, samples)
            return samples[0].value

        def by(expr: str, label: str) -> dict[str, float]:
            return {s.labels[label]: s.value for s in prom.query(expr)}

        assert one('up{job="leadscore"}') == 1
        assert one('leadscore_events_consumed_total{source="website",type="page_view"}') == 120
        assert by("sum by (source) (leadscore_events_consumed_total)", "source") == {
            "website": 126, "email": 40}
        assert one('leadscore_events_invalid_total{reason="missing_field"}') == 6
        assert one("leadscore_scores_computed_total") == 160
        assert one('leadscore_alerts_total{kind="entered_tier"}') == 2
        assert by("leadscore_event_to_score_seconds_bucket", "le") == {
            "0.0025": 0, "0.005": 0, "0.0075": 0, "0.01": 0, "0.015": 0, "0.02": 1,
            "0.025": 1, "0.035": 2, "0.05": 2, "0.075": 2, "0.1": 2, "0.15": 2, "0.25": 3,
            "0.5": 3, "1.0": 4, "2.5": 4, "5.0": 5, "10.0": 5, "30.0": 5, "60.0": 5, "+Inf": 5}
        assert one("leadscore_event_to_score_seconds_count") == 5
        assert one("leadscore_event_to_score_seconds_sum") == pytest.approx(3.95)
        assert by("leadscore_leads", "tier") == {"hot": 7, "warm": 20, "cold": 73}
        assert {(s.labels["topic"], s.labels["partition"]): s.value
                for s in prom.query("leadscore_consumer_lag_messages")} == {
            ("events.website", "0"): 100, ("events.website", "1"): 50, ("events.email", "0"): 7}
        assert one("leadscore_ready") == 1
        seen = by("leadscore_last_event_timestamp_seconds", "source")
        assert set(seen) == {"website", "email", "product"}
        assert time.time() - seen["product"] == pytest.approx(1200, abs=60)

        # The rules loaded into the real server evaluate without errors...
        def rules() -> list[dict[str, Any]]:
            return [r for g in prom.api("rules")["groups"] for r in g["rules"]]

        # (lastEvaluation is Go's zero time, year 0001, until a rule's first evaluation)
        evaluated = _eventually(rules, lambda rs: not any(
            r["lastEvaluation"].startswith("0001") for r in rs))
        assert len(evaluated) == len(_rules())
        assert [(r["name"], r["health"], r.get("lastError")) for r in evaluated
                if r["health"] != "ok"] == []

        # ...the recording rules give the fleet aggregates...
        lag = _eventually(lambda: by("topic:leadscore_consumer_lag_messages:sum", "topic"),
                          lambda got: len(got) == 2)
        assert lag == {"events.website": 150, "events.email": 7}

        # ...and the alert conditions hold on real scraped data: product is silent (20 min,
        # pending for 2m) and profile/outcomes never sent (pending for 30m).
        expected = {("LeadscoreSourceSilent", "product"),
                    ("LeadscoreSourceNoData", "profile"),
                    ("LeadscoreSourceNoData", "outcomes")}
        pending = _eventually(
            lambda: {(s.labels["alertname"], s.labels.get("source")) for s in
                     prom.query('ALERTS{alertstate="pending"}')},
            lambda got: got == expected)
        assert pending == expected
        # Not even for one evaluation did an alert miss the recorded series (one rule group).
        assert prom.query('count_over_time(ALERTS{alertname="LeadscoreSourceNoData",'
                          'source=~"website|email|product"}[5m])') == []
        assert prom.query('ALERTS{alertname="LeadscoreSourceNoData"}[5m]')  # (query sanity)

        # Counters move between scrapes and Prometheus sees the new value.
        metrics.events_consumed.labels(source="website", type="page_view").inc(30)
        prom.wait_for_scrape(timeout=30)
        assert one('leadscore_events_consumed_total{source="website",type="page_view"}') == 150
    assert prom.proc.poll() is not None  # stopped on leaving the block
    assert not port_in_use(prom.port)
