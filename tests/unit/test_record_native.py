"""The lead record codec in C (streams/core/_record.c) is record.py's Python codec, faster:
the same objects (types included) from the same bytes, the same bytes from the same record,
and the same exception class (and message) for bad bytes, checked on the records a simulated
population writes through the Processor, on hand-made edge cases, on every prefix of a few
records and on random byte flips.

Fails when the extension was not built (no C compiler at install), as test_treeshap does:
the worker's CPU budget counts on it."""

from __future__ import annotations

import dataclasses
import math
import random
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from models.artifact import load
from models.state import CHANNELS, LeadState
from streams.commands.replay import MemoryTables, apply_writes, messages_from_lines
from streams.core import record
from streams.core.alerting import AlertState
from streams.core.processing import Message, Policy, Processor, TopicNames
from streams.core.record import LeadRecord, format_2_bytes
from streams.settings import Settings

NOW = datetime(2026, 11, 23, tzinfo=UTC).timestamp()


def test_the_extension_is_built() -> None:
    assert record.native is not None, (
        "streams.core._record is not built (no C compiler at install?): run ./dev setup")
    assert record.NATIVE


def canon(x: Any) -> Any:
    """A comparable picture of a decoded value: every object's type, floats bit for bit
    (NaN included), dicts in their order, sets sorted."""
    if isinstance(x, float):
        return ("float", "nan" if math.isnan(x) else x.hex())
    if x is None or isinstance(x, (bool, int, str, bytes)):
        return (type(x).__name__, x)
    if isinstance(x, (list, tuple)):
        return (type(x).__name__, [canon(v) for v in x])
    if isinstance(x, dict):
        return ("dict", [(canon(k), canon(v)) for k, v in x.items()])
    if isinstance(x, set):
        return ("set", sorted(canon(v) for v in x))
    if isinstance(x, LeadState):
        return ("LeadState", [(s, canon(getattr(x, s))) for s in LeadState.__slots__])
    if isinstance(x, AlertState):
        return ("AlertState", list(vars(x)), [canon(getattr(x, f.name))
                                              for f in dataclasses.fields(x)])
    if isinstance(x, LeadRecord):
        return ("LeadRecord", list(vars(x)), [canon(getattr(x, f.name))
                                              for f in dataclasses.fields(x)])
    raise AssertionError(f"unexpected {type(x)} in a decoded record")


def outcome(decode: Callable[[bytes], LeadRecord], raw: bytes) -> Any:
    try:
        return ("value", canon(decode(raw)))
    except Exception as exc:  # noqa: BLE001 - the class and message are what is compared
        return ("raised", type(exc), str(exc))


def decode_c(raw: bytes) -> LeadRecord:
    rec: LeadRecord = record.native.decode(raw)
    return rec


def both(raw: bytes) -> tuple[Any, Any]:
    """What the C decoder and the Python one make of the same bytes, through from_bytes."""
    record.use_native(True)
    try:
        c = outcome(LeadRecord.from_bytes, raw)
    finally:
        record.use_native(False)
    try:
        py = outcome(LeadRecord.from_bytes, raw)
    finally:
        record.use_native(True)
    return c, py


@pytest.fixture(scope="module")
def written(small_model: Path, tmp_path_factory: pytest.TempPathFactory) -> list[bytes]:
    """Every lead record a simulated month of 300 leads writes through the Processor."""
    from models.simulate import run as simulate

    path = tmp_path_factory.mktemp("events") / "events.jsonl"
    simulate(300, 30, seed=11, out=str(path), progress=False)
    lines = [ln for ln in path.read_bytes().splitlines() if ln.strip()]
    messages = list(messages_from_lines(lines, Settings(model_dir=small_model)))
    proc = Processor(load(small_model), TopicNames(), Policy(max_age=None), clock=lambda: NOW)
    tables, out = MemoryTables(), []
    queue = [messages[i:i + 10] for i in range(0, len(messages), 10)]
    while queue:
        result = proc.process(queue.pop(0), tables.leads, tables.aliases)
        apply_writes(result.writes, tables)
        out.extend(w.value for w in result.writes if w.table == "leads" and w.value is not None)
        handoffs = [Message(o.topic, 0, 0, o.key, o.value) for o in result.outputs
                    if o.topic == proc.topics.handoff]
        if handoffs:
            queue.append(handoffs)
    return out


def sizes_at(rec: LeadRecord) -> int:
    """Where a format-4 record's state sizes start: header, published score, alert history."""
    return 51 + 10 + 10 * len(rec.alert.history)


