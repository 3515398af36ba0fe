"""The compacted scores.changes holds every lead's current score, under DEFAULT settings
(MIN_SCORE_CHANGE 3): a CRM reading the last message per lead is within MIN_SCORE_CHANGE of
the worker's own score, with its tier, and exactly what the worker recorded as published.
Before, small steps added up unseen (65 of 1,497 leads were 3-7 points off)."""

from __future__ import annotations

import math
import os
import subprocess

import orjson
from confluent_kafka import Consumer, TopicPartition

from models.state import T
from schemas import ScoreChange
from streams.core.record import LEAD, LeadRecord
from streams.settings import Settings
from tests.integration.helpers import (
    admin_client,
    consume,
    read_table,
    scorer_setup,
    wait_caught_up,
    worker_process,
)
from tests.integration.test_delivery import history  # noqa: F401 - the module's fixture

CONSUMED = ("website", "email", "product", "profile", "outcomes", "handoff")


def last_per_key(bootstrap: str, topic: str) -> dict[str, ScoreChange]:
    """What a compacted topic's reader ends with: the last message per key."""
    probe = Consumer({"bootstrap.servers": bootstrap, "group.id": f"{topic}-probe"})
    parts = admin_client(bootstrap).list_topics(timeout=10).topics[topic].partitions
    total = sum(probe.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
                for p in parts)
    probe.close()
    last: dict[str, ScoreChange] = {}
    for m in consume(bootstrap, topic, until=lambda got: len(got) >= total, timeout=60):
        last[m.key().decode()] = ScoreChange.from_bytes(m.value())
    return last


def test_last_score_change_per_lead_is_the_current_score_under_default_settings(
        kafka, topic_prefix, tmp_path, small_model, history):  # noqa: F811
    names, env = scorer_setup(kafka.bootstrap, topic_prefix, small_model)
    assert "LEADSCORE_MIN_SCORE_CHANGE" not in env
    settings = Settings(**{k.removeprefix("LEADSCORE_").lower(): v for k, v in env.items()})
    min_change = settings.min_score_change
    assert min_change == 3
    with worker_process(env, tmp_path):
        res = subprocess.run([os.sys.executable, "-m", "streams.cli", "produce", "--events",
                              str(history)], env={**os.environ, **env}, capture_output=True,
                             text=True, timeout=300)
        assert res.returncode == 0, res.stderr
        wait_caught_up(kafka.bootstrap, f"{topic_prefix}-app", [names[k] for k in CONSUMED])
    last = last_per_key(kafka.bootstrap, names["changes"])
    table = read_table(kafka.bootstrap, f"{topic_prefix}-app-leads-changelog")
    records = {k[len(LEAD):]: LeadRecord.from_bytes(v) for k, v in table.items()
               if k.startswith(LEAD)}
    scored = {lead: r for lead, r in records.items() if r.score is not None}
    assert len(scored) > 500
    assert scored.keys() == last.keys()
    for lead, rec in scored.items():
        msg = last[lead]
        # The state and the topic agree on what was published...
        assert (msg.score, msg.probability) == (rec.published_score, rec.published_probability)
        # ...and it is the lead's current score, within MIN_SCORE_CHANGE, with its tier.
        assert abs(msg.score - rec.score) < min_change, (lead, msg.score, rec.score)
        assert msg.tier == rec.tier, lead

    # replay --emit and replay's final scores on the same file, same (default) settings.
    emit, out = tmp_path / "emit.jsonl", tmp_path / "scores.jsonl"
    res = subprocess.run([os.sys.executable, "-m", "streams.cli", "replay", "--events",
                          str(history), "--emit", str(emit), "--out", str(out)],
                         env={**os.environ, **env}, capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, res.stderr
    final = {d["lead_id"]: d["score"] for d in map(orjson.loads, out.read_bytes().splitlines())}
    replay_last: dict[str, ScoreChange] = {}
    for doc in map(orjson.loads, emit.read_bytes().splitlines()):
        assert doc["topic"] in (names["changes"], names["alerts"])
        if doc["topic"] == names["changes"]:
            change = ScoreChange.model_validate(doc["value"])
            assert doc["key"] == change.lead_id
            replay_last[change.lead_id] = change
    # Replay scores a lead the worker scored, except one whose outcome (converted, lost) came
    # in the same replay batch as its first significant event: closed before it was scored.
    assert replay_last.keys() <= last.keys()
    for lead in last.keys() - replay_last.keys():
        assert not math.isnan(records[lead].state.closed_at), lead
    on_final = {lead for lead, r in records.items() if r.scored_at == r.state.ts[T["last"]]}
    compared = 0
    for lead, score in final.items():
        if lead not in on_final:
            # Its last events were not significant, so the worker (by design) has not scored
            # the state they made: replay's final score is of a later state. Which events
            # share a batch with the last significant one depends on the worker's timing, so
            # this held on some runs and not others (7 points off on one lead). The topic
            # against the worker's own score is checked above for every lead.
            continue
        compared += 1
        # What a CRM reads is the lead's final score (replay's, from the same final state as
        # the worker's: tests/integration/test_delivery.py) within MIN_SCORE_CHANGE.
        assert abs(last[lead].score - score) < min_change, (lead, last[lead].score, score)
    print(f"compared with replay's final score: {compared} of {len(final)} leads")
    assert compared > len(final) // 2
    for lead, change in replay_last.items():
        if lead not in on_final:
            continue  # as above: the worker did not score its final state, replay may have
        # Not always equal: which scores are computed (and so published) depends on batch
        # boundaries and on how the five topics interleave; both end within MIN_SCORE_CHANGE.
        assert abs(last[lead].score - change.score) < min_change, lead
