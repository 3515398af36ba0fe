"""A reader accepts the current and the previous schema version (v1 -> v2 upgrade on read)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from schemas import (
    CURRENT_SCHEMA_VERSION,
    EVENT_TYPES,
    PREVIOUS_SCHEMA_VERSION,
    DeadLetterRecord,
    Event,
    ReasonCode,
    parse_event,
    upgrade_v1_to_v2,
    validate_event,
)
from schemas.export import EXAMPLES_DIR

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def v2_example(name: str) -> dict[str, Any]:
    data: dict[str, Any] = orjson.loads((EXAMPLES_DIR / f"{name}.json").read_bytes())
    return data


def as_v1(v2: dict[str, Any]) -> dict[str, Any]:
    """What a v1 producer sent: event time under `timestamp`, schema_version 1."""
    v1 = {k: v for k, v in v2.items() if k != "occurred_at"}
    v1["timestamp"] = v2["occurred_at"]
    v1["schema_version"] = 1
    return v1


def test_versions() -> None:
    assert (PREVIOUS_SCHEMA_VERSION, CURRENT_SCHEMA_VERSION) == (1, 2)


@pytest.mark.parametrize("name", sorted(EVENT_TYPES))
def test_v1_event_reads_as_the_same_v2_event(name: str) -> None:
    v2 = parse_event(orjson.dumps(v2_example(name)), now=NOW, max_age=None)
    v1 = parse_event(orjson.dumps(as_v1(v2_example(name))), now=NOW, max_age=None)
    assert isinstance(v2, Event) and isinstance(v1, Event), getattr(v1, "message", "")
    assert v1 == v2
    assert v1.schema_version == CURRENT_SCHEMA_VERSION


def test_upgraded_event_is_written_as_current_version() -> None:
    ev = parse_event(orjson.dumps(as_v1(v2_example("page_view"))), now=NOW, max_age=None)
    assert isinstance(ev, Event)
    out = orjson.loads(ev.to_bytes())
    assert out["schema_version"] == 2
    assert "timestamp" not in out and out["occurred_at"] == "2026-03-02T09:14:05Z"


def test_v1_rules_still_apply_after_upgrade() -> None:
    v1 = as_v1(v2_example("page_view"))
    v1["timestamp"] = "2026-03-02T09:14:05"  # naive
    result = parse_event(orjson.dumps(v1), now=NOW, max_age=None)
    assert isinstance(result, DeadLetterRecord)
    assert result.reason_code == ReasonCode.NAIVE_TIMESTAMP
    assert "occurred_at" in result.message


def test_v1_event_missing_its_timestamp_is_missing_field() -> None:
    v1 = as_v1(v2_example("login"))
    del v1["timestamp"]
    result = parse_event(orjson.dumps(v1), now=NOW, max_age=None)
    assert isinstance(result, DeadLetterRecord)
    assert result.reason_code == ReasonCode.MISSING_FIELD


def test_v1_with_both_time_fields_is_rejected_not_guessed() -> None:
    v1 = as_v1(v2_example("login"))
    v1["occurred_at"] = "2026-03-06T08:00:00Z"
    result = parse_event(orjson.dumps(v1), now=NOW, max_age=None)
    assert isinstance(result, DeadLetterRecord)
    assert result.reason_code == ReasonCode.UNKNOWN_FIELD


@pytest.mark.parametrize("version", [0, 3, 99, -1])
def test_other_versions_are_unsupported(version: int) -> None:
    data = v2_example("login") | {"schema_version": version}
    result = parse_event(orjson.dumps(data), now=NOW, max_age=None)
    assert isinstance(result, DeadLetterRecord)
    assert result.reason_code == ReasonCode.UNSUPPORTED_SCHEMA_VERSION


def test_upgrade_is_pure() -> None:
    v1 = as_v1(v2_example("login"))
    snapshot = dict(v1)
    upgraded = upgrade_v1_to_v2(v1)
    assert v1 == snapshot
    assert upgraded["occurred_at"] == v1["timestamp"] and "timestamp" not in upgraded


def test_validate_event_also_upgrades() -> None:
    ev = validate_event(as_v1(v2_example("feature_used")))
    assert ev.properties.feature == "pipeline_dashboard"
    assert ev.schema_version == 2
