"""The handoff topic's records: what one worker asks the owner of a lead's partition to do.

Kinds: ``merge`` (an identify: the event, and the anonymous visitor's state if there was one),
``event`` (an event of an aliased anonymous id), ``route`` (a mis-keyed or mis-partitioned
input event, re-keyed) and ``rescore`` (the idle timer: re-score at event time ``at``). The
key is the lead id (UTF-8); the value one JSON object::

    {"v": 1, "k": "merge", "raw": "<base64 event>", "state": "<base64 model state>"}
    {"v": 1, "k": "rescore", "at": 1772366340.0}

Why a decoder that never raises: the handoff topic is an input like the five event topics.
Anything may be written to it (a foreign producer, a tool replaying the wrong file, a worker
of a later release during a rolling upgrade), and one record the worker could not read
crash-looped it, stopping every partition it holds. :func:`decode` returns a
:class:`Handoff` or a :class:`Refusal` (reason code and message) that the processor
dead-letters with the original bytes.

Versions: ``v`` is written since version 1. A record without ``v`` is the format written
before (the same fields), read as version 1. Any other ``v`` is a later format this code
cannot know: refused as ``unsupported_handoff_version``, so a rolled-back worker dead-letters
instead of guessing (the dead letter keeps the bytes to replay after the upgrade).
"""

from __future__ import annotations

import base64
import binascii
import math
import unicodedata
from typing import Any, NamedTuple

import orjson

from schemas import ReasonCode
from schemas.envelope import MAX_ID_LENGTH
from schemas.jsonbytes import dumps

VERSION = 1
KINDS = ("merge", "event", "route", "rescore")
# A handoff's key is a lead id: the contract's id rule (schemas/README.md, the envelope).
_FORBIDDEN = frozenset({"Cc", "Cf", "Zl", "Zp"})


class Handoff(NamedTuple):
    kind: str
    lead: str
    raw: bytes  # the event (empty for rescore)
    state: bytes | None  # merge: the anonymous visitor's model state (state_to_bytes), if any
    at: float  # rescore: the event time to re-score at (NaN otherwise)


class Refusal(NamedTuple):
    reason: ReasonCode
    message: str


def encode(kind: str, raw: bytes = b"", state: bytes | None = None,
           at: float | None = None) -> bytes:
    """The value of a handoff record (the key is the lead id)."""
    body: dict[str, Any] = {"v": VERSION, "k": kind}
    if kind == "rescore":
        body["at"] = at
    else:
        body["raw"] = base64.b64encode(raw).decode()
    if state is not None:
        body["state"] = base64.b64encode(state).decode()
    return dumps(body)


def decode(key: bytes | None, value: bytes | None) -> Handoff | Refusal:
    """A handoff record, or why it is refused (never an exception)."""
    if value is None:
        return Refusal(ReasonCode.TOMBSTONE, "a null value (tombstone) on the handoff topic")
    if type(value) is not bytes:
        return Refusal(ReasonCode.NOT_BYTES, f"handoff value is {type(value).__name__}")
    lead = _lead(key)
    if isinstance(lead, Refusal):
        return lead
    try:
        body = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        return Refusal(ReasonCode.UNPARSEABLE_JSON, f"handoff value is not JSON: {exc}")
    if type(body) is not dict:
        return Refusal(ReasonCode.NOT_AN_OBJECT,
                       f"handoff value is a JSON {type(body).__name__}, not an object")
    version = body.get("v", VERSION)  # absent: the format written before versions
    if type(version) is not int:
        return _invalid(f"handoff version 'v' is {type(version).__name__}, not an integer")
    if version != VERSION:
        return Refusal(ReasonCode.UNSUPPORTED_HANDOFF_VERSION,
                       f"handoff version {version}; this worker reads version {VERSION} "
                       "(and records without 'v')")
    kind = body.get("k")
    if kind not in KINDS:
        return _invalid(f"handoff kind {kind!r} is not one of {', '.join(KINDS)}")
    if kind == "rescore":
        at = body.get("at")
        if not isinstance(at, int | float) or isinstance(at, bool) or not math.isfinite(at):
            return _invalid(f"rescore 'at' is {at!r:.80}, not a finite number")
        return Handoff(kind, lead, b"", None, float(at))
    raw = _b64(body.get("raw"), "raw")
    if isinstance(raw, Refusal):
        return raw
    state: bytes | None = None
    if kind == "merge" and body.get("state") is not None:
        decoded = _b64(body["state"], "state")
        if isinstance(decoded, Refusal):
            return decoded
        state = decoded
    return Handoff(kind, lead, raw, state, math.nan)


def _lead(key: bytes | None) -> str | Refusal:
    if not key:
        return _invalid("handoff record without a key (the lead id)")
    if len(key) > 4 * MAX_ID_LENGTH:
        return _invalid(f"handoff key of {len(key)} bytes is no lead id")
    try:
        lead = key.decode()
    except UnicodeDecodeError:
        return _invalid("handoff key is not UTF-8")
    if len(lead) > MAX_ID_LENGTH or not (lead.isascii() and lead.isprintable()) and any(
            unicodedata.category(ch) in _FORBIDDEN for ch in lead):
        return _invalid("handoff key is no lead id (too long, or control or format "
                        "characters)")
    return lead


def _b64(value: Any, name: str) -> bytes | Refusal:
    if type(value) is not str or not value:
        return _invalid(f"handoff '{name}' is {type(value).__name__}, not base64 text")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return _invalid(f"handoff '{name}' is not base64")


def _invalid(message: str) -> Refusal:
    return Refusal(ReasonCode.INVALID_HANDOFF, message)
