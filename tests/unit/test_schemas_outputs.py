"""Output messages: bounds, idempotency keys, and dead-letter byte handling."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from schemas import (
    Alert,
    DeadLetterRecord,
    ReasonCode,
    ScoreChange,
    alert_idempotency_key,
)

T = datetime(2026, 3, 2, 9, 29, 30, tzinfo=UTC)


def score_change(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "lead_id": "lead-1", "score": 82, "probability": 0.41, "tier": "hot", "percentile": 97.5,
        "top_factors": [{"feature": "pricing_views_7d", "points": -3.5,
                         "sentence": "Fewer pricing views than last week."}],
        "trend": "rising", "recommended_action": "Call today.", "model_version": "m1",
        "cause_event_id": "e1", "cause_event_type": "page_view", "event_time": T,
        "emitted_at": T, "schema_version": 2,
    }
    data.update(overrides)
    return data


def test_score_change_accepts_valid() -> None:
    msg = ScoreChange.model_validate(score_change())
    assert msg.top_factors[0].points == -3.5
    assert ScoreChange.from_bytes(msg.to_bytes()) == msg


@pytest.mark.parametrize("overrides", [
    {"score": 101}, {"score": -1}, {"score": 50.5}, {"probability": 1.01},
    {"probability": -0.1}, {"tier": "lukewarm"}, {"percentile": 100.5}, {"trend": "up"},
    {"event_time": "2026-03-02T09:29:30"}, {"lead_id": ""}, {"schema_version": 3},
    {"top_factors": [{"feature": "x", "points": "1", "sentence": "s"}]},
], ids=str)
def test_score_change_rejects_invalid(overrides: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        ScoreChange.model_validate(score_change(**overrides))


def test_unknown_output_fields_are_ignored_so_adding_one_is_compatible() -> None:
    msg = ScoreChange.model_validate(score_change(added_in_a_later_release="x"))
    assert "added_in_a_later_release" not in msg.model_dump()


def test_previous_version_output_is_readable() -> None:
    assert ScoreChange.model_validate(score_change(schema_version=1)).schema_version == 1


def test_alert_idempotency_key_is_stable_and_discriminating() -> None:
    key = alert_idempotency_key("lead-1", "entered_tier", "hot", "e1")
    assert key == alert_idempotency_key("lead-1", "entered_tier", "hot", "e1")
    assert key != alert_idempotency_key("lead-1", "entered_tier", "warm", "e1")
    assert key != alert_idempotency_key("lead-1", "spike", "hot", "e1")
    assert key != alert_idempotency_key("lead-1", "entered_tier", "hot", "e2")
    alert = Alert(kind="entered_tier", lead_id="lead-1", from_tier="warm", to_tier="hot",
                  from_score=60, to_score=82, score=82, reason="entered hot",
                  idempotency_key=key, cause_event_id="e1", event_time=T, emitted_at=T,
                  model_version="m1")
    assert Alert.from_bytes(alert.to_bytes()) == alert


def test_alert_rejects_unknown_kind() -> None:
    with pytest.raises(ValidationError):
        Alert(kind="meh", lead_id="l", to_tier="hot", to_score=1, score=1,
              reason="r", idempotency_key="k", cause_event_id="e", event_time=T, emitted_at=T,
              model_version="m")


@pytest.mark.parametrize("raw", [b"", b'{"a":1}', b"\xff\xfe\x00 not utf-8", bytes(range(256))])
def test_dead_letter_keeps_original_bytes_exactly(raw: bytes) -> None:
    rec = DeadLetterRecord.create(raw, ReasonCode.UNPARSEABLE_JSON, "bad", failed_at=T)
    assert rec.original == raw
    back = DeadLetterRecord.from_bytes(rec.to_bytes())
    assert back == rec
    assert back.original == raw


def test_dead_letter_text_only_when_utf8() -> None:
    assert DeadLetterRecord.create(b'{"a":1}', ReasonCode.NOT_AN_OBJECT, "m",
                                   failed_at=T).original_text == '{"a":1}'
    assert DeadLetterRecord.create(b"\xff", ReasonCode.UNPARSEABLE_JSON, "m",
                                   failed_at=T).original_text is None


def test_dead_letter_with_source_fills_kafka_coordinates() -> None:
    rec = DeadLetterRecord.create(b"x", ReasonCode.UNPARSEABLE_JSON, "m", failed_at=T)
    placed = rec.with_source("events.email", 2, 99)
    assert (placed.source_topic, placed.partition, placed.offset) == ("events.email", 2, 99)
    assert rec.source_topic is None  # messages are immutable


def test_dead_letter_rejects_inconsistent_text() -> None:
    with pytest.raises(ValidationError):
        DeadLetterRecord(reason_code=ReasonCode.UNPARSEABLE_JSON, message="m",
                         original_b64=base64.b64encode(b"abc").decode(), original_text="xyz",
                         failed_at=T)
    with pytest.raises(ValidationError):
        DeadLetterRecord(reason_code=ReasonCode.UNPARSEABLE_JSON, message="m",
                         original_b64="not base64!", failed_at=T)
