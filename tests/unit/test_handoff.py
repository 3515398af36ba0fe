"""The handoff topic is an input: garbage there becomes dead letters, never an exception.

A corpus of bad handoff records (non-JSON, wrong types, truncated binary, empty, tombstone,
huge, bad keys, bad states, unknown versions) goes through the real Processor in one batch
with good records around it; every bad one is a dead letter with its original bytes and the
expected reason, and the good ones are still scored."""

from __future__ import annotations

import base64
import os
from datetime import UTC, datetime

import orjson
import pytest

from models.artifact import load
from models.state import LeadState, state_to_bytes
from schemas import DeadLetterRecord, ReasonCode, ScoreChange
from streams.core import handoff
from streams.core.processing import Message, Policy, Processor, TopicNames

R = ReasonCode
NOW = datetime(2026, 11, 23, tzinfo=UTC).timestamp()
T0 = datetime(2026, 11, 1, tzinfo=UTC).timestamp()
TOPICS = TopicNames()


@pytest.fixture(scope="module")
def scorer(small_model):
    return load(small_model)


def processor(scorer) -> Processor:
    return Processor(scorer, TOPICS, Policy(max_age=None), clock=lambda: NOW)


def pricing(lead: str = "L1", event_id: str = "e1", anon: str | None = None) -> bytes:
    doc = {"event_id": event_id, "type": "page_view", "lead_id": lead,
           "occurred_at": datetime.fromtimestamp(T0, UTC).isoformat(), "source": "test",
           "schema_version": 2, "properties": {"url": "https://x.io/pricing",
                                               "path": "/pricing", "page_category": "pricing"}}
    if anon:
        doc["anonymous_id"] = anon
    return orjson.dumps(doc)


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


GOOD_EVENT = b64(pricing())
STATE = LeadState.new(key="A1")

