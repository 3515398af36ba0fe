"""The worker's fetch settings reach aiokafka's consumer when it fetches the scorer's records
(LEADSCORE_HOT_FETCH=faust; Faust creates it with its own defaults: a 1.5 s fetch wait and
fetch_min_bytes 1), without a broker: the consumer is only created, never started. The
librdkafka fetcher's settings: test_worker_hotfetch.py."""

from __future__ import annotations

import asyncio

import pytest

from streams.settings import Settings
from streams.worker.app import build_app
from streams.worker.fetch import FETCH_MIN_BYTES, BatchConsumer


def fetch_config(**settings: object) -> tuple[int, int]:
    async def create() -> tuple[int, int]:
        app = build_app(Settings(**{"hot_fetch": "faust", **settings}))  # type: ignore[arg-type]
        assert isinstance(app.consumer, BatchConsumer)
        thread = app.consumer._new_consumer_thread()
        consumer = thread._create_worker_consumer(app.transport)
        try:
            return consumer._fetch_min_bytes, consumer._fetch_max_wait_ms
        finally:
            await consumer.stop()
    return asyncio.run(create())


def test_the_defaults_gather_64_kib_for_at_most_5_ms() -> None:
    assert fetch_config() == (FETCH_MIN_BYTES, 5) == (64 * 1024, 5)


@pytest.mark.parametrize(("kb", "wait", "expected"), [(0, 7, (1, 7)), (8, 25, (8192, 25))])
def test_fetch_min_kb_and_wait_are_applied(kb: int, wait: float,
                                           expected: tuple[int, int]) -> None:
    assert fetch_config(fetch_min_kb=kb, fetch_wait_ms=wait) == expected


def test_a_negative_fetch_min_kb_is_refused() -> None:
    with pytest.raises(ValueError, match="fetch_min_kb"):
        Settings(fetch_min_kb=-1)
