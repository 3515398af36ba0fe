"""A fast door for well-formed input events, with :func:`schemas.parse_event` as the reference.

Why: validating with pydantic costs ~45 us per event, a quarter of what the scorer spends on
an event; the worker's target is under 100 us for everything. Most input is well formed and
comes in a few shapes, so this module checks those shapes with plain Python and returns a
light :class:`FastEvent`. It only ever ACCEPTS: whenever anything is unusual (a v1 message,
a non-ASCII id, a timestamp format it does not know, a missing or wrong field, an event near
the freshness bounds) it hands the bytes to :func:`parse_event`, so every rejection, and so
every dead letter and reason code, comes from the reference itself. What it accepts, the
reference accepts too, with the same field values: tests/unit/test_schemas_fastpath.py runs
both over every example, the whole bad-input corpus and a fuzz, and checks that they agree.

The per-type field rules below restate the contracts' constraints (lengths, patterns,
literals, strict types); the Literal choices are read from the properties models themselves,
and a test checks that every model field has a rule with the same required-ness.
"""

from __future__ import annotations

import re
import typing
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any

import orjson

from schemas import email, feedback, product, profile, website
from schemas.envelope import MAX_ID_LENGTH, MAX_SOURCE_LENGTH, Properties
from schemas.events import (
    EVENT_CLASSES,
    EVENT_TYPES,
    PROPERTIES_MODELS,
    Event,
    event_to_bytes,
    validate_event,
)
from schemas.outputs import DeadLetterRecord
from schemas.titles import normalise_title
from schemas.validate import DEFAULT_MAX_AGE, DEFAULT_MAX_BYTES, MAX_FUTURE_SKEW, parse_event

ENVELOPE = frozenset({"event_id", "type", "occurred_at", "lead_id", "anonymous_id", "source",
                      "schema_version", "properties"})
# YYYY-MM-DDTHH:MM:SS, up to 6 fractional digits, Z or +HH:MM: what producers send. Other
# ISO forms the contract accepts (no seconds, a space, 7+ digits) go to the reference.
_TIMESTAMP = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}"
                        r"(?:\.[0-9]{1,6})?(?:Z|[+-][0-9]{2}:[0-9]{2})")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DOMAIN = re.compile(r"([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")
_EMAIL = re.compile(r"[^@]+@[^@]+\.[^@]+")
_MARGIN = timedelta(seconds=1)  # this close to a freshness bound, the reference decides


class _Fallback(Exception):
    """Not a shape this module vouches for: ask the reference."""


class FastProperties:
    """Attribute access to validated property values, like the pydantic model's."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)


class FastEvent:
    """A valid input event, as far as the scorer reads it. Same attributes as
    :class:`schemas.Event` for ``event_id``, ``type``, ``occurred_at`` (UTC), ``lead_id``,
    ``anonymous_id``, ``source``, ``properties`` and ``key``; ``ts`` is ``occurred_at`` in
    epoch seconds. ``to_bytes()`` and ``full()`` go through the reference (rare paths)."""

    __slots__ = ("event_id", "type", "occurred_at", "ts", "lead_id", "anonymous_id", "source",
                 "properties", "raw", "_full")

    def __init__(self, event_id: str, type_: str, occurred_at: datetime, lead_id: str | None,
                 anonymous_id: str | None, source: str, properties: Any, raw: bytes,
                 full: Event | None = None) -> None:
        self.event_id, self.type, self.occurred_at = event_id, type_, occurred_at
        self.ts = occurred_at.timestamp()
        self.lead_id, self.anonymous_id, self.source = lead_id, anonymous_id, source
        self.properties, self.raw, self._full = properties, raw, full

    @classmethod
    def of(cls, ev: Event, raw: bytes) -> FastEvent:
        """Wrap an event the reference validated."""
        return cls(ev.event_id, ev.type, ev.occurred_at, ev.lead_id, ev.anonymous_id,
                   ev.source, ev.properties, raw, ev)

    @property
    def key(self) -> str:
        """As :attr:`schemas.Event.key`: identify by anonymous id, else lead id if known."""
        if self.type == "identify" and self.anonymous_id is not None:
            return self.anonymous_id
        return self.lead_id if self.lead_id is not None else str(self.anonymous_id)

    def full(self) -> Event:
        """The reference's Event for the same bytes (validated on first use)."""
        if self._full is None:
            self._full = validate_event(orjson.loads(self.raw))
        return self._full

    def to_bytes(self) -> bytes:
        """The canonical wire form, as :func:`schemas.event_to_bytes` writes it: the model's
        field order, UTC timestamps with a Z, absent optionals left out."""
        if self._full is not None:
            return event_to_bytes(self._full)
        doc: dict[str, Any] = {"event_id": self.event_id, "type": self.type,
                               "occurred_at": self.occurred_at}
        if self.lead_id is not None:
            doc["lead_id"] = self.lead_id
        if self.anonymous_id is not None:
            doc["anonymous_id"] = self.anonymous_id
        doc["source"] = self.source
        doc["schema_version"] = 2
        values = self.properties.__dict__
        doc["properties"] = {n: values[n] for n in _RULES[self.type] if values[n] is not None}
        return orjson.dumps(doc, option=orjson.OPT_UTC_Z)


