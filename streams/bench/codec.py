"""``python -m streams.bench.codec``: the lead record codec's CPU per record, Python vs C.

The records are what the worker would hold: simulated events (``--events``, ``--leads``) go
through the Processor as in ``python -m streams.bench.processing``, and every lead record in
the final table is decoded (``LeadRecord.from_bytes``) and encoded (``to_bytes``) ``--passes``
times with each codec: record.py's Python code (the reference) and streams/core/_record.c
(where it was built). The garbage collector is settled first as the worker does
(``settle_garbage_collector``: start-up objects frozen, a higher threshold), and each
decoded record is dropped before the next (keeping thousands alive would measure the
allocator's and the collector's growth with the bench's heap, not the codec). Printed: CPU-us
per record for each codec and their ratio, and the part of it that is the profile's JSON
(``orjson.loads``/``dumps``, which both codecs call and the C code cannot make cheaper).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import orjson

from streams.bench.prepare import offline_run, say
from streams.commands import replay
from streams.commands.args import Parser, positive_int
from streams.core import record
from streams.core.record import LeadRecord
from streams.worker.agents.lead_events import settle_garbage_collector


def _cpu_us(work: Callable[[], Any], n: int, passes: int) -> float:
    """The best pass's CPU time per item (the least disturbed by other processes)."""
    best = float("inf")
    for _ in range(passes):
        started = time.process_time()
        work()
        best = min(best, time.process_time() - started)
    return best / n * 1e6


def _each(fn: Callable[[Any], Any], items: list[Any]) -> Callable[[], None]:
    def work() -> None:
        for item in items:
            fn(item)
    return work


def main(argv: Sequence[str] | None = None) -> int:
    p = Parser(prog="python -m streams.bench.codec", description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--events", type=positive_int, default=30_000, metavar="N")
    p.add_argument("--leads", type=positive_int, default=5_000, metavar="N")
    p.add_argument("--passes", type=positive_int, default=5, metavar="N")
    p.add_argument("--model", default=None, metavar="DIR")
    args = p.parse_args(argv)
    proc, messages = offline_run(args.events, args.leads, args.model, 4, "leadscore-codec-")
    tables, _ = replay.run(proc, messages, batch_size=1000)
    raws = [raw for key, raw in tables.leads.items() if key.startswith(record.LEAD)]
    recs = [LeadRecord.from_bytes(raw) for raw in raws]
    size = sum(map(len, raws)) / len(raws)
    say(f"{len(raws):,} lead records, {size:.0f} bytes on average")
    settle_garbage_collector()
    ways = [("python", False)] + ([("C", True)] if record.native is not None else [])
    figures: dict[str, tuple[float, float]] = {}
    was = record.NATIVE
    try:
        for name, native in ways:
            record.use_native(native)
            decode = _cpu_us(_each(LeadRecord.from_bytes, raws), len(raws), args.passes)
            encode = _cpu_us(_each(LeadRecord.to_bytes, recs), len(recs), args.passes)
            figures[name] = (decode, encode)
            print(f"record codec ({name}): decode {decode:.2f} CPU-us/record, "
                  f"encode {encode:.2f} CPU-us/record ({len(raws):,} records, "
                  f"{size:.0f} bytes on average, best of {args.passes} passes)")
    finally:
        record.use_native(was)
    docs = [orjson.dumps(r.state.profile) for r in recs if r.state.profile]
    profiles = [r.state.profile for r in recs if r.state.profile]
    loads = _cpu_us(_each(orjson.loads, docs), len(raws), args.passes)
    dumps = _cpu_us(_each(orjson.dumps, profiles), len(recs), args.passes)
    print(f"record codec (profile JSON alone, both codecs): loads {loads:.2f} CPU-us/record, "
          f"dumps {dumps:.2f} CPU-us/record ({len(docs):,} records with a profile)")
    if "C" in figures:
        (pd, pe), (cd, ce) = figures["python"], figures["C"]
        print(f"record codec (C / python): decode {cd / pd:.2f}, encode {ce / pe:.2f}")
    else:
        print("record codec (C): not built (no C compiler at install?)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
