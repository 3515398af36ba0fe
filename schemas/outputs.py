"""Messages we publish: score changes, alerts, and dead letters.

They are facts about a moment, so they are immutable; they carry schema_version like inputs so
that CRM writers and alerting workers can evolve with the same compatibility rule.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictFloat,
    StrictInt,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from schemas.envelope import (
    CURRENT_SCHEMA_VERSION,
    Contract,
    Identifier,
    LongText,
    Name,
    Text,
    UtcDatetime,
    check_schema_version,
)
from schemas.jsonbytes import dumps
from schemas.reasons import ReasonCode

OUTPUT_TOPICS: dict[str, str] = {
    "score_change": "scores.changes",
    "alert": "scores.alerts",
    "dead_letter": "events.deadletter",
}

Tier = Literal["hot", "warm", "cold"]
Trend = Literal["rising", "steady", "falling"]
AlertKind = Literal["entered_tier", "spike", "decline"]
Score = Annotated[StrictInt, Field(ge=0, le=100)]
Probability = Annotated[StrictFloat, Field(ge=0.0, le=1.0)]
Percentile = Annotated[StrictFloat, Field(ge=0.0, le=100.0)]


class OutputMessage(Contract):
    """Shared behaviour of output messages: version check and bytes in/out.

    Readers of outputs IGNORE unknown fields (tolerant reader), so that adding an optional field
    to an output is a compatible change; inputs are the other way round at the envelope level,
    because there a typo would silently lose data.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    schema_version: int = CURRENT_SCHEMA_VERSION

    @field_validator("schema_version", mode="before")
    @classmethod
    def _supported_version(cls, value: Any) -> Any:
        return check_schema_version(value)

    def to_bytes(self) -> bytes:
        return dumps(self.model_dump(mode="json", exclude_none=True))

    @classmethod
    def from_bytes(cls, raw: bytes) -> Self:
        """Strict reader for consumers of our outputs; raises pydantic.ValidationError."""
        return cls.model_validate_json(raw)


class Factor(BaseModel):
    """One reason the score is what it is, in units a salesperson can read."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    feature: Name = Field(
        description='The reason\'s name ("intent", "activity", "product", ...: the list is in '
        "the README); a reason groups the model's features that say the same thing. Before "
        "reasons it was one feature's name.")
    points: StrictFloat = Field(
        description="Signed contribution on the 0-100 score scale (+12.5 raises the score): "
        "the sum of the reason's features' contributions.")
    sentence: Annotated[Text, Field(min_length=1, max_length=300)] = Field(
        description='What the lead did or is, in words, e.g. "Viewed pricing 4 times and a '
        'competitor comparison once in the last 30 days, the latest today".')


class ScoreChange(OutputMessage):
    """Published to scores.changes (compacted, keyed by lead_id) whenever a lead's score moves."""

    lead_id: Identifier
    score: Score
    probability: Probability = Field(description="Calibrated probability of conversion.")
    tier: Tier
    percentile: Percentile = Field(description="Rank among currently scored leads, 0-100.")
    top_factors: list[Factor] = Field(default_factory=list, max_length=10)
    trend: Trend
    recommended_action: LongText
    model_version: Name
    cause_event_id: Identifier
    cause_event_type: Name
    event_time: UtcDatetime = Field(description="occurred_at of the causing event.")
    emitted_at: UtcDatetime = Field(description="When the scorer published this message.")


class LeadScore(OutputMessage):
    """Answer of the worker's lookup API, ``GET /leads/{lead_id}``: the lead's current score.

    Same fields and meanings as :class:`ScoreChange`, minus the causing event; ``top_factors``
    are computed at lookup time from the stored state, so they always explain this score.
    """

    lead_id: Identifier
    score: Score
    probability: Probability = Field(description="Calibrated probability of conversion.")
    tier: Tier
    percentile: Percentile = Field(
        description="Rank among the leads scored by the answering worker, 0-100.")
    top_factors: list[Factor] = Field(default_factory=list, max_length=10)
    trend: Trend
    recommended_action: LongText
    model_version: Name
    updated_at: UtcDatetime = Field(
        description="Event time the score was computed at (the newest event or idle re-score).")


def alert_idempotency_key(lead_id: str, kind: str, to_tier: str | None, cause_event_id: str) -> str:
    """Deterministic key so a redelivered or reprocessed event never alerts a human twice."""
    raw = "\x1f".join((lead_id, kind, to_tier or "", cause_event_id)).encode()
    return hashlib.sha256(raw).hexdigest()[:32]


class Alert(OutputMessage):
    """Published to scores.alerts (keyed by lead_id) when a lead needs a human now."""

    kind: AlertKind
    lead_id: Identifier
    from_tier: Tier | None = None
    to_tier: Tier
    from_score: Score | None = None
    to_score: Score
    score: Score = Field(description="Current score (equal to to_score; kept for simple readers).")
    reason: LongText
    idempotency_key: Identifier = Field(
        description="Stable across redeliveries; see schemas.alert_idempotency_key.")
    cause_event_id: Identifier
    event_time: UtcDatetime
    emitted_at: UtcDatetime
    model_version: Name


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