def edge_records(states: list[LeadState]) -> Iterator[LeadRecord]:
    """Records with what a population may not have: every event-count width, no and many
    buckets, profile or none, score history and observations, alert history, NaNs."""
    k = len(CHANNELS)
    for i, state in enumerate(states):
        s = state.copy()
        top = (0, 200, 60_000, 4_000_000_000, 2**63)[i % 5]
        s.totals = [top] + [i % 7] * (k - 1)
        s.buckets = {} if i % 3 == 0 else {
            20_000 + d: [top if d == 0 else min(d, top)] + [min(1, top)] * (k - 1)
            for d in range(1 + 300 * (i % 2))}
        if i % 4 == 0:
            s.profile = {}
        else:
            s.profile = {"company": ["Acme ünïcode", 1.7e9, 12345], "title": [None, 0.5, -1]}
        s.features = {3, 1, 2**32 - 1} if i % 2 else set()
        s.merged = {-5, 2**62, 7} if i % 3 == 1 else set()
        rec = LeadRecord(s, 40 + i, 0.4 + i / 1000, ("hot", "warm", "cold", None)[i % 4],
                         1.7e9 + i, AlertState(bool(i % 2), tuple((1.7e9 + j, j) for j in
                                                                  range(i % 5)),
                                               None if i % 2 else 1.7e9, None if i % 2 else 70,
                                               1.6e9 if i % 3 else None, 9 if i % 3 else None),
                         (None, 12)[i % 2], (None, math.nan, 0.25)[i % 3] if i % 2 else None,
                         1.7e9 + 5 if i % 2 else None,
                         [(20_000 + d, 0.125 * d, bytes([d]) * 6) for d in range(i % 4)],
                         [(7, 1, 0.5, b"abcdef", 20_010)] * (i % 3))
        yield rec


