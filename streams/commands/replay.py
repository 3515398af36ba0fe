"""``leadscore replay``: each lead's final score, computed offline through the worker's code.

Events are routed exactly as ``leadscore produce`` would send them and processed by the same
:class:`~streams.core.processing.Processor`, with dicts in place of the Faust tables and the handoff
topic looped back in process. The final score of a lead is its model score on its final state
at the time of its last event: the same definition the parity test applies to the worker's
table (read from its changelog), so the two can be compared to 1e-9.

``--emit FILE`` also writes the messages the worker would publish, score changes and alerts
in the order they were made, one JSON object a line: ``{"topic": ..., "key": ..., "value":
...}`` with the message exactly as the topic carries it. The last score change per lead is
what the compacted ``scores.changes`` ends with (within ``MIN_SCORE_CHANGE`` of the final
score, see the README's delivery section).
"""

from __future__ import annotations

import argparse
import math
import sys
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from models.state import T
from streams.commands.produce import route_lines
from streams.core.processing import Message, Output, Processor, Write
from streams.core.record import LEAD, LeadRecord
from streams.settings import Settings, get_settings


@dataclass
class MemoryTables:
    leads: dict[str, bytes] = field(default_factory=dict)
    aliases: dict[str, bytes] = field(default_factory=dict)


def messages_from_lines(lines: Iterable[bytes], settings: Settings) -> Iterator[Message]:
    for offset, r in enumerate(route_lines(iter(lines), settings, settings.topic_website)):
        yield Message(r.topic, 0, offset, r.key, r.value)


def apply_writes(writes: Iterable[Write], tables: MemoryTables) -> None:
    """A batch's table writes, as the worker's RocksDB write would apply them."""
    for w in writes:
        target = tables.leads if w.table == "leads" else tables.aliases
        if w.value is None:
            target.pop(w.key, None)
        else:
            target[w.key] = w.value


def run(proc: Processor, messages: Iterable[Message], batch_size: int = 500,
        tables: MemoryTables | None = None) -> tuple[MemoryTables, list[Output]]:
    """Process everything, looping handoffs back; return the tables and the other outputs."""
    tables = tables or MemoryTables()
    queue: deque[Message] = deque(messages)
    outputs: list[Output] = []
    while queue:
        batch = [queue.popleft() for _ in range(min(batch_size, len(queue)))]
        result = proc.process(batch, tables.leads, tables.aliases)
        apply_writes(result.writes, tables)
        for out in result.outputs:
            if out.topic == proc.topics.handoff:
                queue.append(Message(out.topic, 0, 0, out.key, out.value))
            else:
                outputs.append(out)
    return tables, outputs


@dataclass(frozen=True)
class FinalScore:
    lead_id: str
    probability: float
    score: int
    at: float


def final_scores(proc: Processor, records: Iterable[tuple[str, bytes]]) -> dict[str, FinalScore]:
    """Score every open lead's final state at its last event time (one vectorised call)."""
    rows: list[tuple[str, float]] = []
    feats = []
    for key, raw in records:
        if not key.startswith(LEAD):
            continue
        state = LeadRecord.from_bytes(raw).state
        at = state.ts[T["last"]]
        if math.isnan(at) or not math.isnan(state.closed_at):
            continue
        rows.append((key[len(LEAD):], at))
        feats.append(proc.scorer.features(state, at))
    if not rows:
        return {}
    scored = proc.scorer.score_batch(np.vstack(feats))
    return {lead: FinalScore(lead, float(scored.probability[i]), int(scored.score[i]), at)
            for i, (lead, at) in enumerate(rows)}


def emitted(proc: Processor, outputs: Iterable[Output]) -> Iterator[dict[str, Any]]:
    """The score changes and alerts among ``outputs``, in order, as --emit writes them."""
    published = (proc.topics.changes, proc.topics.alerts)
    for o in outputs:
        if o.topic in published:
            yield {"topic": o.topic, "key": None if o.key is None else o.key.decode(),
                   "value": orjson.loads(o.value)}


def write_emitted(path: Path, proc: Processor, outputs: Iterable[Output]) -> int:
    n = 0
    with path.open("wb") as fh:
        for doc in emitted(proc, outputs):
            fh.write(orjson.dumps(doc) + b"\n")
            n += 1
    return n


def add_arguments(sub: argparse._SubParsersAction) -> None:
    from streams.commands.args import existing_file, output_file, positive_float

    p = sub.add_parser(
        "replay",
        help="compute each lead's final score offline, through the worker's own code",
        description="Replay an event file through the scorer's processing code (no Kafka) and "
        "print each open lead's final score as JSON lines: lead_id, probability, score, at.",
    )
    p.add_argument("--events", type=existing_file, required=True, metavar="FILE")
    p.add_argument("--model", type=Path, default=None, metavar="DIR",
                   help="model artifact (default: $LEADSCORE_MODEL_DIR)")
    p.add_argument("--out", type=Path, default=None, metavar="FILE",
                   help="write the JSON lines here instead of stdout")
    p.add_argument("--emit", type=output_file, default=None, metavar="FILE",
                   help="also write the score changes and alerts the worker would publish, "
                   "in order, as JSON lines {topic, key, value}")
    p.add_argument("--max-age-days", type=positive_float, default=None, metavar="D",
                   help="dead-letter events older than D days, as the worker does with "
                   "LEADSCORE_MAX_EVENT_AGE_DAYS (default: no limit; a file is history)")
    p.set_defaults(func=run_from_args)


def run_from_args(args: argparse.Namespace) -> int:
    from streams.runtime import build_processor

    settings = get_settings()
    proc = build_processor(settings, model_dir=args.model)
    max_age = timedelta(days=args.max_age_days) if args.max_age_days else None
    proc.policy = replace(proc.policy, max_age=max_age)
    with args.events.open("rb") as fh:
        tables, outputs = run(proc, messages_from_lines(fh, settings))
    scores = final_scores(proc, tables.leads.items())
    out = args.out.open("wb") if args.out else sys.stdout.buffer
    try:
        for fs in sorted(scores.values(), key=lambda f: f.lead_id):
            out.write(orjson.dumps({"lead_id": fs.lead_id, "probability": fs.probability,
                                    "score": fs.score, "at": fs.at}) + b"\n")
    finally:
        if args.out:
            out.close()
    n_dead = sum(1 for o in outputs if o.topic == proc.topics.deadletter)
    emitted = ""
    if args.emit:
        n = write_emitted(args.emit, proc, outputs)
        emitted = f", {n:,} score changes and alerts written to {args.emit}"
    print(f"replayed: {len(scores):,} open leads scored, {n_dead:,} dead letters{emitted}",
          file=sys.stderr)
    return 0