# A dead letter keeps at most this many bytes of the original value, and repeats them as text
# only up to the smaller bound. Why bounds: base64 and the JSON-escaped text copy make a dead
# letter up to ~7x its original, so a record a little under the broker's 1 MB limit gave a
# dead letter over it, whose send failed on every retry and stopped the partition. With these
# bounds the worst case (512 KiB of base64, or 64 KiB whose every byte is an escaped control
# character, plus the text) stays under 700 KB. Larger originals keep their size and SHA-256,
# and their Kafka coordinates locate the full record for as long as the topic retains it.
DEAD_LETTER_MAX_ORIGINAL = 512 * 1024
DEAD_LETTER_MAX_TEXT = 64 * 1024
# Keys longer than this (ids are at most 128 characters) are replaced by their SHA-256 (hex).
DEAD_LETTER_MAX_KEY = 1024


def dead_letter_key(key: bytes | None) -> bytes | None:
    """The Kafka key of a dead letter: the original key, or its SHA-256 when it is too long to
    repeat (the record still fits in a Kafka message)."""
    if key is None or len(key) <= DEAD_LETTER_MAX_KEY:
        return key
    return b"sha256:" + hashlib.sha256(key).hexdigest().encode()


class DeadLetterRecord(OutputMessage):
    """An input we could not accept, with everything needed to fix and replay it.

    The original bytes travel as base64 (`original_b64`) because they may not be UTF-8 or JSON;
    `original_text` repeats them as text when they are valid UTF-8 and at most 64 KiB, for
    humans. `original_b64` holds at most the first 512 KiB (`original_truncated` says when it
    holds less than all of it; `original_size` and `original_sha256` describe the whole value),
    so a dead letter always fits in a Kafka message. Use `DeadLetterRecord.create(...)` and
    `.original`; the worker adds topic/partition/offset with `.with_source(...)`.
    """

    reason_code: ReasonCode
    message: LongText = Field(description="What is wrong, for the producer team.")
    original_b64: str = Field(description="The rejected message value, base64 (RFC 4648).")
    original_text: str | None = Field(
        default=None, description="The same bytes decoded as UTF-8, if they are valid UTF-8 "
        "and at most 65,536 bytes.")
    original_size: Annotated[StrictInt, Field(ge=0)] | None = Field(
        default=None, description="Size in bytes of the whole rejected value.")
    original_sha256: str | None = Field(
        default=None, pattern="^[0-9a-f]{64}$",
        description="SHA-256 (hex) of the whole rejected value.")
    original_truncated: bool = Field(
        default=False, description="True when original_b64 holds only the first 524,288 bytes "
        "of a larger value.")
    source_topic: str | None = None
    partition: Annotated[StrictInt, Field(ge=0)] | None = None
    offset: Annotated[StrictInt, Field(ge=0)] | None = None
    event_id: str | None = Field(default=None, description="Best effort, if it could be read.")
    event_type: str | None = Field(default=None, description="Best effort, if it could be read.")
    failed_at: UtcDatetime

    @model_validator(mode="after")
    def _consistent(self) -> DeadLetterRecord:
        try:
            raw = base64.b64decode(self.original_b64, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise PydanticCustomError("invalid_value", "original_b64 is not base64") from exc
        if self.original_text is not None and _utf8(raw) != self.original_text:
            raise PydanticCustomError("invalid_value", "original_text does not match original_b64")
        if self.original_size is not None:
            whole = len(raw) == self.original_size
            if self.original_truncated == whole or len(raw) > self.original_size:
                raise PydanticCustomError(
                    "invalid_value", "original_size and original_truncated do not match "
                    "original_b64")
        return self

    @property
    def original(self) -> bytes:
        return base64.b64decode(self.original_b64)

    @classmethod
    def create(
        cls,
        original: bytes,
        reason_code: ReasonCode,
        message: str,
        *,
        failed_at: datetime | None = None,
        source_topic: str | None = None,
        partition: int | None = None,
        offset: int | None = None,
        event_id: str | None = None,
        event_type: str | None = None,
    ) -> DeadLetterRecord:
        kept = original[:DEAD_LETTER_MAX_ORIGINAL]
        return cls(
            reason_code=reason_code,
            message=message[:5000],
            original_b64=_b64(kept),
            original_text=_utf8(kept) if len(kept) <= DEAD_LETTER_MAX_TEXT else None,
            original_size=len(original),
            original_sha256=hashlib.sha256(original).hexdigest(),
            original_truncated=len(kept) < len(original),
            source_topic=source_topic,
            partition=partition,
            offset=offset,
            event_id=event_id,
            event_type=event_type,
            failed_at=failed_at or datetime.now(UTC),
        )

    def with_source(self, topic: str | None, partition: int | None,
                    offset: int | None) -> DeadLetterRecord:
        """Copy with the Kafka coordinates of the rejected record filled in."""
        return self.model_copy(update={"source_topic": topic, "partition": partition,
                                       "offset": offset})


def _utf8(raw: bytes) -> str | None:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
