"""The lead record's binary format (4) round-trips every field, and formats 3, 2 and 1 (what
tables written before it hold) are still read, so existing tables keep working."""

from __future__ import annotations

import math
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest

from models.simulate import run as simulate
from models.state import LeadState, fold_into, merge, observe, state_to_bytes
from schemas import Event, parse_event
from streams.core import record
from streams.core.alerting import AlertState
from streams.core.record import LeadRecord, format_1_bytes, format_2_bytes


@pytest.fixture(autouse=True, params=["c", "python"])
def codec(request: pytest.FixtureRequest) -> Iterator[str]:
    """Every test here with both codecs: the C one (streams/core/_record.c) and the Python
    reference (the only one where no C compiler was at hand)."""
    was = record.NATIVE
    record.use_native(request.param == "c")
    yield request.param
    record.use_native(was)


@pytest.fixture(scope="module")
def states(tmp_path_factory: pytest.TempPathFactory) -> list[LeadState]:
    """Real states: simulated history (web, email, product, profile, outcomes) folded."""
    path = Path(tmp_path_factory.mktemp("sim")) / "events.jsonl"
    simulate(60, 40, seed=3, out=str(path), progress=False)
    by_key: dict[str, LeadState] = {}
    for line in path.read_bytes().splitlines():
        ev = parse_event(line, max_age=None)
        if isinstance(ev, Event):
            st = by_key.setdefault(ev.key, LeadState.new(key=ev.key))
            fold_into(st, observe(ev))
    found = list(by_key.values())
    found.append(merge(found[0], found[1]))  # a merged state carries origin hashes
    found.append(LeadState.new(key="empty"))
    return found


def records(states: list[LeadState]) -> list[LeadRecord]:
    out = [LeadRecord(s) for s in states]
    out[0] = LeadRecord(states[0], 83, 0.8312345678901234, "hot", 1.7e9 + 0.25,
                        AlertState(True, ((1.7e9, 40), (1.7e9 + 60.5, 83)), 1.7e9 + 60.5, 83,
                                   None, None), 81, 0.81234)
    out[1] = LeadRecord(states[1], 12, 0.12, "cold", 1.6e9,
                        AlertState(False, (), None, None, 1.6e9, 12))
    return out


def same(a: LeadRecord, b: LeadRecord) -> None:
    assert (a.score, a.probability, a.tier, a.scored_at, a.alert, a.published_score,
            a.published_probability) == (b.score, b.probability, b.tier, b.scored_at, b.alert,
                                         b.published_score, b.published_probability)
    for slot in LeadState.__slots__:
        x, y = getattr(a.state, slot), getattr(b.state, slot)
        if isinstance(x, float) and math.isnan(x):
            assert isinstance(y, float) and math.isnan(y), slot
        elif isinstance(x, list) and any(isinstance(v, float) for v in x):
            assert [str(v) for v in x] == [str(v) for v in y], slot  # NaN-aware, type-aware
        else:
            assert x == y and type(x) is type(y), slot
    assert state_to_bytes(a.state) == state_to_bytes(b.state)


def test_format_4_round_trips_every_field(states: list[LeadState]) -> None:
    assert len(states) > 50
    assert records(states)[0].published_score == 81
    for i, rec in enumerate(records(states)):
        rec.contacted_at = 1.7e9 + i if i % 2 else None
        rec.history = [(20000 + d, 0.25, bytes(6)) for d in range(i % 4)]
        rec.observed = [(7, 1, 0.5, b"abcdef", 20010)] if i % 3 == 0 else []
        raw = rec.to_bytes()
        assert raw[0] == 4
        back = LeadRecord.from_bytes(raw)
        same(back, rec)
        assert (back.contacted_at, back.history, back.observed) == (
            rec.contacted_at, rec.history, rec.observed)
        assert LeadRecord.peek_observed(raw) == rec.observed
        assert back.to_bytes() == raw


def test_format_3_is_still_read_with_its_published_score(states: list[LeadState]) -> None:
    for rec in records(states):
        old = rec.to_bytes(fmt=3)
        assert old[0] == 3
        back = LeadRecord.from_bytes(old)
        assert (back.published_score, back.published_probability) == (
            rec.published_score, rec.published_probability)
        assert (back.contacted_at, back.history, back.observed) == (None, [], [])
        same(back, rec)
        assert LeadRecord.peek(old) == LeadRecord.peek(back.to_bytes())


def test_format_2_is_still_read_without_a_published_score(states: list[LeadState]) -> None:
    for rec in records(states):
        old = format_2_bytes(rec)
        assert old[0] == 2
        back = LeadRecord.from_bytes(old)
        assert (back.published_score, back.published_probability) == (None, None)
        assert back.contacted_at is None
        rec.published_score = rec.published_probability = None
        same(back, rec)
        assert LeadRecord.peek(old) == LeadRecord.peek(back.to_bytes())


def test_format_1_is_still_read(states: list[LeadState]) -> None:
    for rec in records(states):
        old = format_1_bytes(rec)
        assert old[0] == 0
        back = LeadRecord.from_bytes(old)
        # Format 1 stored the dedup table's times rounded to the second, and no published score.
        rec.published_score = rec.published_probability = None
        rec.state.recent = {k: float(round(v)) for k, v in rec.state.recent.items()}
        same(back, rec)
        assert LeadRecord.peek(old) == LeadRecord.peek(back.to_bytes())


def test_format_3_is_smaller(states: list[LeadState]) -> None:
    new = sum(len(r.to_bytes()) for r in records(states))
    old = sum(len(format_1_bytes(r)) for r in records(states))
    assert new < old


def test_peek_reads_the_header_alone(states: list[LeadState]) -> None:
    rec = records(states)[0]
    head = LeadRecord.peek(rec.to_bytes())
    assert (head["s"], head["t"], head["at"], head["closed"]) == (83, "hot", 1.7e9 + 0.25, False)
    assert head["le"] == rec.state.ts[1]
    empty = LeadRecord.peek(LeadRecord(LeadState.new()).to_bytes())
    assert (empty["s"], empty["le"], empty["at"]) == (None, None, None)


def test_an_unknown_format_or_a_foreign_state_shape_is_refused(states: list[LeadState]) -> None:
    raw = bytearray(LeadRecord(states[0]).to_bytes())
    with pytest.raises(ValueError, match="format 9"):
        LeadRecord.from_bytes(bytes([9]) + bytes(raw[1:]))
    # A state written with one more channel than this code knows.
    header = struct.calcsize("<BBhdBdddhdhH") + struct.calcsize("<hd")
    raw[header + 2] += 1
    with pytest.raises(ValueError, match="channels"):
        LeadRecord.from_bytes(bytes(raw))
