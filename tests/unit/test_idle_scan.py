"""The idle timer scans the table in slices, giving the event loop a turn between them."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from models.artifact import load
from models.state import T
from streams.commands.replay import MemoryTables, run
from streams.core.record import LeadRecord
from streams.core.tablescan import Scan, scan
from streams.worker.timers.idle import scan_in_slices
from tests.unit.test_processing import msg, pricing, processor


@pytest.fixture(scope="module")
def table(small_model: Path) -> dict[str, bytes]:
    proc = processor(load(small_model))
    tables = MemoryTables()
    run(proc, [msg(pricing(lead=f"L{i}"), f"L{i}") for i in range(25)], tables=tables)
    return dict(tables.leads)


def test_slices_add_up_to_one_pass_and_let_other_work_run(table: dict[str, bytes]) -> None:
    last = max(LeadRecord.from_bytes(v).state.ts[T["last"]] for v in table.values())
    now = last + 30 * 86400
    whole = scan(table.items(), now, 3600, 3600, max_due=100)
    turns = 0

    async def hot_path() -> None:  # stands for the batches the worker keeps processing
        nonlocal turns
        while True:
            turns += 1
            await asyncio.sleep(0)

    async def main() -> Scan | None:
        task = asyncio.ensure_future(hot_path())
        await asyncio.sleep(0)
        try:
            return await scan_in_slices(table.items(), now, 3600, 3600, None, slice_keys=4)
        finally:
            task.cancel()

    turns_before = turns
    sliced = asyncio.run(main())
    assert sliced is not None
    assert (sliced.leads, sliced.anonymous, sliced.due) == (whole.leads, whole.anonymous,
                                                           whole.due)
    assert sliced.tiers == whole.tiers and sliced.score_counts == whole.score_counts
    assert whole.leads == 25 and len(whole.due) == 25
    # 25 keys in slices of 4: the other task ran between every two slices.
    assert turns - turns_before >= 25 // 4


def test_a_rebalance_during_the_scan_abandons_it(table: dict[str, bytes]) -> None:
    stores = {0: dict(list(table.items())[:10]), 1: dict(list(table.items())[10:])}

    def items() -> Iterator[tuple[str, bytes]]:  # as Faust iterates its partition stores
        for db in stores.values():
            yield from db.items()

    async def main() -> Scan | None:
        async def rebalance() -> None:
            await asyncio.sleep(0)
            stores.pop(1)  # a partition revoked between two slices

        task = asyncio.ensure_future(rebalance())
        found = await scan_in_slices(items(), None, 3600, 3600, None, slice_keys=4)
        await task
        return found

    assert asyncio.run(main()) is None
