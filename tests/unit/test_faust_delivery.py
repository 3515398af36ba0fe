"""The two Faust adjustments the delivery guarantee rests on (no broker needed)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from unittest.mock import MagicMock

import faust
import pytest

from streams.worker.changelog import AckedTable
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


def test_acked_table_returns_once_every_changelog_send_is_acknowledged(monkeypatch):
    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        futs = [loop.create_future(), loop.create_future()]
        sent = iter(futs)
        monkeypatch.setattr(faust.Table, "send_changelog", lambda self, *a, **kw: next(sent))
        table = AckedTable.__new__(AckedTable)  # no app needed for the bookkeeping
        table.send_changelog(0, "k1", b"v1")
        table.send_changelog(1, "k2", b"v2")
        waiting = asyncio.ensure_future(table.changelog_acked())
        await asyncio.sleep(0)
        futs[0].set_result(None)
        await asyncio.sleep(0)
        assert not waiting.done()  # one record still unacknowledged
        futs[1].set_result(None)
        await waiting
        await table.changelog_acked()  # nothing pending: returns at once

    asyncio.run(scenario())


def test_acked_table_raises_a_failed_changelog_send(monkeypatch):
    async def scenario() -> None:
        fut = asyncio.get_running_loop().create_future()
        fut.set_exception(RuntimeError("broker said no"))
        monkeypatch.setattr(faust.Table, "send_changelog", lambda self, *a, **kw: fut)
        table = AckedTable.__new__(AckedTable)
        table.send_changelog(0, "k", b"v")
        with pytest.raises(RuntimeError, match="broker said no"):
            await table.changelog_acked()

    asyncio.run(scenario())
