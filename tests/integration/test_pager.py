"""``leadscore pager`` on the real broker, delivering to a loopback receiver: routing by the
owners read from leads.profile, readable pages with the score change's reasons, exact re-sends
dropped, a dead webhook dead-lettered, a kill -9 in the middle of a batch and a broker
bounce without a duplicate page, and offsets committed once everything is delivered."""

from __future__ import annotations

import signal
import time
import urllib.request
from collections import Counter

from schemas import DeadLetterRecord, ReasonCode
from streams.local.kafka import free_port
from streams.local.receiver import Receiver, Reply
from tests.integration.consumers import (
    alert,
    caught_up,
    command,
    produce,
    profile_update,
    score_change,
    wait_for,
)
from tests.integration.helpers import consume, create_topics

CONFIG = """
[retry]
attempts = 2
first_delay_seconds = 0.05
max_delay_seconds = 0.1
timeout_seconds = 2

[webhooks.ana]
url = "{url}/ana"
[webhooks.ben]
url = "{url}/ben"
format = "json"
[webhooks.gone]
url = "http://127.0.0.1:{dead}/hook"

[[routes]]
name = "ana"
webhook = "ana"
match = {{ owner = "ana@example.com" }}
[[routes]]
name = "ben"
webhook = "ben"
match = {{ owner = "ben@example.com" }}
[[routes]]
name = "gone"
webhook = "gone"
"""


def test_pager_routes_and_survives_kill_9_and_a_broker_bounce_without_a_duplicate_page(
        own_kafka, topic_prefix, tmp_path):
    t = {k: f"{topic_prefix}.{k}" for k in ("alerts", "profile", "changes", "dlq")}
    create_topics(own_kafka.bootstrap, list(t.values()))
    leads = [f"lead-{i}" for i in range(30)]
    produce(own_kafka.bootstrap, t["profile"], [
        (lead, profile_update(lead, 0, owner="ben@example.com" if i % 2 else "ana@example.com",
                              company_name=f"Company {i}", job_title="VP of Engineering"))
        for i, lead in enumerate(leads)] + [("lead-x", profile_update("lead-x", 0,
                                                                     owner="gone@example.com"))])
    produce(own_kafka.bootstrap, t["changes"],
            [(lead, score_change(lead, 85, 1).to_bytes()) for lead in leads])
    first = [alert(lead, "ev-1") for lead in leads]
    produce(own_kafka.bootstrap, t["alerts"],
            [(a.lead_id, a.to_bytes()) for a in first]
            + [(a.lead_id, a.to_bytes()) for a in first[:5]]  # exact re-sends
            + [("lead-x", alert("lead-x", "ev-1").to_bytes()), ("lead-y", b"{not json")])

    metrics_port = free_port()
    env = {"LEADSCORE_KAFKA_BOOTSTRAP": own_kafka.bootstrap, "LEADSCORE_STATE_DIR": str(tmp_path),
           "LEADSCORE_TOPIC_ALERTS": t["alerts"], "LEADSCORE_TOPIC_PROFILE": t["profile"],
           "LEADSCORE_TOPIC_CHANGES": t["changes"], "LEADSCORE_TOPIC_PAGER_DEADLETTER": t["dlq"],
           "LEADSCORE_PAGER_GROUP": f"{topic_prefix}-pager",
           "LEADSCORE_PAGER_METRICS_PORT": str(metrics_port)}
    log = tmp_path / "pager.log"
    with Receiver() as receiver:
        config = tmp_path / "pager.toml"
        config.write_text(CONFIG.format(url=receiver.url(""), dead=free_port()))
        args = ["pager", "--config", str(config)]
        # The 10th request is held, then its connection dropped: the pager is killed while
        # it waits, after 9 pages delivered in a batch whose offsets are not committed.
        receiver.script(*[Reply()] * 9, Reply(drop=True, delay=6.0))
        with command(args, env, log) as proc:
            wait_for("the 10th request", lambda: receiver.arrived >= 10, proc=proc, log=log)
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
        assert len(receiver.pages) == 9

        def keys() -> Counter[str]:
            return Counter(p.headers["idempotency-key"] for p in receiver.pages)

        with command(args, env, log) as proc:
            wait_for("every first alert paged", lambda: len(keys()) == 30, proc=proc, log=log)
            own_kafka.bounce()
            second = [alert(lead, "ev-2") for lead in leads[:10]]
            produce(own_kafka.bootstrap, t["alerts"], [(a.lead_id, a.to_bytes()) for a in second]
                    + [(a.lead_id, a.to_bytes()) for a in first[5:10]])
            wait_for("the second alerts paged", lambda: len(keys()) == 40, timeout=90,
                     proc=proc, log=log)
            wait_for("offsets committed", caught_up(own_kafka.bootstrap, f"{topic_prefix}-pager",
                                                    t["alerts"]), timeout=60, proc=proc, log=log)
            with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics") as resp:
                exposition = resp.read().decode()
        time.sleep(0.5)
        pages = receiver.pages

    assert max(keys().values()) == 1, "a key was paged twice"
    assert {a.idempotency_key for a in first + second} == set(keys())
    by_lead = {p.headers["idempotency-key"]: p for p in pages}
    ana, ben = by_lead[first[0].idempotency_key], by_lead[first[1].idempotency_key]
    assert ana.path == "/ana" and ben.path == "/ben"
    assert "Hot lead: Company 0* (VP of Engineering)" in ana.json["text"]
    assert "• +18 Viewed the pricing page 3 times this week" in ana.json["text"]
    assert ben.json["lead"]["owner"] == "ben@example.com" and ben.json["reasons"]
    def codes(msgs: list) -> set[ReasonCode]:
        return {DeadLetterRecord.from_bytes(m.value()).reason_code for m in msgs}

    dead = [DeadLetterRecord.from_bytes(m.value()) for m in consume(
        own_kafka.bootstrap, t["dlq"], timeout=60,
        until=lambda m: codes(m) >= {ReasonCode.DELIVERY_FAILED, ReasonCode.UNPARSEABLE_JSON})]
    assert {d.reason_code for d in dead} == {ReasonCode.DELIVERY_FAILED,
                                             ReasonCode.UNPARSEABLE_JSON}
    # Dead letters are at least once: a record dead-lettered in the batch the kill -9
    # interrupted is dead-lettered again after the restart, as the same record, never another.
    for code in (ReasonCode.DELIVERY_FAILED, ReasonCode.UNPARSEABLE_JSON):
        assert len({d.original for d in dead if d.reason_code == code}) == 1, code
    failed = next(d for d in dead if d.reason_code == ReasonCode.DELIVERY_FAILED)
    assert failed.original == alert("lead-x", "ev-1").to_bytes()
    assert "connection refused after 2 attempts" in failed.message
    assert 'leadscore_pager_alerts_total{outcome="duplicate"}' in exposition
    assert "Traceback" not in log.read_text()
