"""``leadscore demo`` end to end on the session broker: it must find the running broker (and
leave it running), start its own worker, stream traffic, read scores back and report the
throughput and latency it measured."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys

from streams.local import kafka as localkafka


def test_demo_streams_scores_reports_latency_and_leaves_a_foreign_broker_running(
        kafka, small_model, topic_prefix, tmp_path):
    port = kafka.bootstrap.rsplit(":", 1)[1]
    env = {**os.environ,
           "LEADSCORE_KAFKA_BOOTSTRAP": kafka.bootstrap,
           "LEADSCORE_KAFKA_PORT": port,
           "LEADSCORE_MODEL_DIR": str(small_model),
           "LEADSCORE_APP_ID": f"{topic_prefix}-app",
           "LEADSCORE_STATE_DIR": str(tmp_path),
           "LEADSCORE_WEB_PORT": str(localkafka.free_port()),
           "LEADSCORE_PAGER_GROUP": f"{topic_prefix}-pager",
           "LEADSCORE_CRM_GROUP": f"{topic_prefix}-crm",
           "LEADSCORE_TOPIC_PAGER_DEADLETTER": f"{topic_prefix}.alerts.deadletter",
           "LEADSCORE_TOPIC_CRM_DEADLETTER": f"{topic_prefix}.changes.deadletter",
           **{f"LEADSCORE_TOPIC_{k.upper()}": f"{topic_prefix}.{k}" for k in
              ("website", "email", "product", "profile", "outcomes", "handoff", "changes",
               "alerts", "deadletter")}}
    res = subprocess.run(
        [sys.executable, "-m", "streams.cli", "demo", "--duration", "45", "--rate", "200",
         "--leads", "300"],
        env=env, capture_output=True, text=True, timeout=400, stdin=subprocess.DEVNULL)
    log = tmp_path / "demo-worker.log"
    detail = res.stdout[-3000:] + res.stderr[-3000:] + (
        log.read_text()[-2000:] if log.exists() else "")
    assert res.returncode == 0, detail
    out = res.stdout
    assert "already running" in out and "Kafka stopped" not in out, detail
    assert "model: " in out and "(reused" in out, "the test's model is used, never retrained"
    # Not a terminal: one status line per 5 s instead of a redrawn screen.
    assert "\x1b[2J" not in out and re.search(r"^\[0m\d\ds\] sent ", out, re.M), detail

    sent = re.search(r"events sent\s+([\d,]+) in [\d.]+ s = ([\d,]+) events/s sustained", out)
    changes = re.search(r"^  score changes\s+([\d,]+)", out, re.M)  # the summary's line
    latency = re.search(r"latency p50 ([\d,]+) ms, p99 ([\d,.]+ (?:ms|s)) over ([\d,]+) score",
                        out)
    assert sent and changes and latency, detail
    assert int(sent.group(1).replace(",", "")) > 0
    assert int(changes.group(1).replace(",", "")) > 0
    assert int(latency.group(3).replace(",", "")) > 0, "latency measured on real score changes"
    assert "worker stopped" in out
    assert re.search(r"dead letters\s+[\d,]+ \(the simulated traffic includes ~[\d,]+ "
                     r"deliberately invalid lines", out), detail
    # The worker's log is a file: no spinner escape codes or backspaces from Faust.
    worker_log = log.read_text()
    assert "\x1b[" not in worker_log and "\b" not in worker_log, worker_log[:500]
    # Table writes go per batch through the worker's own producer, never Faust's buffer.
    assert "producer buffer full" not in worker_log, worker_log[-2000:]
    # Downstream: the pager delivered the alerts to the demo's receiver, crm-sync kept the table.
    alerts = re.search(r"^  alerts\s+([\d,]+)", out, re.M)
    pages = re.search(r"pages delivered\s+([\d,]+)", out)
    crm = re.search(r"CRM table\s+([\d,]+) leads", out)
    assert alerts and pages and crm, detail
    if int(alerts.group(1).replace(",", "")):
        assert int(pages.group(1).replace(",", "")) > 0, detail
        assert "the latest page:" in out and "score" in out.split("the latest page:")[1]
    with sqlite3.connect(tmp_path / "crm.sqlite3") as db:
        rows = db.execute("SELECT count(*), min(length(reasons)) FROM lead_scores").fetchone()
    assert rows[0] == int(crm.group(1).replace(",", "")) > 0 and rows[1] > 0
    assert localkafka.port_in_use(int(port)), "the demo must not stop a broker it did not start"
    localkafka.wait_ready(kafka.bootstrap, timeout=10)