def parse_event_fast(
    raw: bytes | bytearray | memoryview,
    *,
    now: datetime | None = None,
    max_age: timedelta | None = DEFAULT_MAX_AGE,
    max_bytes: int = DEFAULT_MAX_BYTES,
    source_topic: str | None = None,
    partition: int | None = None,
    offset: int | None = None,
) -> FastEvent | DeadLetterRecord:
    """:func:`schemas.parse_event`'s contract (same arguments, never raises on bad input),
    returning a :class:`FastEvent` for a valid event."""
    if type(raw) is bytes and len(raw) <= max_bytes:
        try:
            return _fast(raw, now, max_age)
        except _Fallback:
            pass
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError):
            pass  # orjson's JSONDecodeError is a ValueError: the reference says which one
    ev = parse_event(raw, now=now, max_age=max_age, max_bytes=max_bytes,
                     source_topic=source_topic, partition=partition, offset=offset)
    if isinstance(ev, Event):
        return FastEvent.of(ev, bytes(raw))
    return ev


def _fast(raw: bytes, now: datetime | None, max_age: timedelta | None) -> FastEvent:
    data = orjson.loads(raw)
    if type(data) is not dict or data.get("schema_version") != 2 or not ENVELOPE.issuperset(
            data):
        raise _Fallback
    if type(data["schema_version"]) is not int:  # True == 1, and 2.0 == 2
        raise _Fallback
    type_ = data["type"]
    rules = _RULES.get(type_) if type(type_) is str else None
    if rules is None:
        raise _Fallback
    event_id = _identifier(data["event_id"])
    lead_id = data.get("lead_id")
    anonymous_id = data.get("anonymous_id")
    if lead_id is not None:
        _identifier(lead_id)
    if anonymous_id is not None:
        _identifier(anonymous_id)
    if lead_id is None and (anonymous_id is None or EVENT_TYPES[type_] != "website"):
        raise _Fallback
    if type_ == "identify" and (lead_id is None or anonymous_id is None):
        raise _Fallback
    source = data["source"]
    if type(source) is not str or not 1 <= len(source) <= MAX_SOURCE_LENGTH:
        raise _Fallback
    occurred_at = _timestamp(data["occurred_at"])
    latest, earliest = _bounds(now or datetime.now(UTC), max_age)
    if occurred_at >= latest or (earliest is not None and occurred_at <= earliest):
        raise _Fallback
    props = data.get("properties", _ABSENT)
    if props is _ABSENT:
        if not _OPTIONAL_PROPERTIES[type_]:
            raise _Fallback
        props = {}
    elif type(props) is not dict:
        raise _Fallback
    values = _properties(type_, rules, props)
    return FastEvent(event_id, type_, occurred_at, lead_id, anonymous_id, source,
                     FastProperties(values), raw)


_ABSENT = object()
_LAST_BOUNDS: list[Any] = [None, None, None, None]  # now, max_age -> latest, earliest


def _bounds(now: datetime, max_age: timedelta | None) -> tuple[datetime, datetime | None]:
    """The freshness window, minus a margin the reference decides; the scorer passes one
    ``now`` for a whole batch, so it is computed once per batch."""
    last = _LAST_BOUNDS
    if last[0] is not now or last[1] != max_age:
        latest = now + MAX_FUTURE_SKEW - _MARGIN  # OverflowError: the reference decides
        earliest = None if max_age is None else now - max_age + _MARGIN
        last[:] = [now, max_age, latest, earliest]
    return last[2], last[3]


