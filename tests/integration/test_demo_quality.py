"""What ``leadscore demo --drift`` shows, on the real broker: simulated live traffic (the
demo's own population of the last 30 days, sent in minutes) fills the worker's quality gauges
at once, since the look-backs are in event time (outcomes joined with the lead's score 7 days
before them); when the same traffic comes shifted (``demo.drift_population``: pricing views)
the predicted conversion rate rises while the observed one stays, and the score's drift
rises: the calibration and drift panels move.

Paired, so that the move is the shift's and not another sample's: the shifted traffic is the
baseline population again with the shift applied and its leads, visitors and event ids
renamed. Who converts is the same, and the shift leaves every lead's first scored day, so the
same outcomes are judged."""

from __future__ import annotations

import re
import subprocess
import time
import urllib.request

from confluent_kafka import Producer

from streams.commands.demo import drift_population, simulate_command
from streams.commands.produce import route_lines
from streams.local.kafka import free_port
from streams.settings import Settings
from tests.integration.helpers import scorer_setup, wait_caught_up, worker_process

LEADS, SEED = 600, 41


def _population(tmp_path) -> list[bytes]:  # type: ignore[no-untyped-def]
    out = tmp_path / "population.jsonl"
    subprocess.run([*simulate_command(LEADS, SEED), "--out", str(out), "--no-progress"],
                   check=True, stdout=subprocess.DEVNULL)
    lines = [x for x in out.read_bytes().splitlines() if x.strip()]
    when = re.compile(rb'"occurred_at":"([^"]+)"')
    return sorted(lines, key=lambda x: m.group(1) if (m := when.search(x)) else b"")


def _renamed(line: bytes) -> bytes:
    return (line.replace(b'"jl-', b'"jlx-').replace(b'"ja-', b'"jax-')
            .replace(b'"event_id":"', b'"event_id":"x'))


def _send(settings: Settings, lines: list[bytes], rate: float = 2000.0) -> None:
    """Paced like the demo's traffic (faster): a worker that keeps up scores in small
    batches. (A lead is scored once per batch and its score history keeps one entry per day,
    so a backlog folded in large batches leaves fewer days with a score to join outcomes
    with.)"""
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap, "linger.ms": 5,
                         "partitioner": "murmur2_random"})
    start = time.monotonic()
    for i, r in enumerate(route_lines(iter(lines), settings, settings.topic_website)):
        producer.produce(r.topic, key=r.key, value=r.value)
        if i % 100 == 99:
            producer.poll(0)
            ahead = i / rate - (time.monotonic() - start)
            if ahead > 0:
                time.sleep(ahead)
    assert producer.flush(30) == 0


def _figures(port: int) -> dict[str, float]:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    out: dict[str, float] = {}
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if 'lookback="7"' in name or name == "leadscore_drift_score_psi":
            out[name.split("{")[0]] = float(value)
    return out


def _wait_until_up(port: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2)
            return
        except OSError:
            time.sleep(0.3)
    raise AssertionError("the worker did not get ready")


def _settled(port: int, at_least: float = 1.0, timeout: float = 120.0) -> dict[str, float]:
    """The gauges once a table scan has exported them for ``at_least`` outcomes and the next
    scan says the same."""
    deadline, last = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        f = _figures(port)
        if f.get("leadscore_quality_outcomes", 0.0) >= at_least and f == last:
            return f
        last = f
        time.sleep(1.5)
    raise AssertionError(f"quality gauges did not settle: {last}")


def test_drifted_traffic_moves_the_calibration_and_drift_gauges(kafka, topic_prefix, tmp_path,
                                                                small_model):
    port = free_port()
    names, env = scorer_setup(kafka.bootstrap, topic_prefix, small_model,
                              idle_scan_seconds="1", web_port=str(port),
                              # no idle re-scores: they would add score days at scan times
                              idle_after_hours="100000")
    settings = Settings(kafka_bootstrap=kafka.bootstrap, **{
        f"topic_{k}": v for k, v in names.items() if k in (
            "website", "email", "product", "profile", "outcomes", "feedback")})
    baseline = _population(tmp_path)
    shifted = [_renamed(x) for x in drift_population(baseline)]
    topics = [names[k] for k in ("website", "email", "product", "profile", "outcomes",
                                 "feedback", "handoff")]
    with worker_process(env, tmp_path) as proc:
        _wait_until_up(port)
        _send(settings, baseline)
        wait_caught_up(kafka.bootstrap, f"{topic_prefix}-app", topics, timeout=180, settle=2)
        before = _settled(port)
        _send(settings, shifted)
        wait_caught_up(kafka.bootstrap, f"{topic_prefix}-app", topics, timeout=180, settle=2)
        n0 = before["leadscore_quality_outcomes"]
        # The worker joins a few outcomes fewer when it meets a backlog (bigger batches keep
        # fewer scored days): wait for most of them, then judge the count below.
        after = _settled(port, at_least=1.8 * n0)
        assert proc.poll() is None

    n = after["leadscore_quality_outcomes"]
    assert n0 >= 30, before  # the demo's traffic joins outcomes within its 30 simulated days
    observed0 = before["leadscore_quality_conversions"] / n0
    observed1 = after["leadscore_quality_conversions"] / n
    predicted0 = before["leadscore_quality_predicted"] / n0
    predicted1 = after["leadscore_quality_predicted"] / n
    print(f"baseline: {n0:.0f} outcomes, predicted {predicted0:.3f} observed {observed0:.3f}, "
          f"score PSI {before['leadscore_drift_score_psi']:.3f}; with the shifted half: {n:.0f}, "
          f"predicted {predicted1:.3f} observed {observed1:.3f}, score PSI "
          f"{after['leadscore_drift_score_psi']:.3f}")
    # the same outcomes judged, give or take the batches the worker happened to fold: a
    # backlog met at start-up makes bigger batches, fewer scored days, fewer joins (the same
    # baseline joined 59-66 outcomes in runs of this test, with either fetcher)
    assert abs(n - 2 * n0) <= 0.15 * n0 and abs(observed1 - observed0) < 0.03
    assert predicted1 > predicted0 + 0.01, (predicted0, predicted1, observed0)
    assert after["leadscore_drift_score_psi"] > before["leadscore_drift_score_psi"] + 0.05