# (name, key, value, reason)
GARBAGE: list[tuple[str, bytes | None, bytes | None, ReasonCode]] = [
    ("tombstone", b"L1", None, R.TOMBSTONE),
    ("empty value", b"L1", b"", R.UNPARSEABLE_JSON),
    ("not json", b"L1", b"hello handoff", R.UNPARSEABLE_JSON),
    ("truncated json", b"L1", orjson.dumps({"v": 1, "k": "event", "raw": GOOD_EVENT})[:-9],
     R.UNPARSEABLE_JSON),
    ("binary", b"L1", bytes(range(256)) * 3, R.UNPARSEABLE_JSON),
    ("truncated binary state", b"L1", os.urandom(37) + b"\xff\x00", R.UNPARSEABLE_JSON),
    ("huge", b"L1", b"{" + b"x" * 2_000_000, R.UNPARSEABLE_JSON),
    ("json array", b"L1", b"[1, 2]", R.NOT_AN_OBJECT),
    ("json string", b"L1", b'"rescore"', R.NOT_AN_OBJECT),
    ("json null", b"L1", b"null", R.NOT_AN_OBJECT),
    ("future version", b"L1", orjson.dumps({"v": 2, "k": "event", "raw": GOOD_EVENT}),
     R.UNSUPPORTED_HANDOFF_VERSION),
    ("version zero", b"L1", orjson.dumps({"v": 0, "k": "event", "raw": GOOD_EVENT}),
     R.UNSUPPORTED_HANDOFF_VERSION),
    ("version as text", b"L1", orjson.dumps({"v": "1", "k": "event", "raw": GOOD_EVENT}),
     R.INVALID_HANDOFF),
    ("no kind", b"L1", orjson.dumps({"v": 1, "raw": GOOD_EVENT}), R.INVALID_HANDOFF),
    ("unknown kind", b"L1", orjson.dumps({"k": "delete", "raw": GOOD_EVENT}),
     R.INVALID_HANDOFF),
    ("kind as number", b"L1", orjson.dumps({"k": 3, "raw": GOOD_EVENT}), R.INVALID_HANDOFF),
    ("no raw", b"L1", orjson.dumps({"k": "event"}), R.INVALID_HANDOFF),
    ("raw as number", b"L1", orjson.dumps({"k": "route", "raw": 12}), R.INVALID_HANDOFF),
    ("raw not base64", b"L1", orjson.dumps({"k": "event", "raw": "%%%not base64"}),
     R.INVALID_HANDOFF),
    ("rescore without at", b"L1", orjson.dumps({"k": "rescore"}), R.INVALID_HANDOFF),
    ("rescore at text", b"L1", orjson.dumps({"k": "rescore", "at": "tomorrow"}),
     R.INVALID_HANDOFF),
    ("rescore at bool", b"L1", orjson.dumps({"k": "rescore", "at": True}), R.INVALID_HANDOFF),
    ("rescore at huge", b"L1", b'{"k": "rescore", "at": 1e999}', R.UNPARSEABLE_JSON),
    ("no key", None, orjson.dumps({"k": "event", "raw": GOOD_EVENT}), R.INVALID_HANDOFF),
    ("empty key", b"", orjson.dumps({"k": "event", "raw": GOOD_EVENT}), R.INVALID_HANDOFF),
    ("binary key", b"\xff\xfe", orjson.dumps({"k": "event", "raw": GOOD_EVENT}),
     R.INVALID_HANDOFF),
    ("control key", b"L\n1", orjson.dumps({"k": "event", "raw": GOOD_EVENT}),
     R.INVALID_HANDOFF),
    ("huge key", b"L" * 5000, orjson.dumps({"k": "event", "raw": GOOD_EVENT}),
     R.INVALID_HANDOFF),
    ("state not base64", b"L1", orjson.dumps({"k": "merge", "raw": GOOD_EVENT, "state": "!"}),
     R.INVALID_HANDOFF),
    ("state garbage", b"L1", orjson.dumps({"k": "merge", "raw": GOOD_EVENT,
                                           "state": b64(b"\x00\x01garbage")}),
     R.INVALID_HANDOFF),
    ("state truncated", b"L1", orjson.dumps({"k": "merge", "raw": GOOD_EVENT,
                                             "state": b64(state_to_bytes(STATE)[:-20])}),
     R.INVALID_HANDOFF),
    ("state wrong shape", b"L1", orjson.dumps({"k": "merge", "raw": GOOD_EVENT, "state": b64(
        state_to_bytes(STATE).replace(b"[0,0,0,0", b"[0,0,0", 1))}), R.INVALID_HANDOFF),
    ("state json object", b"L1", orjson.dumps({"k": "merge", "raw": GOOD_EVENT,
                                               "state": b64(b'{"a": 1}')}),
     R.INVALID_HANDOFF),
    ("event not json", b"L1", orjson.dumps({"k": "event", "raw": b64(b"\x00\x01")}),
     R.UNPARSEABLE_JSON),
    ("event invalid", b"L1", orjson.dumps({"k": "route", "raw": b64(b'{"type": "nope"}')}),
     R.MISSING_FIELD),
]


def test_the_corpus_is_varied() -> None:
    assert len(GARBAGE) >= 30
    assert len({name for name, *_ in GARBAGE}) == len(GARBAGE)
    assert {R.TOMBSTONE, R.UNPARSEABLE_JSON, R.NOT_AN_OBJECT, R.INVALID_HANDOFF,
            R.UNSUPPORTED_HANDOFF_VERSION} <= {reason for *_, reason in GARBAGE}
    # the wrong-shape state really is a different shape, not the same bytes
    wrong = next(v for name, _, v, _ in GARBAGE if name == "state wrong shape")
    assert wrong is not None and b64(state_to_bytes(STATE)) not in wrong.decode()


@pytest.mark.parametrize(("key", "value", "reason"), [g[1:] for g in GARBAGE],
                         ids=[g[0] for g in GARBAGE])
