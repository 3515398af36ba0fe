"""Tables whose changelog writes can be awaited.

Why the agent waits for the changelog. Faust (faust-streaming 0.15) sends a table's changelog
records through its producer buffer (``send_soon``) and acknowledges the events of a batch as
soon as the agent asks for the next one. Its commit then flushes the producer first
(``Consumer._commit_offsets``, faust-streaming PR #273), but ``ProducerBuffer.flush_atmost`` gives
up as soon as one message takes longer than 0.1 s to leave the buffer, and the offsets are
committed anyway. A kill -9 in that window would leave committed offsets whose table writes
never reached the changelog: those events would never be read again. (Found reading the code,
not what the kill -9 test hit: that was ``streams/recovery.py``.) So the agent waits until the
broker has acknowledged every changelog record of a batch before the batch is acknowledged
(:meth:`AckedTable.changelog_acked`); Faust commits only acknowledged offsets.
"""

from __future__ import annotations

import asyncio
from typing import Any

import faust


class AckedTable(faust.Table):
    """A :class:`faust.Table` that keeps the futures of its changelog sends until awaited."""

    _unacked: list[asyncio.Future] | None = None

    def send_changelog(self, *args: Any, **kwargs: Any) -> Any:
        fut = super().send_changelog(*args, **kwargs)
        if self._unacked is None:
            self._unacked = []
        self._unacked.append(fut)
        return fut

    async def changelog_acked(self) -> None:
        """Return once the broker acknowledged every changelog record sent so far (raises the
        send's error if one failed)."""
        pending, self._unacked = self._unacked, None
        if pending:
            await asyncio.gather(*pending)

