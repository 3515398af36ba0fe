"""The Faust adjustment the delivery guarantee rests on: recovery seeks before fetching."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from unittest.mock import MagicMock

from streams.worker.recovery import SeekFirstRecovery


def test_recovery_stops_the_flow_and_seeks_every_input_before_resuming_them():
    calls: list[str] = []
    committed, uncommitted = ("in", 0), ("in", 1)
    consumer = MagicMock()
    consumer.assignment.return_value = {committed, uncommitted, ("app-leads-changelog", 0)}
    consumer._read_offset = {committed: 41, uncommitted: None}  # as perform_seek leaves them

    async def perform_seek() -> None:
        calls.append("seek committed")

    async def earliest_offsets(*tps):  # noqa: ANN002, ANN202
        return {tp: 3 for tp in tps}

    async def seek(tp, offset) -> None:  # noqa: ANN001
        calls.append(f"seek {tp} {offset}")

    consumer.perform_seek = perform_seek
    consumer.earliest_offsets = earliest_offsets
    consumer.seek = seek
    consumer.stop_flow.side_effect = lambda: calls.append("stop flow")
    consumer.resume_partitions.side_effect = lambda tps: calls.append(f"resume {sorted(tps)}")
    consumer.resume_flow.side_effect = lambda: calls.append("resume flow")

    async def wait(coro, timeout=None):  # noqa: ANN001, ANN202 - Recovery._wait's shape
        await coro

    async def fetcher_start() -> None:
        calls.append("fetch")

    async def send() -> None:
        return None

    app = MagicMock()
    app.consumer = consumer
    app.consumer_generation_id = 7
    app.conf.consumer_auto_offset_reset = "earliest"
    app.on_rebalance_complete.send = send
    app._fetcher.maybe_start = fetcher_start
    recovery = SimpleNamespace(
        app=app, log=MagicMock(), tables=MagicMock(), completed=MagicMock(),
        actives_for_table={}, standbys_for_table={}, _wait=wait,
        _set_recovery_ended=lambda: None, _is_changelog_tp=lambda tp: "changelog" in tp[0])
    recovery._seek_uncommitted = lambda inputs: SeekFirstRecovery._seek_uncommitted(
        recovery, inputs)  # type: ignore[arg-type]
    recovery.tables.values.return_value = []

    asyncio.run(SeekFirstRecovery.on_recovery_completed(recovery, 7))  # type: ignore[arg-type]

    assert calls == ["stop flow", "seek committed", f"seek {uncommitted} 3",
                     f"resume {sorted([committed, uncommitted])}", "resume flow", "fetch"]
