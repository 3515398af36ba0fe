"""`leadscore kafka start|status|stop` against a real broker process, twice in a row."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

from streams.local.kafka import free_port


def _cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "streams.cli", *args], env=env,
                          capture_output=True, text=True, timeout=180, stdin=subprocess.DEVNULL)


def test_start_status_stop_twice_and_second_start_finds_the_first(tmp_path):
    port = free_port()
    env = {**os.environ, "LEADSCORE_STATE_DIR": str(tmp_path), "LEADSCORE_KAFKA_PORT": str(port)}
    ctl = ["--controller-port", str(free_port())]
    try:
        for _ in range(2):
            started = _cli(["kafka", "start", *ctl], env)
            assert started.returncode == 0, started.stderr
            assert f"ready on 127.0.0.1:{port}" in started.stdout
            again = _cli(["kafka", "start", *ctl], env)
            assert again.returncode == 0 and "already running" in again.stdout
            st = _cli(["kafka", "status"], env)
            assert st.returncode == 0 and st.stdout.startswith("running: Kafka 4.")
            stopped = _cli(["kafka", "stop"], env)
            assert stopped.returncode == 0 and "stopped" in stopped.stdout
            st = _cli(["kafka", "status"], env)
            assert st.returncode == 3 and st.stdout.startswith("stopped")
    finally:
        _cli(["kafka", "stop"], env)


def test_start_on_a_port_taken_by_something_else_fails_with_one_line(tmp_path):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        env = {**os.environ, "LEADSCORE_STATE_DIR": str(tmp_path)}
        res = _cli(["kafka", "start", "--port", str(port)], env)
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert f"port {port} on 127.0.0.1 is already in use" in lines[0]
    assert "Traceback" not in res.stderr


def test_storage_formats_with_a_cluster_id_that_starts_with_a_dash(tmp_path, monkeypatch):
    """Random ids are URL-safe base64: 1 in 64 starts with '-' (a CI failure once)."""
    from streams.local import kafka as localkafka
    from streams.settings import Settings

    spec = localkafka.BrokerSpec(port=free_port(), controller_port=free_port(),
                                 state_dir=tmp_path, cache_dir=Settings().cache_dir)
    monkeypatch.setattr(localkafka, "_cluster_id", lambda: "-abcdefghijklmnopqrstu")
    libs = localkafka.fetch(spec)
    localkafka._render_config(spec)
    localkafka._format_storage(spec, localkafka.find_java(), localkafka._classpath(libs))
    assert "cluster.id=-abcdefghijklmnopqrstu" in (spec.data_dir / "meta.properties").read_text()


def test_topics_create_makes_what_is_missing_and_keeps_what_exists(kafka, topic_prefix):
    from confluent_kafka.admin import AdminClient, ConfigResource

    names = {k: f"{topic_prefix}.{k}" for k in ("website", "email", "product", "profile",
                                                 "outcomes", "feedback", "handoff", "changes",
                                                 "alerts", "deadletter", "shadow", "models")}
    env = {**os.environ, "LEADSCORE_KAFKA_BOOTSTRAP": kafka.bootstrap,
           "LEADSCORE_TOPIC_PARTITIONS": "3",
           **{f"LEADSCORE_TOPIC_{k.upper()}": v for k, v in names.items()}}
    first = _cli(["topics", "create"], env)
    assert first.returncode == 0, first.stderr
    assert "created 12" in first.stdout
    again = _cli(["topics", "create"], env)
    assert again.returncode == 0 and "created 0, 12 already there" in again.stdout
    admin = AdminClient({"bootstrap.servers": kafka.bootstrap})
    md = admin.list_topics(timeout=10).topics
    assert all(len(md[t].partitions) == 3 for k, t in names.items() if k != "models")
    assert len(md[names["models"]].partitions) == 1  # its records are read in order
    for compacted in ("changes", "models"):
        res = ConfigResource(ConfigResource.Type.TOPIC, names[compacted])
        config = admin.describe_configs([res])[res].result(timeout=10)
        assert config["cleanup.policy"].value == "compact"
    bad = _cli(["topics", "create", "--replication-factor", "x"], env)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1


def test_worker_with_a_replication_factor_the_cluster_refuses_is_one_line(
        kafka, small_model, topic_prefix, tmp_path):
    """One broker cannot hold 3 replicas: the worker's changelog topics cannot be created,
    and the worker says so in one line instead of a traceback."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADSCORE_")}
    env.update(LEADSCORE_KAFKA_BOOTSTRAP=kafka.bootstrap, LEADSCORE_MODEL_DIR=str(small_model),
               LEADSCORE_APP_ID=f"{topic_prefix}-app", LEADSCORE_STATE_DIR=str(tmp_path),
               LEADSCORE_TOPIC_REPLICATION_FACTOR="3", LEADSCORE_WEB_PORT=str(free_port()))
    res = _cli(["worker"], env)
    assert res.returncode == 2, res.stdout + res.stderr
    assert "Traceback" not in res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith(f"leadscore worker: cannot create changelog topic {topic_prefix}")
    assert "INVALID_REPLICATION_FACTOR" in lines[0]
    assert lines[0].endswith("(LEADSCORE_TOPIC_REPLICATION_FACTOR; README: Permissions)")
