"""Hot swap under load against the real broker: a worker scoring live traffic is pointed at
another model (``leadscore promote``) and swaps it in between batches. Nothing is lost (the
table equals a replay's), every output after the first of the new version carries it, each
output equals a replay's probability under the version it names (1e-9), and a bad artifact
is refused while the old model keeps scoring."""

from __future__ import annotations

import threading
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
from confluent_kafka import Producer

from models import registry
from models.artifact import load
from models.state import state_to_bytes
from schemas import ScoreChange
from streams.cli import main
from streams.commands.replay import run as replay
from streams.core.processing import Message
from streams.core.record import LeadRecord
from streams.local.kafka import free_port
from streams.runtime import build_processor
from streams.settings import Settings
from tests.integration.helpers import (
    consume,
    read_table,
    scorer_setup,
    topic_size,
    wait_caught_up,
    worker_process,
)
from tests.variants import copy_into, fewer_trees

LEADS, EVENTS, BACKLOG, SWAP_AT = 40, 1200, 300, 700
START = datetime.now(UTC) - timedelta(hours=6)


def _events() -> list[tuple[bytes, bytes]]:
    """Pricing-page views only (each significant, so each batch scores a lead's last event)."""
    out = []
    for n in range(EVENTS):
        lead = f"lead-{n % LEADS}"
        at = START + timedelta(seconds=10 * n)
        out.append((lead.encode(), orjson.dumps({
            "event_id": f"e-{n}", "type": "page_view", "occurred_at": at.isoformat(),
            "lead_id": lead, "source": "test", "schema_version": 2,
            "properties": {"url": "https://x.io/pricing", "path": "/pricing",
                           "page_category": "pricing"}})))
    return out


def _replayed(model: Path, events: list[tuple[bytes, bytes]]):  # type: ignore[no-untyped-def]
    """Each event's probability under ``model`` (one event per batch, every score emitted),
    and the final table."""
    s = Settings(model_dir=model, min_score_change=0)
    proc = build_processor(s)
    msgs = [Message(s.topic_website, 0, i, k, v) for i, (k, v) in enumerate(events)]
    tables, outputs = replay(proc, msgs, batch_size=1)
    probs = {}
    for o in outputs:
        if o.topic == s.topic_changes:
            c = orjson.loads(o.value)
            probs[c["cause_event_id"]] = c["probability"]
    return probs, tables


