"""SASL_SSL (SCRAM-SHA-512 and PLAIN) and mutual TLS against a real Kafka with those listeners.

The run's broker (tests/conftest.py) listens, beside PLAINTEXT, with SASL_SSL (a SCRAM-SHA-512
user added when its storage is formatted, and a PLAIN user) and with SSL that requires a client
certificate; certificates and passwords are made fresh for each run (tests/tls.py), so finding
one in a log can only mean a leak.

- The right credentials score events end to end through a real worker: SCRAM through
  ``leadscore demo --bootstrap`` (topics, worker, traffic, read-back), PLAIN and mutual TLS
  through ``leadscore topics create``, ``leadscore produce`` and ``leadscore worker`` (at debug
  log level); the bench's clients over SCRAM.
- A wrong password, a broker certificate the client does not trust and a client certificate
  the broker does not trust (or none) each end in one line and exit status 2.
- No password appears in any output or log of these tests, nor in the broker's log.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from confluent_kafka import Consumer

from schemas import ScoreChange
from streams.kafkaconfig import client_config, wait_for_brokers
from streams.local import kafka as localkafka
from streams.settings import Settings
from tests.conftest import Broker
from tests.integration.helpers import worker_process
from tests.tls import SecureListeners, secured

# Every topic `leadscore topics create` makes, each under the test's own prefix: a shared
# name (the model topic's default) would be created by whichever test ran first.
TOPICS = ("website", "email", "product", "profile", "outcomes", "feedback", "handoff", "changes",
          "alerts", "deadletter", "shadow", "models")


@pytest.fixture(scope="module")
def secure(kafka: Broker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureListeners]:
    """The run's broker's secure listeners (tests/conftest.py); a broker of its own only when
    KAFKA_BOOTSTRAP names a broker of yours, which has none."""
    if kafka.secure is not None:
        yield kafka.secure
        return
    settings = Settings()
    spec, listeners = secured(localkafka.BrokerSpec(
        port=localkafka.free_port(), controller_port=localkafka.free_port(),
        state_dir=tmp_path_factory.mktemp("secure-kafka"), cache_dir=settings.cache_dir,
        version=settings.kafka_version, heap_mb=384))
    localkafka.start(spec, tied_to_parent=True)
    try:
        yield listeners
    finally:
        localkafka.stop(spec, grace=20)


def _cli(args: list[str], env: dict[str, str], cwd: Path,
         timeout: float = 120) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("LEADSCORE_")}
    return subprocess.run([sys.executable, "-m", "streams.cli", *args], env={**base, **env},
                          capture_output=True, text=True, timeout=timeout, cwd=cwd,
                          stdin=subprocess.DEVNULL)


def _no_secret(secure: SecureListeners, *texts: str) -> None:
    """No password in ``texts``, nor in the broker's log as it is now."""
    for text in (*texts, secure.broker_log.read_text(errors="replace")):
        for secret in secure.secrets:
            assert secret not in text, "a secret was printed or logged"


def _topic_env(prefix: str, model: Path) -> dict[str, str]:
    return {"LEADSCORE_APP_ID": f"{prefix}-app", "LEADSCORE_MODEL_DIR": str(model),
            **{f"LEADSCORE_TOPIC_{k.upper()}": f"{prefix}.{k}" for k in TOPICS}}


def _pricing_views(leads: list[str]) -> bytes:
    at = datetime.now(UTC) - timedelta(hours=2)
    return b"".join(orjson.dumps({
        "event_id": f"{lead}-pricing", "type": "page_view", "lead_id": lead, "source": "test",
        "occurred_at": (at + timedelta(minutes=i)).isoformat(), "schema_version": 2,
        "properties": {"url": "https://x.io/pricing", "path": "/pricing",
                       "page_category": "pricing"}}) + b"\n" for i, lead in enumerate(leads))


