"""scores.changes is compacted: its last message per lead must stay within MIN_SCORE_CHANGE of
the lead's score. A change is published against the last PUBLISHED score (kept in the lead
record), so small steps cannot add up unseen.

The model's probabilities are scripted (the processor's scorer is real, its calibrated output
replaced) so the score sequences are exactly the ones the rule is about."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import numpy as np
import orjson
import pytest

from models.artifact import load
from schemas import ScoreChange
from streams.commands.replay import MemoryTables, run
from streams.core.alerting import AlertPolicy
from streams.core.processing import Message, Policy, Processor, TopicNames
from streams.core.record import LeadRecord

T0 = datetime(2026, 11, 1, tzinfo=UTC).timestamp()
TOPICS = TopicNames()


@pytest.fixture(scope="module")
def scorer(small_model):
    return load(small_model)


def scripted(scorer, scores: list[int], min_change: int = 3) -> Processor:
    proc = Processor(scorer, TOPICS, Policy(max_age=None, min_change=min_change),
                     clock=lambda: T0 + 86400)
    left = iter(scores)

    class Scripted:  # the real scorer, with the calibrated probabilities replaced
        def __getattr__(self, name):
            return getattr(scorer, name)

        def probability_from_raw(self, raw: np.ndarray) -> np.ndarray:
            return np.array([next(left) / 100.0 for _ in range(len(raw))])

    proc.scorer = Scripted()  # type: ignore[assignment]
    return proc


def pricing(lead: str, n: int) -> Message:
    doc = {"event_id": f"{lead}-{n}", "type": "page_view", "lead_id": lead,
           "occurred_at": datetime.fromtimestamp(T0 + n * 60, UTC).isoformat(),
           "source": "test", "schema_version": 2,
           "properties": {"url": "https://x.io/pricing", "path": "/pricing",
                          "page_category": "pricing"}}
    return Message("events.website", 0, n, lead.encode(), orjson.dumps(doc))


def published(proc: Processor, n: int, tables: MemoryTables | None = None,
              lead: str = "L1") -> tuple[list[int], MemoryTables]:
    """Score ``lead`` once per event, one event per batch; the scores published."""
    tables = tables or MemoryTables()
    _, outputs = run(proc, [pricing(lead, i) for i in range(n)], batch_size=1, tables=tables)
    return [ScoreChange.from_bytes(o.value).score for o in outputs
            if o.topic == TOPICS.changes], tables


def test_small_steps_add_up_to_a_published_change(scorer):
    """The issue's lead: 1, 11, 13, 15, 17. Its last message said 11 (6 points off); now the
    step from 11 to 15 is published, and the last message is within 3 of 17."""
    sent, tables = published(scripted(scorer, [1, 11, 13, 15, 17]), 5)
    assert sent == [1, 11, 15]
    rec = LeadRecord.from_bytes(tables.leads["L:L1"])
    assert (rec.score, rec.published_score) == (17, 15)
    assert rec.published_probability == pytest.approx(0.15)


def test_a_slow_climb_is_published_every_min_change_points(scorer):
    sent, _ = published(scripted(scorer, list(range(10, 31))), 21)
    assert sent == list(range(10, 31, 3))


def test_a_tier_change_is_published_however_small(scorer):
    proc = scripted(scorer, [48, 49, 50, 49])
    proc.policy = Policy(max_age=None, alerts=AlertPolicy(hot=80, warm=50))
    sent, _ = published(proc, 4)
    assert sent == [48, 50, 49]  # 49 -> 50 enters Warm, 50 -> 49 leaves it


def test_the_published_score_stays_within_min_change_of_the_score(scorer):
    """Random walks: after every scoring, the record's published score is within
    MIN_SCORE_CHANGE of its score, has its tier, and is what the last message said."""
    rng = random.Random(7)
    for walk in range(30):
        min_change = rng.choice([1, 2, 3, 5])
        scores = [rng.randint(0, 100)]
        for _ in range(39):
            scores.append(min(100, max(0, scores[-1] + rng.randint(-4, 4))))
        proc = scripted(scorer, scores, min_change)
        tables = MemoryTables()
        last = None
        for i, s in enumerate(scores):
            _, outputs = run(proc, [pricing("L1", i)], tables=tables)
            for o in outputs:
                if o.topic == TOPICS.changes:
                    last = ScoreChange.from_bytes(o.value)
            rec = LeadRecord.from_bytes(tables.leads["L:L1"])
            assert last is not None and rec.score == s
            assert (rec.published_score, rec.published_probability) == (last.score,
                                                                         last.probability)
            assert abs(s - last.score) < min_change, (walk, i)
            assert last.tier == rec.tier


def test_a_record_of_the_previous_format_publishes_its_next_score(scorer):
    """Format 2 knew no published score: the next score is published whatever its size, so
    the topic holds the exact score again after an upgrade."""
    sent, tables = published(scripted(scorer, [40]), 1)
    rec = LeadRecord.from_bytes(tables.leads["L:L1"])
    old = rec.to_bytes(fmt=2)
    assert old[0] == 2
    back = LeadRecord.from_bytes(old)
    assert (back.score, back.published_score) == (40, None)
    tables.leads["L:L1"] = old
    proc = scripted(scorer, [41])
    _, outputs = run(proc, [pricing("L1", 5)], tables=tables)
    assert [ScoreChange.from_bytes(o.value).score for o in outputs
            if o.topic == TOPICS.changes] == [41]


def test_replay_emit_writes_what_the_topics_would_carry(small_model, tmp_path):
    """``leadscore replay --emit``: score changes and alerts in order, as {topic, key, value},
    each value a valid contract message; its last change per lead is replay's published
    score, within MIN_SCORE_CHANGE of replay's final score."""
    import subprocess
    import sys

    from models.simulate import run as simulate
    from schemas import Alert

    events = tmp_path / "events.jsonl"
    simulate(120, 20, seed=5, out=str(events), progress=False)
    emit, out = tmp_path / "emit.jsonl", tmp_path / "scores.jsonl"
    env = {k: v for k, v in __import__("os").environ.items()
           if not k.startswith("LEADSCORE_")}
    env.update(LEADSCORE_TIER_HOT="30", LEADSCORE_TIER_WARM="10")  # a small model's scores alert
    res = subprocess.run([sys.executable, "-m", "streams.cli", "replay", "--events",
                          str(events), "--model", str(small_model), "--emit", str(emit),
                          "--out", str(out)], env=env, capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, res.stderr
    assert "score changes and alerts written to" in res.stderr
    docs = [orjson.loads(line) for line in emit.read_bytes().splitlines()]
    kinds = {d["topic"] for d in docs}
    assert kinds == {TOPICS.changes, TOPICS.alerts}
    last: dict[str, ScoreChange] = {}
    for d in docs:
        msg = (ScoreChange if d["topic"] == TOPICS.changes else Alert).model_validate(d["value"])
        assert d["key"] == msg.lead_id
        if isinstance(msg, ScoreChange):
            last[msg.lead_id] = msg
    final = {d["lead_id"]: d["score"] for d in map(orjson.loads, out.read_bytes().splitlines())}
    assert len(final) > 50
    for lead, score in final.items():
        assert abs(last[lead].score - score) < 3, lead
    assert any(last[lead].score != score for lead, score in final.items())  # not all exact

    bad = subprocess.run([sys.executable, "-m", "streams.cli", "replay", "--events",
                          str(events), "--emit", str(tmp_path / "no" / "such" / "dir.jsonl")],
                         env=env, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1, bad.stderr
    assert "no such directory" in bad.stderr


def test_a_repeated_identify_is_not_scored_or_published_again(scorer):
    """The same identify twice (a producer retry; the simulator sends some events twice): the
    second merges nothing new and folds nothing, so it is not scored, and no score change for
    the same (lead, cause) is published twice. Scripted: a second scoring would publish 60."""
    proc = scripted(scorer, [20, 60])
    tables = MemoryTables()
    views = [Message("events.website", 0, i, b"A1", orjson.dumps({
        "event_id": f"v{i}", "type": "page_view", "anonymous_id": "A1",
        "occurred_at": datetime.fromtimestamp(T0 + i, UTC).isoformat(), "source": "test",
        "schema_version": 2, "properties": {"url": "https://x.io/blog", "path": "/blog",
                                            "page_category": "blog"}})) for i in range(3)]
    identify = Message("events.website", 0, 9, b"A1", orjson.dumps({
        "event_id": "id-1", "type": "identify", "anonymous_id": "A1", "lead_id": "L1",
        "occurred_at": datetime.fromtimestamp(T0 + 60, UTC).isoformat(), "source": "test",
        "schema_version": 2, "properties": {"email": "a@b.example"}}))
    _, outputs = run(proc, [*views, identify, identify], batch_size=1, tables=tables)
    causes = [(c.lead_id, c.cause_event_id) for c in (
        ScoreChange.from_bytes(o.value) for o in outputs if o.topic == TOPICS.changes)]
    assert causes == [("L1", "id-1")]
    assert LeadRecord.from_bytes(tables.leads["L:L1"]).published_score == 20