def test_garbage_handoff_is_dead_lettered_with_its_bytes_and_reason(scorer, key, value, reason):
    proc = processor(scorer)
    leads: dict[str, bytes] = {}
    good_before = Message("events.website", 0, 0, b"L2", pricing("L2", "e-before"))
    bad = Message(TOPICS.handoff, 3, 77, key, value)
    good_after = Message(TOPICS.handoff, 3, 78, b"L3",
                         handoff.encode("event", pricing("L3", "e-after")))
    result = proc.process([good_before, bad, good_after], leads, {})
    [dead] = [o for o in result.outputs if o.topic == TOPICS.deadletter]
    dl = DeadLetterRecord.from_bytes(dead.value)
    assert dl.reason_code == reason, dl.message
    assert dl.message
    assert (dl.source_topic, dl.partition, dl.offset) == (TOPICS.handoff, 3, 77)
    whole = value or b""
    assert dl.original == whole[:len(dl.original)] and dl.original_size == len(whole)
    assert len(dead.value) < 1_000_000  # a dead letter always fits in a Kafka message
    changed = sorted(ScoreChange.from_bytes(o.value).lead_id
                     for o in result.outputs if o.topic == TOPICS.changes)
    assert changed == ["L2", "L3"]  # the good records around it were scored
    assert {w.key for w in result.writes} == {"L:L2", "L:L3"}  # the bad one wrote nothing
    assert result.counts[f"invalid:{TOPICS.handoff}:{reason.value}"] == 1


def test_any_lead_id_the_contract_allows_is_a_handoff_key() -> None:
    for lead in ("L1", "lead 7", "Zoë-Müller", "a\u00a0b", "客户-42", "x" * 128):
        h = handoff.decode(lead.encode(), handoff.encode("event", b"{}"))
        assert isinstance(h, handoff.Handoff) and h.lead == lead, lead
    for lead in ("x" * 129, "a\u200bb", "a\u2028b", "a\x7fb"):
        h = handoff.decode(lead.encode(), handoff.encode("event", b"{}"))
        assert isinstance(h, handoff.Refusal) and h.reason == R.INVALID_HANDOFF, lead


def test_writer_sets_the_version_and_reader_reads_it_back() -> None:
    value = handoff.encode("merge", b"raw", state=b"st")
    assert orjson.loads(value)["v"] == handoff.VERSION == 1
    assert handoff.decode(b"L1", value) == handoff.Handoff("merge", "L1", b"raw", b"st",
                                                           pytest.approx(float("nan"),
                                                                         nan_ok=True))
    rescore = handoff.decode(b"L1", handoff.encode("rescore", at=123.5))
    assert isinstance(rescore, handoff.Handoff) and (rescore.kind, rescore.at) == ("rescore",
                                                                                   123.5)


def test_version_less_records_of_the_previous_release_are_still_read(scorer) -> None:
    """What today's code wrote (no "v"): an identify merge with a state, and a rescore."""
    proc = processor(scorer)
    leads: dict[str, bytes] = {}
    anon = LeadState.new(key="A7")
    old_merge = orjson.dumps({"k": "merge", "raw": b64(pricing("L7", "e-id", anon="A7")),
                              "state": b64(state_to_bytes(anon))})
    result = proc.process([Message(TOPICS.handoff, 0, 0, b"L7", old_merge)], leads, {})
    assert [o.topic for o in result.outputs] == [TOPICS.changes]
    assert result.counts["merged"] == 1
    for w in result.writes:
        leads[w.key] = w.value  # type: ignore[assignment]
    old_rescore = orjson.dumps({"k": "rescore", "at": T0 + 90 * 86400})
    again = proc.process([Message(TOPICS.handoff, 0, 1, b"L7", old_rescore)], leads, {})
    assert again.counts["scored"] == 1
    assert not [o for o in again.outputs if o.topic == TOPICS.deadletter]
