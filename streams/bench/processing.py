"""``python -m streams.bench.processing``: the scorer's processing alone, without Kafka.

The bench's events go through :class:`streams.core.processing.Processor` exactly as the
worker would hand them over (routed to their topics and partitions, batches of
``--batch``, the handoffs looped back), with in-memory tables, as ``leadscore replay`` does.
Printed: CPU-microseconds per event (this process's CPU time over the events), so the cost
of validation, state, features, scoring and explanations can be told from the cost of
Kafka and Faust in ``python -m streams.bench``'s CPU per event. The garbage collector is
settled first as the worker does (``settle_garbage_collector``); without it every full
collection walked this process's start-up heap and the figure was not the worker's.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence

from streams.bench.prepare import offline_run
from streams.commands import replay
from streams.commands.args import Parser, positive_int
from streams.worker.agents.lead_events import settle_garbage_collector


def main(argv: Sequence[str] | None = None) -> int:
    p = Parser(prog="python -m streams.bench.processing",
               description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--events", type=positive_int, default=50_000, metavar="N")
    p.add_argument("--leads", type=positive_int, default=15_000, metavar="N")
    p.add_argument("--batch", type=positive_int, default=1000, metavar="N")
    p.add_argument("--partitions", type=positive_int, default=4, metavar="N")
    p.add_argument("--model", default=None, metavar="DIR")
    args = p.parse_args(argv)
    proc, messages = offline_run(args.events, args.leads, args.model, args.partitions,
                                 "leadscore-processing-")
    settle_garbage_collector()
    started = time.process_time()
    # The loop replay runs (handoffs looped back), so the figure is what replay and the worker
    # share: Processor.process plus applying its writes.
    _, outputs = replay.run(proc, messages, batch_size=args.batch)
    cpu = time.process_time() - started
    print(f"processing: {cpu / len(messages) * 1e6:.1f} CPU-us/event ({len(messages):,} "
          f"events, batches of {args.batch}, {len(outputs):,} outputs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