@pytest.fixture(scope="module")
def edges(written: list[bytes]) -> list[LeadRecord]:
    states = [LeadRecord.from_bytes_py(raw).state for raw in written[:: max(1, len(written) // 40)]]
    states.append(LeadState.new(key="empty"))
    return list(edge_records(states))


def test_every_written_record_decodes_to_the_same_objects(written: list[bytes]) -> None:
    assert len(written) > 500
    for raw in written:
        assert canon(decode_c(raw)) == canon(LeadRecord.from_bytes_py(raw))


def test_every_written_record_encodes_to_the_same_bytes(written: list[bytes]) -> None:
    for raw in written:
        rec = LeadRecord.from_bytes_py(raw)
        out = record.native.encode(rec)
        assert out == rec.to_bytes_py() == raw
        assert canon(decode_c(out)) == canon(rec)


def test_edge_records_round_trip_byte_for_byte(edges: list[LeadRecord]) -> None:
    seen_widths, seen = set(), set()
    for rec in edges:
        out = record.native.encode(rec)
        assert out == rec.to_bytes_py()
        assert canon(decode_c(out)) == canon(LeadRecord.from_bytes_py(out))
        back = decode_c(out)
        assert record.native.encode(back) == out
        seen_widths.add(out[sizes_at(rec) + 15])
        seen.add((len(rec.state.buckets) > 100, bool(rec.state.profile), bool(rec.history),
                  bool(rec.observed)))
        for fmt in (2, 3):  # the formats still read
            old = rec.to_bytes_py(fmt)
            assert canon(decode_c(old)) == canon(LeadRecord.from_bytes_py(old))
    assert seen_widths == {0, 1, 2, 3}
    assert {s[0] for s in seen} == {s[1] for s in seen} == {False, True}
    assert {s[2] for s in seen} == {s[3] for s in seen} == {False, True}


def test_sets_and_days_are_written_sorted(edges: list[LeadRecord]) -> None:
    rec = next(r for r in edges if r.state.features and r.state.merged and r.state.buckets)
    s = rec.state
    s.features = set(reversed(sorted(s.features)))
    s.buckets = dict(reversed(list(s.buckets.items())))
    assert record.native.encode(rec) == rec.to_bytes_py()


def test_every_prefix_is_refused_or_read_as_python_does(edges: list[LeadRecord],
                                                        written: list[bytes]) -> None:
    samples = [r.to_bytes_py() for r in edges[:4]] + [format_2_bytes(edges[5]),
                                                      edges[6].to_bytes_py(3)] + written[-3:]
    raised = 0
    for raw in samples:
        for end in range(len(raw) + 1):
            c, py = both(raw[:end])
            assert c == py, (end, c, py)
            raised += c[0] == "raised"
    assert raised > 100


def test_random_byte_flips_give_the_same_outcome(edges: list[LeadRecord],
                                                 written: list[bytes]) -> None:
    rng = random.Random(7)
    samples = [r.to_bytes_py() for r in edges[:6]] + written[:: max(1, len(written) // 10)]
    kinds: dict[str, int] = {}
    for raw in samples:
        for _ in range(300):
            mutated = bytearray(raw)
            for _ in range(rng.randint(1, 3)):
                # Mostly in the header and the state's counts, where a flip changes the shape.
                at = rng.randrange(min(len(raw), 120)) if rng.random() < 0.7 else \
                    rng.randrange(len(raw))
                mutated[at] = rng.randrange(256)
            c, py = both(bytes(mutated))
            assert c == py, (bytes(mutated).hex(), c, py)
            name = c[0] if c[0] == "value" else c[1].__name__
            kinds[name] = kinds.get(name, 0) + 1
    assert {"value", "ValueError", "error", "IndexError"} <= set(kinds), kinds
    assert kinds["value"] > 500 and kinds["error"] > 100, kinds


def test_a_foreign_state_shape_is_refused_with_the_same_message(edges: list[LeadRecord]) -> None:
    raw = bytearray(edges[1].to_bytes_py())
    raw[sizes_at(edges[1]) + 2] += 1  # one more channel than this code knows
    c, py = both(bytes(raw))
    assert c == py and c[1] is ValueError and "channels" in c[2]


def test_bad_records_are_refused_by_the_encoder_as_by_python(edges: list[LeadRecord]) -> None:
    import struct

    rec = edges[2]
    for change, cls in ((lambda r: setattr(r, "score", 40_000), struct.error),
                        (lambda r: setattr(r, "tier", "tepid"), KeyError),
                        (lambda r: setattr(r, "history", [(1, 2.0)]), struct.error),
                        (lambda r: setattr(r.state, "totals", [-1] * len(CHANNELS)),
                         struct.error)):
        bad = dataclasses.replace(rec, state=rec.state.copy())
        change(bad)
        with pytest.raises(cls):
            bad.to_bytes_py()
        with pytest.raises(cls):
            record.native.encode(bad)


def _tracked_in(obj: Any, seen: set[int] | None = None) -> list[str]:
    """Every object of a record's tree (its attributes, items, slots) the cyclic garbage
    collector still tracks."""
    import gc

    seen = set() if seen is None else seen
    if id(obj) in seen:
        return []
    seen.add(id(obj))
    out = [type(obj).__name__] if gc.is_tracked(obj) else []
    for ref in gc.get_referents(obj):
        if not isinstance(ref, type):
            out += _tracked_in(ref, seen)
    return out


def test_untracked_records_are_wholly_out_of_the_garbage_collectors_sight(
        written: list[bytes], edges: list[LeadRecord]) -> None:
    """A decoded record, untracked (as the record cache does with what it keeps), has no
    tracked object left: state, alert state, every list, dict, set and tuple of it."""
    for raw in [*written[::25], *(e.to_bytes() for e in edges)]:
        rec = decode_c(raw)
        assert _tracked_in(rec) != []  # decoding itself leaves that to the cache
        assert record.untrack(rec) is True
        assert _tracked_in(rec) == []


def test_untrack_walks_into_untracked_parts_a_batch_changed(written: list[bytes]) -> None:
    """A cached (untracked) record that a batch changed holds new tracked objects deep in
    its tree (a list's new tuple, a new dict); untracking it again finds them."""
    import gc

    rec = decode_c(written[0])
    assert record.untrack(rec) is True
    rec.state.buckets[10**6] = [0, 1]  # a new day: the dict is tracked again by CPython
    rec.state.misc.append([4.0])  # a tracked list inside an untracked one
    assert not gc.is_tracked(rec) and not gc.is_tracked(rec.state.misc)
    assert sorted(_tracked_in(rec)) == ["dict", "list", "list"]
    assert record.untrack((b"raw", rec)) is True
    assert _tracked_in(rec) == []


def test_untrack_takes_a_cache_entry_and_stops_at_foreign_objects() -> None:
    import gc

    class Foreign:
        pass

    rec = edge_records([LeadState.new(key="x")]).__next__()
    entry = (b"raw", rec)
    assert gc.is_tracked(entry) and gc.is_tracked(rec)
    assert record.untrack(entry) is True
    assert _tracked_in(entry) == []
    # Something that is not plain data below a container keeps it (and what is above it)
    # tracked: the collector must still see through it.
    rec2 = edge_records([LeadState.new(key="y")]).__next__()
    rec2.state.profile = {"company": [Foreign()]}
    assert record.untrack(rec2) is False
    assert gc.is_tracked(rec2) and gc.is_tracked(rec2.state)
    assert gc.is_tracked(rec2.state.profile) and not gc.is_tracked(rec2.state.buckets)


def test_garbage_hanging_off_an_untracked_record_is_still_collected() -> None:
    """Untracking a record hides nothing the collector must find: a cycle put into it later
    is collected once the record is gone."""
    import gc
    import weakref

    class Node:
        def __init__(self) -> None:
            self.me = self

    rec = decode_c(next(edge_records([LeadState.new(key="z")])).to_bytes())
    assert record.untrack(rec) is True and not gc.is_tracked(rec)
    node = Node()
    gone = weakref.ref(node)
    rec.state.profile["cycle"] = node  # the dict is tracked again by CPython itself
    del node
    gc.collect()
    assert gone() is not None  # still reachable through the record
    del rec
    gc.collect()
    assert gone() is None


def test_untrack_without_the_extension_does_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    import gc

    monkeypatch.setattr(record, "native", None)
    entry = (b"raw", next(edge_records([LeadState.new(key="w")])))
    assert record.untrack(entry) is False and gc.is_tracked(entry)