def _read_changes(env: dict[str, str], topic: str, leads: set[str],
                  timeout: float = 120) -> set[str]:
    """Lead ids of the score changes on ``topic``, read with the same security settings."""
    s = Settings(**{k.removeprefix("LEADSCORE_").lower(): v for k, v in env.items()
                    if k.startswith("LEADSCORE_KAFKA_")})  # type: ignore[arg-type]
    consumer = Consumer({**client_config(s), "group.id": f"reader-{uuid.uuid4().hex}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([topic])
    seen: set[str] = set()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and not leads <= seen:
            msg = consumer.poll(0.5)
            if msg is not None and msg.error() is None and msg.value():
                seen.add(ScoreChange.from_bytes(msg.value()).lead_id)
    finally:
        consumer.close()
    return seen


@pytest.mark.parametrize("mode", ["plain", "mtls"])
def test_topics_produce_and_worker_score_end_to_end(secure: SecureListeners, mode: str,
                                                    topic_prefix: str, small_model: Path,
                                                    tmp_path: Path) -> None:
    env = {**secure.env(mode), **_topic_env(topic_prefix, small_model)}
    created = _cli(["topics", "create"], env, tmp_path)
    assert created.returncode == 0, created.stderr
    assert "created 12 (" in created.stdout and ", 0 already there" in created.stdout
    leads = [f"{mode}-lead-{i}" for i in range(5)]
    events = tmp_path / "events.jsonl"
    events.write_bytes(_pricing_views(leads))
    sent = _cli(["produce", "--events", str(events)], env, tmp_path)
    assert sent.returncode == 0, sent.stderr
    assert "sent 5 messages" in sent.stdout

    # At debug level, so that the check below also covers what Faust and aiokafka log while
    # connecting and authenticating.
    with worker_process({**env, "LEADSCORE_LOG_LEVEL": "debug"}, tmp_path) as proc:
        seen = _read_changes(env, f"{topic_prefix}.changes", set(leads))
        log = (tmp_path / "worker.log").read_text()
        assert proc.poll() is None, log[-3000:]
    assert seen == set(leads), log[-3000:]
    assert "[DEBUG]" in log
    if mode == "plain":  # the request that carries the password was logged, redacted
        assert "SaslAuthenticateRequest" in log and "***" in log
    _no_secret(secure, created.stdout, created.stderr, sent.stdout, sent.stderr, log)


def test_demo_streams_through_sasl_ssl_scram(secure: SecureListeners, topic_prefix: str,
                                             small_model: Path, tmp_path: Path) -> None:
    env = {**secure.env("scram"), **_topic_env(topic_prefix, small_model),
           "LEADSCORE_STATE_DIR": str(tmp_path),
           "LEADSCORE_WEB_PORT": str(localkafka.free_port())}
    # --duration counts from the start of the traffic thread, which first simulates a
    # population in a subprocess: under a loaded test run that took more than 15 s.
    res = _cli(["demo", "--bootstrap", env["LEADSCORE_KAFKA_BOOTSTRAP"], "--duration", "40",
                "--rate", "100", "--leads", "60"], env, tmp_path, timeout=400)
    log = (tmp_path / "demo-worker.log")
    worker_log = log.read_text() if log.exists() else ""
    detail = res.stdout[-3000:] + res.stderr[-2000:] + worker_log[-2000:]
    assert res.returncode == 0, detail
    assert "(SASL_SSL; --bootstrap: not started, not stopped by the demo)" in res.stdout
    changes = re.search(r"^  score changes\s+([\d,]+)", res.stdout, re.M)  # the summary
    latency = re.search(r"latency p50 [\d,]+ ms, p99 [\d,.]+ (?:ms|s) over ([\d,]+) score",
                        res.stdout)
    assert changes and int(changes.group(1).replace(",", "")) > 0, detail
    assert latency and int(latency.group(1).replace(",", "")) > 0, detail
    _no_secret(secure, res.stdout, res.stderr, worker_log)
    # The demo left the broker it did not start running.
    wait_for_brokers(Settings(**{k.removeprefix("LEADSCORE_").lower(): v  # type: ignore[arg-type]
                                 for k, v in secure.env("scram").items()}), timeout=10)


def test_bench_clients_use_the_security_settings(secure: SecureListeners, topic_prefix: str,
                                                 tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The bench's set-up, pre-load and lag probe over SASL_SSL (SCRAM): it uses the cluster
    it is given, with the security settings, rather than falling back to a local broker."""
    from streams.bench.prepare import Run, create_topics, ensure_broker, preload, topic_settings
    from streams.local.lag import LagProbe

    env = secure.env("scram")
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    run = Run(tmp_path)
    ensure_broker(run, env["LEADSCORE_KAFKA_BOOTSTRAP"], 2)
    assert run.spec is None and run.bootstrap == env["LEADSCORE_KAFKA_BOOTSTRAP"]
    assert run.client["security.protocol"] == "SASL_SSL"
    s = topic_settings(topic_prefix, run.bootstrap, 2)
    create_topics(run, s.input_topics, [], 2)
    preload(run.client, _pricing_views(["bench-a", "bench-b"]).splitlines(), [s])
    probe = LagProbe(run.client, f"{topic_prefix}-group", [s.topic_website])
    try:
        assert probe.lag() is None  # a group that has committed nothing, read over SASL_SSL
    finally:
        probe.close()
    consumer = Consumer({**run.client, "group.id": f"{topic_prefix}-reader",
                         "auto.offset.reset": "earliest"})
    consumer.subscribe([s.topic_website])
    got: list[bytes] = []
    deadline = time.monotonic() + 60
    while len(got) < 2 and time.monotonic() < deadline:
        msg = consumer.poll(0.5)
        if msg is not None and msg.error() is None:
            got.append(msg.key() or b"")
    consumer.close()
    assert sorted(got) == [b"bench-a", b"bench-b"]


def _refused(res: subprocess.CompletedProcess[str], command: str) -> str:
    assert res.returncode == 2, res.stdout + res.stderr
    assert "Traceback" not in res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith(f"leadscore {command}: ")
    return lines[0]


@pytest.mark.parametrize(("command", "mode"), [
    (["worker"], "scram"), (["produce", "--events", "EVENTS"], "plain"),
    (["topics", "create"], "scram"),
], ids=["worker-scram", "produce-plain", "topics-create-scram"])
def test_a_wrong_password_is_one_line(secure: SecureListeners, command: list[str], mode: str,
                                      tmp_path: Path, small_model: Path) -> None:
    wrong = f"not-the-password-{uuid.uuid4().hex[:8]}"
    events = tmp_path / "events.jsonl"
    events.write_bytes(_pricing_views(["x"]))
    args = [str(events) if a == "EVENTS" else a for a in command]
    env = secure.env(mode, LEADSCORE_KAFKA_SASL_PASSWORD=wrong, LEADSCORE_STATE_DIR=str(tmp_path),
                     LEADSCORE_MODEL_DIR=str(small_model))
    res = _cli(args, env, tmp_path)
    line = _refused(res, command[0])
    mechanism = "SCRAM-SHA-512" if mode == "scram" else "PLAIN"
    user = secure.scram[0] if mode == "scram" else secure.plain[0]
    assert (f"Kafka at {env['LEADSCORE_KAFKA_BOOTSTRAP']} refused the {mechanism} credentials "
            f"of user '{user}': SASL authentication error") in line, line
    assert line.endswith("(LEADSCORE_KAFKA_SASL_USERNAME, LEADSCORE_KAFKA_SASL_PASSWORD)")
    assert wrong not in res.stdout + res.stderr
    _no_secret(secure, res.stdout, res.stderr)


@pytest.mark.parametrize(("mode", "override", "reason"), [
    ("plain", "rogue-ca", "certificate verify failed"),
    ("mtls", "rogue-client", "alert"),
    ("mtls", "no-client-cert", "alert"),
], ids=["broker-cert-not-trusted", "client-cert-not-trusted", "no-client-cert"])
def test_an_untrusted_certificate_is_one_line(secure: SecureListeners, mode: str, override: str,
                                              reason: str, tmp_path: Path) -> None:
    certs = secure.certs
    env = secure.env(mode, LEADSCORE_STATE_DIR=str(tmp_path))
    if override == "rogue-ca":
        env["LEADSCORE_KAFKA_SSL_CA_FILE"] = str(certs.rogue_ca)
    elif override == "rogue-client":
        env.update(LEADSCORE_KAFKA_SSL_CERT_FILE=str(certs.rogue_client_cert),
                   LEADSCORE_KAFKA_SSL_KEY_FILE=str(certs.rogue_client_key))
        del env["LEADSCORE_KAFKA_SSL_KEY_PASSWORD"]
    else:
        for k in ("CERT_FILE", "KEY_FILE", "KEY_PASSWORD"):
            del env[f"LEADSCORE_KAFKA_SSL_{k}"]
    res = _cli(["worker"], env, tmp_path)
    line = _refused(res, "worker")
    assert f"TLS handshake with Kafka at {env['LEADSCORE_KAFKA_BOOTSTRAP']} failed: " in line
    assert reason in line and line.endswith(
        "(LEADSCORE_KAFKA_SSL_CA_FILE, LEADSCORE_KAFKA_SSL_CERT_FILE, "
        "LEADSCORE_KAFKA_SSL_KEY_FILE)"), line
    _no_secret(secure, res.stdout, res.stderr)