def _wait_for(log: Path, text: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.exists() and text in log.read_text():
            return
        time.sleep(0.2)
    raise AssertionError(f"{text!r} not in the worker's log: "
                         f"{log.read_text()[-2000:] if log.exists() else ''}")


def test_swap_under_load_loses_nothing_and_switches_every_output(kafka, topic_prefix,
                                                                  tmp_path, small_model):
    root = tmp_path / "registry"
    a = copy_into(small_model, root)
    b = fewer_trees(small_model, root, trees=8)
    va, vb = load(a).version, load(b).version
    assert main(["promote", "--local", "--registry", str(root), va]) == 0
    port = free_port()
    names, env = scorer_setup(kafka.bootstrap, topic_prefix, root, min_score_change="0",
                              model_check_seconds="0.5", web_port=str(port),
                              idle_scan_seconds="1")
    events = _events()
    producer = Producer({"bootstrap.servers": kafka.bootstrap, "partitioner": "murmur2_random",
                         "linger.ms": 5})
    sent, swapped = threading.Event(), threading.Event()

    def send(part: list[tuple[bytes, bytes]], pace: float) -> None:
        for i, (k, v) in enumerate(part):
            producer.produce(names["website"], key=k, value=v)
            if i % 20 == 19:
                producer.poll(0)
                time.sleep(pace)
        producer.flush(30)

    def stream() -> None:
        # traffic flows while the bad champion is refused and B is promoted; the rest
        # follows the swap, so both versions score part of it
        send(events[BACKLOG:SWAP_AT], 0.1)
        swapped.wait(60)
        send(events[SWAP_AT:], 0.02)
        sent.set()

    send(events[:BACKLOG], 0)  # a backlog: the worker starts under load
    with worker_process(env, tmp_path) as proc:
        consume(kafka.bootstrap, names["changes"], until=lambda m: len(m) >= 1, timeout=120)
        sender = threading.Thread(target=stream)
        sender.start()
        # a bad champion first (its smoke scoring fails): refused, A keeps scoring
        bad = fewer_trees(small_model, root, trees=4)
        ex = orjson.loads((bad / registry.EXAMPLES).read_bytes())
        ex["probability"] = [p / 2 for p in ex["probability"]]
        (bad / registry.EXAMPLES).write_bytes(orjson.dumps(ex))
        assert main(["promote", "--local", "--registry", str(root), bad.name]) == 2  # checks
        (root / registry.POINTER).write_bytes(orjson.dumps({"version": load(bad).version}))
        _wait_for(tmp_path / "worker.log", "model refused (smoke)")
        assert main(["promote", "--local", "--registry", str(root), vb]) == 0
        _wait_for(tmp_path / "worker.log", f"model swapped: {va} -> {vb}")
        swapped.set()
        sender.join()
        assert sent.is_set()
        wait_caught_up(kafka.bootstrap, f"{topic_prefix}-app",
                       [names["website"], names["handoff"]], timeout=120, settle=3)
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics",
                                         timeout=5).read().decode()
        assert proc.poll() is None, (tmp_path / "worker.log").read_text()[-3000:]
    assert 'leadscore_model_refusals_total{reason="smoke"} 1.0' in metrics
    assert 'leadscore_model_swaps_total{outcome="swapped"} 1.0' in metrics
    assert f'leadscore_model_info{{version="{vb}"}} 1.0' in metrics
    # the table scan's drift figures, on the recent scored rows (both models' features)
    rows = [x for x in metrics.splitlines() if x.startswith("leadscore_drift_rows ")]
    assert rows and float(rows[0].split()[1]) >= 200, rows
    assert sum(x.startswith("leadscore_drift_psi{") for x in metrics.splitlines()) >= 10
    log = (tmp_path / "worker.log").read_text()
    assert f"model swapped: {va} -> {vb}" in log, log[-3000:]

    total = topic_size(kafka.bootstrap, names["changes"])
    changes = consume(kafka.bootstrap, names["changes"], until=lambda m: len(m) >= total)
    outs = [ScoreChange.from_bytes(m.value()) for m in changes]
    first_b = min(c.emitted_at for c in outs if c.model_version == vb)
    assert {c.model_version for c in outs} == {va, vb}
    late_a = [c for c in outs if c.model_version == va and c.emitted_at > first_b]
    assert not late_a, "an output computed after the swap carries the old version"

    pa, table_a = _replayed(a, events)
    pb, _ = _replayed(b, events)
    by_version = {va: pa, vb: pb}
    assert sum(1 for c in outs if c.model_version == vb
               and abs(pa[c.cause_event_id] - pb[c.cause_event_id]) > 1e-3) > 10
    for c in outs:
        assert abs(c.probability - by_version[c.model_version][c.cause_event_id]) <= 1e-9

    # nothing lost, nothing folded twice: the worker's table equals the replay's
    table = read_table(kafka.bootstrap, f"{topic_prefix}-app-leads-changelog")
    assert sorted(table) == sorted(table_a.leads)
    for key, raw in table.items():
        assert (state_to_bytes(LeadRecord.from_bytes(raw).state)
                == state_to_bytes(LeadRecord.from_bytes(table_a.leads[key]).state)), key


def test_a_challenger_in_shadow_scores_the_same_rows_and_never_pages(kafka, topic_prefix,
                                                                      tmp_path, small_model):
    root = tmp_path / "registry"
    a = copy_into(small_model, root)
    b = fewer_trees(small_model, root, trees=8)
    va, vb = load(a).version, load(b).version
    assert main(["promote", "--local", "--registry", str(root), va]) == 0
    assert main(["promote", "--local", "--registry", str(root), "--shadow", vb]) == 0
    names, env = scorer_setup(kafka.bootstrap, topic_prefix, root, min_score_change="0",
                              model_check_seconds="0.5")
    events = _events()[:200]
    producer = Producer({"bootstrap.servers": kafka.bootstrap, "partitioner": "murmur2_random"})
    for k, v in events:
        producer.produce(names["website"], key=k, value=v)
    assert producer.flush(30) == 0
    with worker_process(env, tmp_path) as proc:
        wait_caught_up(kafka.bootstrap, f"{topic_prefix}-app",
                       [names["website"], names["handoff"]], timeout=120, settle=2)
        # promoting the challenger makes it the champion and ends the shadow
        assert main(["promote", "--local", "--registry", str(root), vb]) == 0
        _wait_for(tmp_path / "worker.log", f"model swapped: {va} -> {vb}")
        assert proc.poll() is None
    n_changes = topic_size(kafka.bootstrap, names["changes"])
    shadow = [orjson.loads(m.value()) for m in consume(
        kafka.bootstrap, names["shadow"],
        until=lambda m: len(m) >= topic_size(kafka.bootstrap, names["shadow"]))]
    assert len(shadow) == n_changes > 0, "one shadow score per champion score"
    pa, _ = _replayed(a, events)
    pb, _ = _replayed(b, events)
    for s in shadow:
        assert (s["model_version"], s["champion_version"]) == (vb, va)
        assert abs(s["probability"] - pb[s["cause_event_id"]]) <= 1e-9
        assert abs(s["champion_probability"] - pa[s["cause_event_id"]]) <= 1e-9
    alerts = consume(kafka.bootstrap, names["alerts"],
                     until=lambda m: len(m) >= topic_size(kafka.bootstrap, names["alerts"]))
    assert all(orjson.loads(m.value())["model_version"] == va for m in alerts)
