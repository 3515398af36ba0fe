"""The worker's web endpoints against real workers on the real broker: metrics after known
traffic, the score lookup (owned and forwarded, with two workers), health, readiness and the
bearer token."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from confluent_kafka import Producer
from prometheus_client.parser import text_string_to_metric_families

from schemas import ScoreChange
from schemas.outputs import LeadScore
from streams.local import prometheus as localprometheus
from streams.local.kafka import free_port
from tests.integration.helpers import consume, scorer_setup, wait_caught_up, worker_process
from tests.integration.test_worker_roundtrip import _event

TOKEN = "s3cret-token"
REPO = Path(__file__).resolve().parents[2]


def _pricing(lead: str, n: int) -> bytes:
    return _event("page_view", lead, n, url="https://x.io/pricing", path="/pricing",
                  page_category="pricing")


def get(port: int, path: str, token: str | None = None) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}")
    if token is not None:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def wait_ready(port: int, proc, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "worker exited"
        try:
            if get(port, "/readyz")[0] == 200:
                return
        except OSError:
            pass  # web server not up yet
        time.sleep(0.5)
    raise AssertionError(f"worker on {port} not ready within {timeout} s")


def samples(port: int) -> dict[tuple[str, frozenset], float]:
    status, headers, body = get(port, "/metrics")
    assert status == 200 and headers["Content-Type"].startswith("text/plain; version=")
    out = {}
    for fam in text_string_to_metric_families(body.decode()):
        for s in fam.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def total(found: dict, name: str, **labels: str) -> float:
    want = set(labels.items())
    return sum(v for (n, ls), v in found.items() if n == name and want <= ls)


def test_metrics_count_known_traffic_and_lookup_answers(kafka, topic_prefix, tmp_path,
                                                       small_model):
    names, env = scorer_setup(kafka.bootstrap, topic_prefix, small_model,
                              idle_scan_seconds="1", api_token=TOKEN)
    producer = Producer({"bootstrap.servers": kafka.bootstrap, "partitioner": "murmur2_random"})
    leads = [f"lead-{i}" for i in range(5)]
    for i, lead in enumerate(leads):
        producer.produce(names["website"], key=lead.encode(), value=_pricing(lead, i))
        producer.produce(names["email"], key=lead.encode(), value=_event(
            "email_open", lead, 100 + i, campaign_id="c", message_id="m"))
    for raw in (b"\xff not json", b'{"type": "page_view"}', b"[]"):
        producer.produce(names["website"], key=b"lead-0", value=raw)
    producer.produce(names["email"], key=b"lead-1", value=b"{}")
    assert producer.flush(30) == 0

    port = free_port()
    with worker_process({**env, "LEADSCORE_WEB_PORT": str(port)}, tmp_path) as proc:
        wait_ready(port, proc)
        changes = consume(kafka.bootstrap, names["changes"], until=lambda m: len(m) >= 5,
                          timeout=120)
        wait_caught_up(kafka.bootstrap, env["LEADSCORE_APP_ID"],
                       [names[k] for k in ("website", "email", "handoff")])
        deadline = time.monotonic() + 30
        while total(found := samples(port), "leadscore_leads") < 5:  # after a table scan
            assert time.monotonic() < deadline, "table scan gauges never reached 5 leads"
            time.sleep(0.5)

        # Counters equal the traffic sent.
        assert total(found, "leadscore_events_consumed_total", source="website",
                     type="page_view") == 5
        assert total(found, "leadscore_events_consumed_total", source="email",
                     type="email_open") == 5
        assert total(found, "leadscore_events_consumed_total", source="website",
                     type="invalid") == 3
        assert total(found, "leadscore_events_invalid_total", source="website") == 3
        assert total(found, "leadscore_events_invalid_total", source="email") == 1
        assert total(found, "leadscore_scores_computed_total") == 5
        assert total(found, "leadscore_score_changes_total") == len(changes) == 5
        assert total(found, "leadscore_score_points_count") == 5
        assert total(found, "leadscore_event_to_score_seconds_count") == 5
        assert total(found, "leadscore_table_records", kind="lead") == 5
        assert total(found, "leadscore_last_event_timestamp_seconds", source="email") > 0
        version = ScoreChange.from_bytes(changes[0].value()).model_version
        assert total(found, "leadscore_model_info", version=version) == 1
        lag = {(dict(ls)["topic"], dict(ls)["partition"]): v for (n, ls), v in found.items()
               if n == "leadscore_consumer_lag_messages"}
        assert {p for t, p in lag if t == names["website"]} == {"0", "1", "2", "3"}
        assert set(lag.values()) == {0.0}, lag
        assert not [t for t, _ in lag if "changelog" in t], "standby changelogs are not lag"
        assert total(found, "leadscore_ready") == 1
        # Bounded labels: no lead id anywhere in the exposition.
        assert not any("lead-" in v for _, ls in found for _, v in ls)

        # Health and readiness stay open; the lookup needs the token.
        assert get(port, "/healthz")[0] == 200
        assert get(port, "/readyz")[0] == 200
        assert get(port, "/leads/lead-0")[0] == 401
        assert get(port, "/leads/lead-0", token="wrong")[0] == 401
        status, _, body = get(port, "/leads/lead-0", token=TOKEN)
        assert status == 200, body
        answer = LeadScore.from_bytes(body)
        last = {c.lead_id: c for c in map(lambda m: ScoreChange.from_bytes(m.value()), changes)}
        assert (answer.score, answer.probability, answer.tier) == (
            last["lead-0"].score, last["lead-0"].probability, last["lead-0"].tier)
        assert answer.model_version == version and answer.top_factors
        assert get(port, "/leads/nobody-here", token=TOKEN)[0] == 404
        assert get(port, "/leads/bad%01id", token=TOKEN)[0] == 400
        assert get(port, "/leads/" + "x" * 129, token=TOKEN)[0] == 400

        # A real Prometheus (Debian's package, loopback) scrapes the worker with our rules.
        rules = REPO / "deploy" / "prometheus" / "rules" / "leadscore.yml"
        with localprometheus.start([f"127.0.0.1:{port}"], None, tmp_path / "prometheus",
                                   rules_files=[rules]) as prom:
            prom.wait_for_targets()
            prom.wait_for_scrape()

            def promql(expr: str) -> dict[str, float]:
                return {",".join(f"{k}={v}" for k, v in sorted(x.labels.items())): x.value
                        for x in prom.query(expr)}

            assert promql("sum(leadscore_events_consumed_total)") == {"": 14.0}
            assert promql('sum by (source) (leadscore_events_invalid_total)') == {
                "source=email": 1.0, "source=website": 3.0}
            assert promql('sum(leadscore_score_changes_total)') == {"": 5.0}
            assert promql('sum by (instance) (up{job="leadscore"})') == {
                f"instance=127.0.0.1:{port}": 1.0}
            # Every rule evaluates on real worker data without an error.
            deadline = time.monotonic() + 30
            while True:
                groups = prom.api("rules")["groups"]
                rules_seen = [r for g in groups for r in g["rules"]]
                if rules_seen and all(r.get("lastEvaluation", "").startswith("2")
                                      and not r["lastEvaluation"].startswith("0001")
                                      for r in rules_seen):
                    break
                assert time.monotonic() < deadline, "rules were never evaluated"
                time.sleep(0.5)
            assert [r["name"] for r in rules_seen if r["health"] != "ok"] == [], rules_seen
        assert proc.poll() is None


@pytest.mark.timeout(420)
def test_lookup_is_answered_by_the_owner_from_either_worker(kafka, topic_prefix, tmp_path,
                                                           small_model):
    names, env = scorer_setup(kafka.bootstrap, topic_prefix, small_model)
    producer = Producer({"bootstrap.servers": kafka.bootstrap, "partitioner": "murmur2_random"})
    leads = [f"lead-{i}" for i in range(16)]
    for i, lead in enumerate(leads):
        producer.produce(names["website"], key=lead.encode(), value=_pricing(lead, i))
    assert producer.flush(30) == 0
    groups = [names[k] for k in ("website", "handoff")]
    ports = [free_port(), free_port()]
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with worker_process({**env, "LEADSCORE_WEB_PORT": str(ports[0])}, tmp_path / "a") as a:
        wait_ready(ports[0], a)
        wait_caught_up(kafka.bootstrap, env["LEADSCORE_APP_ID"], groups)
        with worker_process({**env, "LEADSCORE_WEB_PORT": str(ports[1])}, tmp_path / "b") as b:
            wait_ready(ports[1], b)
            urls = {f"http://127.0.0.1:{p}" for p in ports}
            served: dict[str, str] = {}
            deadline = time.monotonic() + 120
            while len(served) < len(leads) or set(served.values()) != urls:  # rebalance settled
                assert time.monotonic() < deadline, f"lookups incomplete: {served}"
                for lead in leads:
                    answers = [get(p, f"/leads/{lead}") for p in ports]
                    if all(s == 200 for s, _, _ in answers):
                        by = {h.get("X-Leadscore-Worker") for _, h, _ in answers}
                        bodies = {LeadScore.from_bytes(body).score for _, _, body in answers}
                        assert len(by) == 1 and len(bodies) == 1, answers
                        served[lead] = by.pop()
                time.sleep(0.5)
            # Both workers own some leads, and each lead was answered by its owner from
            # either worker: the other one forwarded the request.
            assert set(served.values()) == urls, served
            for p in ports:
                assert get(p, "/leads/never-seen")[0] == 404
            assert a.poll() is None and b.poll() is None