def _properties(type_: str, rules: dict[str, tuple[bool, Callable[[Any], Any]]],
                props: dict[str, Any]) -> dict[str, Any]:
    if type_ == "profile_update" and type(props.get("job_title")) is str:
        # The model derives both from the title before validating (schemas/profile.py).
        props = {**props, **dict(zip(("seniority", "department"),
                                     _title(props["job_title"]), strict=True))}
    values: dict[str, Any] = {}
    for name, (required, check) in rules.items():
        v = props.get(name, _ABSENT)
        if v is _ABSENT:
            if required:
                raise _Fallback
            v = _DEFAULTS[type_][name]
        elif v is not None:
            v = check(v)
        elif name not in _NULLABLE[type_]:
            raise _Fallback
        values[name] = v
    return values


@lru_cache(maxsize=4096)
def _title(job_title: str) -> tuple[str, str]:
    """Title normalisation is regex work; producers repeat the same few thousand titles."""
    return tuple(normalise_title(job_title))  # type: ignore[return-value]


# --------------------------------------------------------------------------- field checks


def _identifier(v: Any) -> str:
    # ASCII printable = no control character; the other forbidden categories (Cf, Zl, Zp)
    # are not ASCII. Anything else is for the reference's _check_id.
    if type(v) is not str or not 1 <= len(v) <= MAX_ID_LENGTH or not (
            v.isascii() and v.isprintable()):
        raise _Fallback
    return v


def _timestamp(v: Any) -> datetime:
    if type(v) is not str or not _TIMESTAMP.fullmatch(v):
        raise _Fallback
    return datetime.fromisoformat(v).astimezone(UTC)  # ValueError/OverflowError: reference


def _text(lo: int, hi: int) -> Callable[[Any], str]:
    def check(v: Any) -> str:
        if type(v) is not str or not lo <= len(v) <= hi:
            raise _Fallback
        return v
    return check


def _prefixed(lo: int, hi: int, *prefixes: str) -> Callable[[Any], str]:
    def check(v: Any) -> str:
        if type(v) is not str or not lo <= len(v) <= hi or not v.startswith(prefixes):
            raise _Fallback
        return v
    return check


def _choice(model: type[Properties], field: str) -> Callable[[Any], str]:
    choices = frozenset(_literal_values(model.model_fields[field].annotation))

    def check(v: Any) -> str:
        if type(v) is not str or v not in choices:
            raise _Fallback
        return v
    return check


def _literal_values(annotation: Any) -> tuple[str, ...]:
    """The strings of a Literal, also inside ``Literal[...] | None``."""
    if typing.get_origin(annotation) is typing.Literal:
        return tuple(typing.get_args(annotation))
    for arg in typing.get_args(annotation):
        if typing.get_origin(arg) is typing.Literal:
            return tuple(typing.get_args(arg))
    raise TypeError(f"no Literal in {annotation!r}")


def _int_at_least(lo: int) -> Callable[[Any], int]:
    def check(v: Any) -> int:
        if type(v) is not int or v < lo:
            raise _Fallback
        return v
    return check


def _non_negative_float(v: Any) -> float:
    if type(v) is int:
        v = float(v)
    if type(v) is not float or not v >= 0.0:
        raise _Fallback
    return v


def _normalised(fn: Callable[[str], str], pattern: re.Pattern[str], hi: int
                ) -> Callable[[Any], str]:
    """A before-validator (strip + case) then length and an ASCII-only pattern."""
    def check(v: Any) -> str:
        if type(v) is not str:
            raise _Fallback
        v = fn(v)
        if len(v) > hi or not v.isascii() or not pattern.fullmatch(v):
            raise _Fallback
        return v
    return check


def _email(v: Any) -> str:
    # For ASCII printable text without spaces, the contract's \s never matches.
    if (type(v) is not str or not 3 <= len(v) <= 320 or not (v.isascii() and v.isprintable())
            or " " in v or not _EMAIL.fullmatch(v)):
        raise _Fallback
    return v


def _iso_date(v: Any) -> date:
    if type(v) is not str or not _DATE.fullmatch(v):
        raise _Fallback
    return date.fromisoformat(v)


NAME = _text(1, 256)
LONG = _text(0, 5000)
URL = _prefixed(1, 2048, "http://", "https://")
PATH = _prefixed(1, 2048, "/")
REQ, OPT = True, False
Rule = tuple[bool, Callable[[Any], Any]]


def _email_message(**more: Rule) -> dict[str, Rule]:
    return {"campaign_id": (REQ, NAME), "message_id": (REQ, NAME), **more}


