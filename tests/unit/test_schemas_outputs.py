"""Output messages: bounds, idempotency keys, and dead-letter byte handling."""

from __future__ import annotations

import base64
import hashlib
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
    parse_event,
)
from schemas.outputs import DEAD_LETTER_MAX_ORIGINAL, dead_letter_key

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


# The broker's default limit for one record (message.max.bytes 1048588, with batch overhead).
BROKER_LIMIT = 1_000_000


@pytest.mark.parametrize("size", [64_000, 450_000, 600_000, 1_040_000],
                         ids=["64KB", "450KB", "600KB", "1MB"])
@pytest.mark.parametrize("byte", [b"x", b"\x01", b"\xff"], ids=["ascii", "control", "not-utf8"])
def test_a_dead_letter_always_fits_in_a_kafka_message(size: int, byte: bytes) -> None:
    raw = byte * size
    rec = parse_event(raw, now=T, max_bytes=1 << 30)
    assert isinstance(rec, DeadLetterRecord)
    wire = rec.to_bytes()
    assert len(wire) < 0.7 * BROKER_LIMIT
    back = DeadLetterRecord.from_bytes(wire)
    assert back.original_size == size
    assert back.original_sha256 == hashlib.sha256(raw).hexdigest()
    assert back.original_truncated == (size > DEAD_LETTER_MAX_ORIGINAL)
    assert back.original == raw[:DEAD_LETTER_MAX_ORIGINAL]
    assert (back.original_text is not None) == (size <= 65536 and byte != b"\xff")


def test_a_dead_letter_key_is_bounded_too() -> None:
    assert dead_letter_key(b"lead-1") == b"lead-1" and dead_letter_key(None) is None
    long = b"k" * 5000
    assert dead_letter_key(long) == b"sha256:" + hashlib.sha256(long).hexdigest().encode()


def test_a_small_dead_letter_keeps_everything_and_says_so() -> None:
    rec = DeadLetterRecord.create(b"[1,2]", ReasonCode.NOT_AN_OBJECT, "m", failed_at=T)
    assert (rec.original, rec.original_size, rec.original_truncated) == (b"[1,2]", 5, False)


def test_a_dead_letter_that_lies_about_its_size_is_refused() -> None:
    rec = DeadLetterRecord.create(b"[1,2]", ReasonCode.NOT_AN_OBJECT, "m", failed_at=T)
    with pytest.raises(ValueError, match="original_size"):
        DeadLetterRecord.model_validate({**rec.model_dump(mode="json"), "original_size": 9})
