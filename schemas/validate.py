"""Raw bytes -> a valid Event, or a DeadLetterRecord that says exactly what is wrong.

`parse_event` is the only door from Kafka into the scorer. It never raises on bad input: a
poison message must cost one dead letter, not a crashed partition. Checks run cheapest first
(size, JSON, shape, version, type) so the reason code names the most basic problem.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from schemas.envelope import SUPPORTED_SCHEMA_VERSIONS
from schemas.events import EVENT_CLASSES, Event
from schemas.outputs import DeadLetterRecord
from schemas.reasons import ReasonCode

DEFAULT_MAX_BYTES = 64 * 1024
DEFAULT_MAX_AGE = timedelta(days=400)
"""Events older than this are refused by default (a replay of year-old history passes
max_age=None). 400 days = a year of history plus slack for long sales cycles."""
MAX_FUTURE_SKEW = timedelta(minutes=5)
"""Clock skew we tolerate from producers; more than this in the future is a broken clock."""

_ID_FIELDS = frozenset({"event_id", "lead_id", "anonymous_id"})

# pydantic error type -> reason code. Custom errors raised in schemas use the reason code itself
# as their error type, so they map to themselves (see _reason_for).
_ERROR_TYPE_REASONS: dict[str, ReasonCode] = {
    "missing": ReasonCode.MISSING_FIELD,
    "extra_forbidden": ReasonCode.UNKNOWN_FIELD,
    "timezone_aware": ReasonCode.NAIVE_TIMESTAMP,
    "union_tag_invalid": ReasonCode.UNKNOWN_EVENT_TYPE,
}
_REASON_VALUES = frozenset(code.value for code in ReasonCode)
_WRONG_TYPE_SUFFIXES = ("_type", "_from_float", "_from_str", "_parsing_size")


def parse_event(
    raw: bytes | bytearray | memoryview | None,
    *,
    now: datetime | None = None,
    max_age: timedelta | None = DEFAULT_MAX_AGE,
    max_bytes: int = DEFAULT_MAX_BYTES,
    source_topic: str | None = None,
    partition: int | None = None,
    offset: int | None = None,
) -> Event | DeadLetterRecord:
    """Decode and validate one input message. Never raises on bad input.

    now: reference time for the freshness checks (default: current UTC time).
    max_age: refuse events older than now - max_age; None disables the check (history replay).
    max_bytes: refuse payloads larger than this before parsing them.
    source_topic/partition/offset: copied into a dead letter, for replay.
    """
    now = now or datetime.now(UTC)
    if now.tzinfo is None:  # a caller bug, but not one worth crashing a partition over
        now = now.replace(tzinfo=UTC)

    def dead(code: ReasonCode, message: str, payload: bytes, data: Any = None) -> DeadLetterRecord:
        return DeadLetterRecord.create(
            payload, code, message, failed_at=now, source_topic=source_topic,
            partition=partition, offset=offset,
            event_id=_peek(data, "event_id"), event_type=_peek(data, "type"),
        )

    if raw is None:
        return dead(ReasonCode.TOMBSTONE, "the record's value is null (a tombstone); input "
                    "topics carry events, never deletions", b"")
    if not isinstance(raw, bytes | bytearray | memoryview):
        return dead(ReasonCode.NOT_BYTES, f"expected bytes, got {type(raw).__name__}", b"")
    raw = bytes(raw)
    if len(raw) > max_bytes:
        return dead(ReasonCode.PAYLOAD_TOO_LARGE,
                    f"payload is {len(raw)} bytes; the limit is {max_bytes}", raw)
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return dead(ReasonCode.UNPARSEABLE_JSON, f"not valid UTF-8 JSON: {exc}", raw)
    if not isinstance(data, dict):
        return dead(ReasonCode.NOT_AN_OBJECT,
                    f"expected a JSON object, got {_json_kind(data)}", raw)

    precheck = _precheck(data)
    if precheck is not None:
        return dead(precheck[0], precheck[1], raw, data)

    try:
        event = EVENT_CLASSES[data["type"]].model_validate(data)
    except ValidationError as exc:
        code, message = _explain(exc)
        return dead(code, message, raw, data)
    except Exception as exc:  # noqa: BLE001 - the contract is "never raises on bad input"
        return dead(ReasonCode.INVALID_VALUE, f"could not validate: {exc!r}"[:500], raw, data)

    if event.occurred_at > _later(now, MAX_FUTURE_SKEW):
        return dead(ReasonCode.TIMESTAMP_IN_FUTURE,
                    f"occurred_at {event.occurred_at.isoformat()} is more than "
                    f"{MAX_FUTURE_SKEW} after {now.isoformat()}", raw, data)
    if max_age is not None and event.occurred_at < _earlier(now, max_age):
        return dead(ReasonCode.TIMESTAMP_TOO_OLD,
                    f"occurred_at {event.occurred_at.isoformat()} is older than the "
                    f"{max_age.days}-day limit", raw, data)
    return event


def _later(moment: datetime, delta: timedelta) -> datetime:
    """moment + delta, clamped to the representable range."""
    try:
        return moment + delta
    except OverflowError:
        return datetime.max.replace(tzinfo=UTC)


def _earlier(moment: datetime, delta: timedelta) -> datetime:
    """moment - delta, clamped: an enormous max_age simply means "no limit"."""
    try:
        return moment - delta
    except OverflowError:
        return datetime.min.replace(tzinfo=UTC)


def _precheck(data: dict[str, Any]) -> tuple[ReasonCode, str] | None:
    """Envelope facts that decide which model to use, reported before any field errors."""
    version = data.get("schema_version")
    if "schema_version" not in data:
        return ReasonCode.MISSING_FIELD, "schema_version: field required"
    if isinstance(version, bool) or not isinstance(version, int):
        kind = _json_kind(version)
        return ReasonCode.WRONG_TYPE, f"schema_version: expected an integer, got {kind}"
    if version not in SUPPORTED_SCHEMA_VERSIONS:
        return (ReasonCode.UNSUPPORTED_SCHEMA_VERSION,
                f"schema_version {version} is not supported; this reader accepts "
                f"{', '.join(map(str, SUPPORTED_SCHEMA_VERSIONS))}")
    if "type" not in data:
        return ReasonCode.MISSING_FIELD, "type: field required"
    event_type = data["type"]
    if not isinstance(event_type, str):
        return ReasonCode.WRONG_TYPE, f"type: expected a string, got {_json_kind(event_type)}"
    if event_type not in EVENT_CLASSES:
        return ReasonCode.UNKNOWN_EVENT_TYPE, f"type: unknown event type {event_type[:64]!r}"
    return None


def _reason_for(error: ErrorDetails) -> ReasonCode:
    kind = error["type"]
    if kind in _REASON_VALUES:
        return ReasonCode(kind)
    if kind in _ERROR_TYPE_REASONS:
        return _ERROR_TYPE_REASONS[kind]
    loc = error["loc"]
    if loc and loc[0] in _ID_FIELDS and kind in ("string_too_short", "string_too_long"):
        return ReasonCode.INVALID_ID
    if kind.endswith(_WRONG_TYPE_SUFFIXES) or kind in ("is_instance_of", "model_attributes_type"):
        return ReasonCode.WRONG_TYPE
    return ReasonCode.INVALID_VALUE


# When several fields are wrong, report the most fundamental problem as the reason code.
# (missing_identity comes from a model-level check that only runs once every field is valid.)
_PRIORITY = [
    ReasonCode.UNKNOWN_FIELD, ReasonCode.INVALID_ID, ReasonCode.MISSING_FIELD,
    ReasonCode.WRONG_TYPE, ReasonCode.NAIVE_TIMESTAMP, ReasonCode.INVALID_VALUE,
    ReasonCode.MISSING_IDENTITY,
]


def _explain(exc: ValidationError) -> tuple[ReasonCode, str]:
    """Pick one reason code and describe every error, field by field."""
    errors = exc.errors(include_url=False, include_input=False)
    codes = [_reason_for(e) for e in errors]
    code = min(codes, key=lambda c: _PRIORITY.index(c) if c in _PRIORITY else len(_PRIORITY))
    parts = []
    for error, err_code in zip(errors, codes, strict=True):
        where = ".".join(str(p) for p in error["loc"]) or "(event)"
        parts.append(f"{where}: {error['msg']} [{err_code.value}]")
    return code, "; ".join(parts)[:5000]


def _peek(data: Any, field: str) -> str | None:
    """A field worth copying into a dead letter for search, if it is a sane string."""
    if isinstance(data, dict):
        value = data.get(field)
        if isinstance(value, str):
            return value[:128]
    return None


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"
