"""`leadscore produce` delivers a file to the real broker: right topics, right keys, all lines."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson

from tests.integration.helpers import consume, create_topics

EXAMPLES = Path(__file__).resolve().parents[2] / "schemas" / "examples"


def test_produce_sends_each_line_to_its_topic_with_its_key(kafka, topic_prefix, tmp_path):
    names = {k: f"{topic_prefix}.{k}" for k in ("website", "email", "product", "profile",
                                                  "outcomes")}
    create_topics(kafka.bootstrap, list(names.values()), partitions=2)
    lines = [(EXAMPLES / f"{n}.json").read_bytes().replace(b"\n", b"") for n in
             ("page_view", "identify", "email_click", "trial_started", "profile_update",
              "converted")]
    lines.append(b"{broken json")
    events = tmp_path / "events.jsonl"
    events.write_bytes(b"\n".join(lines) + b"\n")
    env = {**os.environ, "LEADSCORE_KAFKA_BOOTSTRAP": kafka.bootstrap,
           **{f"LEADSCORE_TOPIC_{k.upper()}": v for k, v in names.items()}}
    res = subprocess.run([sys.executable, "-m", "streams.cli", "produce", "--events",
                          str(events)], env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert "sent 7 messages" in res.stdout and "1 invalid" in res.stdout

    web = consume(kafka.bootstrap, names["website"], until=lambda m: len(m) >= 3, timeout=60)
    by_value = {m.value(): m.key() for m in web}
    assert by_value[b"{broken json"] is None
    keyed = {orjson.loads(v)["type"]: k for v, k in by_value.items() if v != b"{broken json"}
    # The example page view is anonymous; identify is keyed by its anonymous id too.
    assert keyed == {"page_view": b"anon-4b1d9e0f", "identify": b"anon-4b1d9e0f"}
    for topic, etype in (("email", "email_click"), ("product", "trial_started"),
                         ("profile", "profile_update"), ("outcomes", "converted")):
        [msg] = consume(kafka.bootstrap, names[topic], until=lambda m: len(m) >= 1, timeout=60)
        assert orjson.loads(msg.value())["type"] == etype
        assert msg.key() == orjson.loads(msg.value())["lead_id"].encode()
