"""Building blocks shared by every message: ids, timestamps, versions, and the base model.

Constraints live in the types (not in ad-hoc checks) so that the exported JSON Schema says the
same thing the Python validator enforces.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, date, datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictFloat,
    StrictInt,
    StrictStr,
)
from pydantic_core import PydanticCustomError

CURRENT_SCHEMA_VERSION = 2
"""Version written by this code. See schemas/README.md, "Versioning"."""
PREVIOUS_SCHEMA_VERSION = 1
SUPPORTED_SCHEMA_VERSIONS: tuple[int, ...] = (PREVIOUS_SCHEMA_VERSION, CURRENT_SCHEMA_VERSION)

MAX_ID_LENGTH = 128
MAX_SOURCE_LENGTH = 64

# Cc = C0/C1 controls, Cf = invisible format chars (zero-width, bidi overrides), Zl/Zp = line and
# paragraph separators. Any of them in a key makes logs lie and lets two "equal-looking" ids differ.
_FORBIDDEN_ID_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})
_ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _check_id(value: str) -> str:
    if not value:
        raise PydanticCustomError("invalid_id", "id must not be empty")
    if len(value) > MAX_ID_LENGTH:
        raise PydanticCustomError(
            "invalid_id", "id is {length} characters; the limit is {limit}",
            {"length": len(value), "limit": MAX_ID_LENGTH},
        )
    for ch in value:
        if unicodedata.category(ch) in _FORBIDDEN_ID_CATEGORIES:
            raise PydanticCustomError(
                "invalid_id", "id contains control or format character {char}",
                {"char": f"U+{ord(ch):04X}"},
            )
    return value


def _require_str(value: Any) -> Any:
    """Refuse non-strings before pydantic's lax coercion turns 5 into "5" or 1e9 into a date."""
    if not isinstance(value, str):
        raise PydanticCustomError("wrong_type", "expected a string, got {got}",
                                  {"got": type(value).__name__})
    return value


def _iso_datetime_str(value: Any) -> Any:
    if isinstance(value, datetime):  # already-parsed values from Python callers
        return value
    _require_str(value)
    if not _ISO_DATETIME.match(value):
        raise PydanticCustomError(
            "invalid_value", "timestamp {value!r} is not ISO-8601 (YYYY-MM-DDTHH:MM:SS+00:00)",
            {"value": value[:40]},
        )
    return value


def _iso_date_str(value: Any) -> Any:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    _require_str(value)
    if not _ISO_DATE.match(value):
        raise PydanticCustomError("invalid_value", "date {value!r} is not YYYY-MM-DD",
                                  {"value": value[:40]})
    return value


def _to_utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:  # e.g. 9999-12-31T23:59:59-14:00 is after datetime.max in UTC
        raise PydanticCustomError("invalid_value", "timestamp is out of range in UTC") from None


Identifier = Annotated[
    StrictStr,
    AfterValidator(_check_id),
    Field(min_length=1, max_length=MAX_ID_LENGTH,
          description="1-128 characters, no control or invisible format characters."),
]
"""An id: event_id, lead_id, anonymous_id. Length is checked in _check_id (with its own reason
code); the Field bounds are repeated only so that they appear in the JSON Schema."""

UtcDatetime = Annotated[
    AwareDatetime,
    BeforeValidator(_iso_datetime_str),
    AfterValidator(_to_utc),
    Field(description="ISO-8601 with an explicit offset, e.g. 2026-03-01T12:00:00Z."),
]
"""Timezone-aware instant, normalised to UTC so comparisons and windows never mix offsets."""

IsoDate = Annotated[date, BeforeValidator(_iso_date_str)]

Text = StrictStr
"""A string that is never coerced from anything else. (Constraints that must show up in the
JSON Schema, like `pattern`, have to come BEFORE any BeforeValidator in an Annotated: pydantic
drops them from the schema otherwise.)"""

NonNegInt = Annotated[StrictInt, Field(ge=0)]
PositiveInt = Annotated[StrictInt, Field(gt=0)]
NonNegFloat = Annotated[StrictFloat, Field(ge=0)]
"""Accepts JSON integers too (3 -> 3.0) but never strings or booleans."""

Name = Annotated[Text, Field(min_length=1, max_length=256)]
"""Short human or machine name: a title, a campaign id, a feature name."""
LongText = Annotated[Text, Field(max_length=5000)]
"""Free text a person typed (a demo-request message, a search query)."""


Url = Annotated[Text, Field(min_length=1, max_length=2048, pattern=r"^https?://")]


class Contract(BaseModel):
    """Base for every wire message: immutable (messages are facts) and strict about the envelope."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class Properties(BaseModel):
    """Base for per-type event properties.

    Unknown property fields are IGNORED (dropped), unlike unknown envelope fields: trackers add
    properties freely (utm tags, experiment ids), and adding an optional property must be a
    compatible change that old readers survive. See schemas/README.md, "Unknown fields".
    """

    model_config = ConfigDict(frozen=True, extra="ignore")


def check_schema_version(value: Any) -> Any:
    """The one rule for ``schema_version`` on every message, in and out: an integer this
    reader supports (the current or the previous version)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise PydanticCustomError("wrong_type", "schema_version must be an integer")
    if value not in SUPPORTED_SCHEMA_VERSIONS:
        raise PydanticCustomError(
            "unsupported_schema_version",
            "schema_version {got} is not supported (this reader accepts {ok})",
            {"got": value, "ok": list(SUPPORTED_SCHEMA_VERSIONS)},
        )
    return value
