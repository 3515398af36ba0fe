"""Reason codes for dead-lettered input.

They are a closed, documented vocabulary (not free text) so that dashboards and alerting can
count failures per class, and so that a producer team can be told exactly which rule they broke.
The string values are part of the public contract: never rename one, only add.
"""

from __future__ import annotations

from enum import StrEnum


class ReasonCode(StrEnum):
    """Why an input message was rejected. Values are stable wire strings."""

    NOT_BYTES = "not_bytes"
    """The consumer handed us something that is not bytes (a worker bug, not a producer one)."""
    TOMBSTONE = "tombstone"
    """The record's value is null (a Kafka tombstone): input topics carry events, never
    deletions. A producer bug or a compaction-style delete sent to the wrong topic."""
    PAYLOAD_TOO_LARGE = "payload_too_large"
    UNPARSEABLE_JSON = "unparseable_json"
    """Not valid JSON, or not valid UTF-8."""
    NOT_AN_OBJECT = "not_an_object"
    UNSUPPORTED_SCHEMA_VERSION = "unsupported_schema_version"
    UNKNOWN_EVENT_TYPE = "unknown_event_type"
    MISSING_FIELD = "missing_field"
    WRONG_TYPE = "wrong_type"
    INVALID_VALUE = "invalid_value"
    UNKNOWN_FIELD = "unknown_field"
    MISSING_IDENTITY = "missing_identity"
    """Neither lead_id nor anonymous_id, or an id the event type requires is absent."""
    INVALID_ID = "invalid_id"
    """An id is empty, longer than 128 characters, or contains control/format characters."""
    NAIVE_TIMESTAMP = "naive_timestamp"
    TIMESTAMP_IN_FUTURE = "timestamp_in_future"
    TIMESTAMP_TOO_OLD = "timestamp_too_old"
    INVALID_HANDOFF = "invalid_handoff"
    """Not a producer rule: a record on the worker's internal handoff topic (leads.handoff) is
    JSON but not a handoff (no or a bad key, an unknown kind, a field missing or of the wrong
    type, bad base64, a model state that does not decode). A foreign writer or a bug."""
    UNSUPPORTED_HANDOFF_VERSION = "unsupported_handoff_version"
    """A handoff record of a version this worker does not read (a later release wrote it, e.g.
    during a rolling upgrade or after a rollback); replay it with a worker that reads it."""
    DELIVERY_FAILED = "delivery_failed"
    """Not an input rule: a consumer of our outputs (the pager) could not deliver the message
    after its retries, or the receiver refused it for good; the original is that output."""
