"""The model topic against the real broker: workers with SEPARATE model folders (no shared
volume) converge on a version promoted through the topic, both refuse a bad artifact published
there while the old model keeps scoring, and a worker started later (an empty folder, as a new
pod) scores with the topic's current champion from its first batch."""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from confluent_kafka import Producer

from models import registry
from models.artifact import load
from models.publish import artifact_records, pointer_record
from schemas import ScoreChange
from streams.cli import main
from streams.local.kafka import free_port
from streams.settings import Settings, get_settings
from streams.worker import modeltopic
from tests.integration.helpers import (
    consume,
    scorer_setup,
    topic_size,
    wait_caught_up,
    worker_process,
)
from tests.variants import copy_into, fewer_trees


@pytest.fixture
def operator_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """In-process ``leadscore promote`` reads its settings from the environment."""
    get_settings.cache_clear()
    yield monkeypatch
    monkeypatch.undo()
    get_settings.cache_clear()


def _send(bootstrap: str, topic: str, first: int, n: int) -> None:
    """``n`` pricing-page views (each significant, each scored) of 10 leads."""
    producer = Producer({"bootstrap.servers": bootstrap, "partitioner": "murmur2_random"})
    start = datetime.now(UTC) - timedelta(hours=1)
    for i in range(first, first + n):
        lead = f"lead-{i % 10}"
        producer.produce(topic, key=lead.encode(), value=orjson.dumps({
            "event_id": f"e-{i}", "type": "page_view", "lead_id": lead, "source": "test",
            "occurred_at": (start + timedelta(seconds=i)).isoformat(), "schema_version": 2,
            "properties": {"url": "https://x.io/pricing", "path": "/pricing",
                           "page_category": "pricing"}}))
    assert producer.flush(30) == 0


def _wait_for(log: Path, text: str, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.exists() and text in log.read_text():
            return
        time.sleep(0.2)
    raise AssertionError(f"{text!r} not in {log.name}: "
                         f"{log.read_text()[-3000:] if log.exists() else ''}")


def _metrics(port: int) -> str:
    return urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()


def _changes(bootstrap: str, topic: str) -> list[ScoreChange]:
    total = topic_size(bootstrap, topic)
    return [ScoreChange.from_bytes(m.value())
            for m in consume(bootstrap, topic, until=lambda m: len(m) >= total)]


def test_workers_with_separate_folders_follow_the_model_topic(kafka, topic_prefix, tmp_path,
                                                              small_model, operator_env,
                                                              capsys):
    ops = tmp_path / "operator"  # the operator's registry: the only place models are trained
    a = copy_into(small_model, ops)
    b = fewer_trees(small_model, ops, trees=8)
    va, vb = load(a).version, load(b).version
    names, env = scorer_setup(kafka.bootstrap, topic_prefix, tmp_path / "unused",
                              min_score_change="0", model_check_seconds="0.5")
    for k in ("LEADSCORE_KAFKA_BOOTSTRAP", "LEADSCORE_APP_ID", "LEADSCORE_TOPIC_MODELS"):
        operator_env.setenv(k, env[k])
    # the first artifact published on an empty topic is the champion
    assert main(["promote", "--registry", str(ops), "--publish", str(a)]) == 0

    ports = [free_port(), free_port(), free_port()]
    folders = [tmp_path / f"w{i}" / "model" for i in range(3)]  # empty: nothing shared
    envs = [{**env, "LEADSCORE_MODEL_DIR": str(f), "LEADSCORE_WEB_PORT": str(p)}
            for f, p in zip(folders, ports, strict=True)]
    logs = [tmp_path / f"w{i}" / "worker.log" for i in range(3)]
    for log in logs:
        log.parent.mkdir()

    def scored(events: range) -> list[ScoreChange]:
        """The score changes caused by these events, once the group has read them all."""
        wait_caught_up(kafka.bootstrap, f"{topic_prefix}-app",
                       [names["website"], names["handoff"]], timeout=240, settle=1)
        ids = {f"e-{i}" for i in events}
        out = [c for c in _changes(kafka.bootstrap, names["changes"])
               if c.cause_event_id in ids]
        assert out, f"no score change caused by events {events}"
        return out

    _send(kafka.bootstrap, names["website"], 0, 40)
    with worker_process(envs[0], tmp_path / "w0") as w0, \
            worker_process(envs[1], tmp_path / "w1") as w1:
        for port in ports[:2]:  # each worker mirrored A from the topic and scores with it
            _wait_until(lambda p=port: f'leadscore_model_info{{version="{va}"}} 1.0'
                        in _metrics(p), f"model {va} on port {port}", logs[:2])
        assert {c.model_version for c in scored(range(0, 40))} == {va}

        # published (a new artifact on a topic with a champion): the champion stays
        assert main(["promote", "--registry", str(ops), "--publish", str(b)]) == 0
        assert "champion unchanged" in capsys.readouterr().out
        # promoted on the operator's machine: both workers swap, each from its own folder
        assert main(["promote", "--registry", str(ops), vb]) == 0
        for log in logs[:2]:
            _wait_for(log, f"model swapped: {va} -> {vb}")
        assert all((f / f"leadscore-{vb}" / "model.txt").exists() for f in folders[:2])
        assert all(registry.read_pointer(f).version == vb for f in folders[:2])  # type: ignore[union-attr]

        # a bad artifact published on the topic (its smoke scoring fails; promote would
        # have refused it): both workers refuse it and keep scoring with B
        bad = fewer_trees(small_model, tmp_path / "bad", trees=4)
        ex = orjson.loads((bad / registry.EXAMPLES).read_bytes())
        ex["probability"] = [p / 2 for p in ex["probability"]]
        (bad / registry.EXAMPLES).write_bytes(orjson.dumps(ex))
        vbad = load(bad).version
        modeltopic.publish(Settings(), [*artifact_records(bad), pointer_record(
            registry.Pointer(vbad, vb, None))])
        for log in logs[:2]:
            _wait_for(log, "model refused (smoke)")
        _send(kafka.bootstrap, names["website"], 40, 40)
        assert {c.model_version for c in scored(range(40, 80))} == {vb}
        for port in ports[:2]:
            m = _metrics(port)
            assert 'leadscore_model_refusals_total{reason="smoke"} 1.0' in m
            assert f'leadscore_model_info{{version="{vb}"}} 1.0' in m
        # rolling back on the operator's machine puts B back on the topic
        assert main(["promote", "--registry", str(ops), "--rollback"]) == 0
        assert registry.read_pointer(ops).version == vb  # type: ignore[union-attr]
        assert w0.poll() is None and w1.poll() is None

    # a worker started later, with an empty folder: the topic's champion from the start
    with worker_process(envs[2], tmp_path / "w2"):
        _wait_until(lambda: f'leadscore_model_info{{version="{vb}"}} 1.0'
                    in _metrics(ports[2]), f"the late worker's model {vb}", logs[2:])
        _send(kafka.bootstrap, names["website"], 80, 20)
        assert {c.model_version for c in scored(range(80, 100))} == {vb}
    assert "model refused" not in logs[2].read_text()


def _wait_until(ok, what: str, logs: list[Path], timeout: float = 180.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if ok():
                return
        except OSError:  # the web server is not up yet
            pass
        time.sleep(0.3)
    tails = "\n".join(f"{p.parent.name}: {p.read_text()[-1500:]}" for p in logs if p.exists())
    raise AssertionError(f"{what} not within {timeout:g} s\n{tails}")
