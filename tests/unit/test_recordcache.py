"""Records kept between batches give exactly what decoding the table's bytes gives."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from models.artifact import load
from models.scoring import Scorer
from streams.commands.replay import MemoryTables, apply_writes, messages_from_lines
from streams.core.processing import Message, Output, Policy, Processor, TopicNames
from streams.core.record import LeadRecord
from streams.core.recordcache import RecordCache
from streams.settings import Settings

NOW = datetime(2026, 11, 23, tzinfo=UTC).timestamp()


@pytest.fixture(scope="module")
def scorer(small_model: Path) -> Scorer:
    return load(small_model)


@pytest.fixture(scope="module", params=[5, 6])
def messages(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
             small_model: Path) -> list[Message]:
    """A simulated month of 400 leads (web, email, product, identify, outcomes, feedback)."""
    from models.simulate import run as simulate

    path = tmp_path_factory.mktemp("events") / "events.jsonl"
    simulate(400, 30, seed=request.param, out=str(path), progress=False)
    lines = [ln for ln in path.read_bytes().splitlines() if ln.strip()]
    return list(messages_from_lines(lines, Settings(model_dir=small_model)))


def _step(proc: Processor, batch: list[Message], tables: MemoryTables
          ) -> tuple[list[Output], list[tuple[str, str, bytes | None]]]:
    result = proc.process(batch, tables.leads, tables.aliases)
    apply_writes(result.writes, tables)
    return result.outputs, [(w.table, w.key, w.value) for w in result.writes]


def _batches(messages: list[Message], size: int) -> list[list[Message]]:
    return [messages[i:i + size] for i in range(0, len(messages), size)]


def test_every_output_and_write_is_the_same_with_and_without_the_cache(
        scorer: Scorer, messages: list[Message]) -> None:
    runs = []
    for capacity in (0, 100_000, 50):  # off, everything, and evicting all the time
        proc = Processor(scorer, TopicNames(), Policy(max_age=None, record_cache=capacity),
                         clock=lambda: NOW)
        tables = MemoryTables()
        queue = _batches(messages, 40)
        outs: list[list[Output]] = []
        writes: list[list[tuple[str, str, bytes | None]]] = []
        while queue:
            out, w = _step(proc, queue.pop(0), tables)
            handoffs = [Message(o.topic, 0, 0, o.key, o.value) for o in out
                        if o.topic == proc.topics.handoff]
            if handoffs:
                queue.append(handoffs)
            outs.append(out)
            writes.append(w)
        runs.append((outs, writes, len(proc.cache)))
    (outs0, writes0, _), (outs1, writes1, kept), (outs2, writes2, small) = runs
    assert sum(map(len, outs0)) > 500 and kept > 300 and small == 50  # it was exercised
    assert outs1 == outs0 and writes1 == writes0
    assert outs2 == outs0 and writes2 == writes0


def test_a_value_changed_in_the_table_is_decoded_not_taken_from_the_cache(
        scorer: Scorer, messages: list[Message]) -> None:
    """A recovery or another worker changes the bytes: the cache must not answer then."""
    cached = Processor(scorer, TopicNames(), Policy(max_age=None, record_cache=100_000),
                       clock=lambda: NOW)
    plain = Processor(scorer, TopicNames(), Policy(max_age=None), clock=lambda: NOW)
    tables = [MemoryTables(), MemoryTables()]
    batches = [b for b in _batches(messages, 40)]
    for n, batch in enumerate(batches):
        results = [_step(p, batch, t) for p, t in zip((cached, plain), tables, strict=True)]
        assert results[0] == results[1]
        if n == len(batches) // 2:
            # Someone else's state for every lead: the last published score forgotten, so
            # the next score of each is published whatever its size.
            for t in tables:
                for key, raw in list(t.leads.items()):
                    rec = LeadRecord.from_bytes(raw)
                    rec.published_score = rec.published_probability = None
                    t.leads[key] = rec.to_bytes()
            assert len(cached.cache) > 100


def test_the_cache_keeps_the_most_recently_written_and_takes_only_its_own_bytes() -> None:
    rec = [LeadRecord.__new__(LeadRecord) for _ in range(3)]
    cache = RecordCache(2)
    cache.put("a", b"1", rec[0])
    cache.put("b", b"2", rec[1])
    cache.put("a", b"3", rec[0])  # written again: now the most recent
    cache.put("c", b"4", rec[2])  # over capacity: "b" goes
    assert len(cache) == 2 and cache.take("b", b"2") is None
    assert cache.take("a", b"1") is None  # the table holds other bytes than were cached
    assert cache.take("a", b"3") is None  # ... and the entry went with the failed take
    assert cache.take("c", bytes(bytearray(b"4"))) is rec[2] and len(cache) == 0  # taken: gone
    off = RecordCache(0)
    off.put("a", b"1", rec[0])
    assert len(off) == 0


def test_cached_records_are_out_of_the_garbage_collectors_sight() -> None:
    """What the cache keeps for long does not swell the collector's youngest generation
    (streams/core/record.py, untrack)."""
    import gc

    from models.state import LeadState
    from streams.core.alerting import AlertState

    rec = LeadRecord(LeadState.new(key="a"), 10, 0.1, "cold", 1.7e9, AlertState())
    assert gc.is_tracked(rec)
    cache = RecordCache(2)
    cache.put("a", b"1", rec)
    assert not gc.is_tracked(rec) and not gc.is_tracked(rec.state.buckets)
    assert cache.take("a", b"1") is rec
