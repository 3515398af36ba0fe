"""JSON the worker keeps (outputs in flight, table keys) holds its own length in memory, not
orjson's 4 KiB write buffer (schemas/jsonbytes.py)."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime

import orjson
import pytest

from schemas.jsonbytes import dumps
from streams.core.messages import alert_bytes, factor, score_change_bytes
from streams.worker.state import encode_key

NOW = datetime(2026, 11, 30, 14, 0, tzinfo=UTC)


def test_the_bytes_are_orjsons() -> None:
    docs: list[object] = ["lead-1", "é \"q\" \\ \n", 12, 1.5, None, [1, "a", {"b": [2.5]}],
                          {"when": NOW, "big": "x" * 10_000}, ""]
    for doc in docs:
        for option in (None, orjson.OPT_UTC_Z):
            out = dumps(doc, option=option)
            assert type(out) is bytes
            assert out == orjson.dumps(doc, option=option)


def _score_change(i: int) -> bytes:
    return score_change_bytes(
        lead_id=f"lead-{i}", score=71, probability=0.71, tier="hot", percentile=97.5,
        top_factors=[factor("pricing_views_7d", 12.5, "Viewed pricing 3 times this week")],
        trend="rising", recommended_action="Call today.", model_version="leadscore-abc",
        cause_event_id=f"e-{i}", cause_event_type="page_view", event_time=NOW, emitted_at=NOW)


def _alert(i: int) -> bytes:
    return alert_bytes(kind="tier_crossing", lead_id=f"lead-{i}", from_tier="warm",
                       to_tier="hot", from_score=60, to_score=71, reason="Score 71",
                       idempotency_key=f"k-{i}", cause_event_id=f"e-{i}", event_time=NOW,
                       emitted_at=NOW, model_version="leadscore-abc")


@pytest.mark.parametrize("make", [lambda i: dumps(f"lead-{i}"), lambda i: encode_key(f"lead-{i}"),
                                  _score_change, _alert], ids=["dumps", "table key",
                                                               "score change", "alert"])
def test_kept_json_holds_about_its_length(make: Callable[[int], bytes]) -> None:
    n = 2_000
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = [make(i) for i in range(n)]
        per_item = (tracemalloc.get_traced_memory()[0] - before) / n
    finally:
        tracemalloc.stop()
    longest = max(len(b) for b in kept)
    # the bytes object's header (33 bytes), the list's slot, the allocator's rounding;
    # orjson's own result holds 1-4 KiB whatever its length
    assert per_item < longest + 128, (per_item, longest)
