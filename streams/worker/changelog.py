"""Tables whose changelog writes can be awaited, and their changelog topics created up front.

Why the agent waits for the changelog. Faust (faust-streaming 0.15) sends a table's changelog
records through its producer buffer (``send_soon``) and acknowledges the events of a batch as
soon as the agent asks for the next one. Its commit then flushes the producer first
(``Consumer._commit_offsets``, faust-streaming PR #273), but ``ProducerBuffer.flush_atmost`` gives
up as soon as one message takes longer than 0.1 s to leave the buffer, and the offsets are
committed anyway. A kill -9 in that window would leave committed offsets whose table writes
never reached the changelog: those events would never be read again. (Found reading the code,
not what the kill -9 test hit: that was ``streams/worker/recovery.py``.) So the agent waits
until the broker has acknowledged every changelog record of a batch before the batch is acknowledged
(:meth:`AckedTable.changelog_acked`); Faust commits only acknowledged offsets.

Why the changelog topics are created before the worker joins. Faust declares them when its
table service starts, which is after the consumer has subscribed. On a first start the group's
metadata snapshot can then miss a changelog topic that was just created ("Ignoring missing
topic"), and every write to that table fails its partition check (``PartitionsMismatch``)
until the consumer's next metadata refresh, five minutes later by default (robinhood/faust
#499 fixed this for the producer's metadata only). Seen in 1 kill -9 test run of 11: the first
worker's agent crashed on every batch with an identify, and Faust acknowledged those batches.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
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


def create_changelog_topics(client: Mapping[str, Any], names: list[str], partitions: int,
                            replication: int = 1, timeout: float = 60.0) -> None:
    """Create the compacted changelog topics Faust would create (an existing one is left as it
    is), and wait until the broker's metadata lists their partitions. ``client`` is the
    confluent-kafka configuration (:func:`streams.kafkaconfig.client_config`)."""
    from confluent_kafka import KafkaError, KafkaException
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({**client, "log_level": 2})
    new = [NewTopic(n, partitions, replication, config={"cleanup.policy": "compact"})
           for n in names]
    for name, fut in admin.create_topics(new, request_timeout=timeout).items():
        try:
            fut.result(timeout=timeout)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise RuntimeError(f"cannot create changelog topic {name}: {exc}") from exc
    deadline = time.monotonic() + timeout
    while True:
        topics = admin.list_topics(timeout=timeout).topics
        if all(n in topics and topics[n].error is None and topics[n].partitions
               for n in names):
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"changelog topics {names} not visible after {timeout} s")
        time.sleep(0.2)