_RULES: dict[str, dict[str, Rule]] = {
    "page_view": {"url": (REQ, URL), "path": (REQ, PATH),
                  "page_category": (REQ, _choice(website.PageViewProperties, "page_category")),
                  "title": (OPT, NAME), "referrer": (OPT, URL)},
    "session_start": {"session_id": (REQ, _identifier), "landing_url": (OPT, URL),
                      "referrer": (OPT, URL),
                      "device": (OPT, _choice(website.SessionStartProperties, "device"))},
    "session_end": {"session_id": (REQ, _identifier),
                    "duration_seconds": (REQ, _non_negative_float),
                    "page_count": (REQ, _int_at_least(0))},
    "content_download": {"content_type": (REQ, _choice(website.ContentDownloadProperties,
                                                         "content_type")),
                         "title": (REQ, NAME), "url": (OPT, URL)},
    "form_submit": {"form_id": (REQ, NAME), "form_name": (OPT, NAME)},
    "demo_request": {"form_id": (OPT, NAME), "message": (OPT, LONG)},
    "site_search": {"query": (REQ, _text(1, 512))},
    "identify": {"email": (REQ, _email)},
    "email_delivered": _email_message(),
    "email_open": _email_message(),
    "email_click": _email_message(url=(REQ, URL),
                                  topic=(REQ, _choice(email.EmailClickProperties, "topic"))),
    "email_reply": _email_message(),
    "email_bounce": _email_message(
        bounce_type=(REQ, _choice(email.EmailBounceProperties, "bounce_type"))),
    "email_unsubscribe": {"campaign_id": (OPT, NAME), "message_id": (OPT, NAME)},
    "signup": {"plan": (OPT, NAME), "method": (OPT, _choice(product.SignupProperties, "method"))},
    "trial_started": {"plan": (REQ, NAME), "trial_days": (REQ, _int_at_least(1))},
    "login": {},
    "feature_used": {"feature": (REQ, NAME)},
    "integration_connected": {"integration": (REQ, NAME)},
    "teammate_invited": {"invitee_count": (OPT, _int_at_least(1))},
    "support_ticket": {"topic": (REQ, NAME),
                       "severity": (REQ, _choice(product.SupportTicketProperties, "severity"))},
    "profile_update": {
        "company_name": (OPT, NAME),
        "company_domain": (OPT, _normalised(lambda s: s.strip().lower(), _DOMAIN, 253)),
        "employee_count": (OPT, _int_at_least(0)),
        "revenue_band": (OPT, _choice(profile.ProfileUpdateProperties, "revenue_band")),
        "industry": (OPT, NAME),
        "country": (OPT, _normalised(lambda s: s.strip().upper(), re.compile("[A-Z]{2}"), 2)),
        "funding_round": (OPT, _choice(profile.ProfileUpdateProperties, "funding_round")),
        "funding_date": (OPT, _iso_date),
        "job_title": (OPT, NAME),
        "seniority": (OPT, _choice(profile.ProfileUpdateProperties, "seniority")),
        "department": (OPT, _choice(profile.ProfileUpdateProperties, "department")),
        "owner": (OPT, NAME),
        "territory": (OPT, NAME),
    },
    "converted": {"deal_value": (REQ, _non_negative_float),
                  "currency": (REQ, _normalised(lambda s: s.strip().upper(),
                                                re.compile("[A-Z]{3}"), 3))},
    "disqualified": {"reason": (OPT, LONG)},
    "lost": {"reason": (OPT, LONG)},
    "rep_feedback": {"rep_id": (REQ, _identifier),
                     "verdict": (REQ, _choice(feedback.RepFeedbackProperties, "verdict")),
                     "note": (OPT, _text(0, feedback.MAX_NOTE_LENGTH))},
}
"""Per event type: property -> (required, check). Checks return the validated value or raise
:class:`_Fallback`; a None for an optional property is kept as None, as the model does."""

# Defaults of absent optional properties, from the models (e.g. invitee_count = 1).
_DEFAULTS: dict[str, dict[str, Any]] = {
    t: {n: f.default for n, f in PROPERTIES_MODELS[t].model_fields.items()
        if not f.is_required()} for t in _RULES
}
# Properties that may be null (``X | None``); others with a default (invitee_count) may not.
_NULLABLE: dict[str, frozenset[str]] = {
    t: frozenset(n for n, f in PROPERTIES_MODELS[t].model_fields.items()
                 if type(None) in typing.get_args(f.annotation)) for t in _RULES}
# Types whose event may leave out ``properties`` altogether (the class has a default).
_OPTIONAL_PROPERTIES: dict[str, bool] = {
    t: not EVENT_CLASSES[t].model_fields["properties"].is_required() for t in _RULES}

assert set(_RULES) == set(PROPERTIES_MODELS), "every event type needs its rules"
