"""What the worker keeps per table key: the model's lead state plus what scoring remembers.

One value per key, so each lead costs one RocksDB write and one changelog message per batch.

Format 4 (written now): format 3 plus a trailer after the model state: what the streams
side remembers about a lead beyond its score: when a rep last said "contacted" (NaN: never), a
bounded score history (one entry per UTC day scored and model version, 14 bytes each, at most
``quality.HISTORY_DAYS`` days) and the last outcome joined with the scores before it
(:mod:`streams.core.quality`). A trailer keeps format 3's reader whole: a format-3 record is a
format-4 record without it.

Format 3 (read): format 2 with the last *published* score and probability after the header.
Why: ``scores.changes`` is compacted and a CRM reads its last message per lead as the current
score, so a change is published when the score moved ``MIN_SCORE_CHANGE`` from the last
published one, not from the last computed one (small steps used to add up unseen: a lead went
1, 11, 13, 15, 17 and its last message said 11). Format 2 records are still read, with no
published score: the lead's next score is published whatever its size, after which the topic
holds it again.

Format 2 (read): compact little-endian binary, ``struct`` fields and packed arrays in a
fixed order, starting with the byte ``0x02``. Decoding one is a handful of ``unpack_from``
calls instead of two JSON parses: it was the second cost of the scorer after validation
(~27 us of ~173 us per event). Array lengths are stored, and a record whose model state has
other channel/misc/timestamp counts than this code's ``models.state`` is refused (ValueError)
rather than misread. The profile (a few strings per lead) stays a small orjson document.

Format 1 (read, so existing tables keep working): a 4-byte big-endian length of an orjson
header, the header, then the model's own ``state_to_bytes``. Its first byte is always 0 (a
header is far below 16 MiB), which is how the two are told apart. A record read in format 1
is written back in format 4 the next time its lead changes (so is one read in format 2 or 3).

Two implementations, one format: :mod:`streams.core._record` (C, ``streams/core/_record.c``)
decodes formats 2-4 and encodes format 4 where it was built (setup.py; optional: no C compiler,
no module), and the Python code below does the same everywhere. Why both: decoding a record in
Python costs ~17-23 CPU-us and encoding one ~11 (a dozen ``struct`` calls and the slicing of
their tuples), ~13% of the worker's main thread at full speed; the C code is several times
cheaper (``python -m streams.bench.codec``). The Python code stays the reference: it is what
the format *is*, readable and used without a compiler, and the C code must build the same
objects, write the same bytes and raise the same exception classes for bad bytes
(tests/unit/test_record_native.py checks both on simulated populations, truncations and byte
flips). ``NATIVE`` says which one is in use.

Table keys are prefixed: ``L:<lead_id>`` for leads, ``A:<anonymous_id>`` for visitors not yet
identified, so an anonymous id can never collide with a lead id.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field
from typing import Any

import orjson

from models.state import (
    CHANNELS,
    DECAY_GROUPS,
    MISC,
    TS,
    LeadState,
    T,
    state_from_bytes,
    state_to_bytes,
)
from streams.core.alerting import AlertState, make_state

LEAD, ANON = "L:", "A:"
FORMAT = 4
# Format 4's trailer: contacted_at (event time of the last "contacted" feedback, NaN: none),
# the number of score-history entries and of outcome observations; then the entries.
_TAIL = struct.Struct("<dBB")
# Score history, one entry per UTC day the lead was scored: day, probability, the model's
# version (its 12 hex digits as 6 bytes).
_DAYSCORE = struct.Struct("<if6s")
# An outcome joined with the score the lead had a look-back before it: look-back days, label
# (1 converted), probability then, that model's version, the outcome's day.
_OBSERVED = struct.Struct("<BBf6si")
_LEN = struct.Struct(">I")
_NAN = math.nan
_TIERS = (None, "hot", "warm", "cold")
_TIER_CODE = {t: i for i, t in enumerate(_TIERS)}

# Header: format, flags, score, probability, tier, scored_at, last event, spike (at, score),
# decline (at, score), alert history length. Absent floats are NaN, absent scores -1.
_HEAD = struct.Struct("<BBhdBdddhdhH")
# Formats 3 and 4, right after the header: the last published score (-1: none) and probability.
_PUB = struct.Struct("<hd")
_IN_HOT, _CLOSED = 1, 2
# State: counts of half-lives, decayed sums, channels, misc, timestamps, buckets, recent ids,
# features, integrations, merged ids; the width code of the event counts; then decay_ref,
# deal_value, origin, profile length.
_SIZES = struct.Struct("<BBBBBHHHHHBddqI")
# Event counts (daily buckets, totals) in the narrowest unsigned width that holds them.
_WIDTHS = "BHIQ"


def lead_key(lead_id: str) -> str:
    return LEAD + lead_id


def anon_key(anonymous_id: str) -> str:
    return ANON + anonymous_id


@dataclass
class LeadRecord:
    state: LeadState
    score: int | None = None
    probability: float | None = None
    tier: str | None = None
    scored_at: float | None = None  # event time the last score was computed at
    alert: AlertState = field(default_factory=AlertState)
    # What scores.changes last carried for this lead (None: nothing yet, or not known).
    published_score: int | None = None
    published_probability: float | None = None
    contacted_at: float | None = None  # event time of a rep's last "contacted" feedback
    # (day, probability, version bytes) per UTC day scored, oldest first (streams.core.quality)
    history: list[tuple[int, float, bytes]] = field(default_factory=list)
    # (look-back days, label, probability, version bytes, outcome day) of the last outcome
    observed: list[tuple[int, int, float, bytes, int]] = field(default_factory=list)

    def to_bytes(self, fmt: int = FORMAT) -> bytes:
        """Format 4 (``fmt`` 2 or 3: a previous format, for tests that it is still read)."""
        if fmt == FORMAT and _native is not None:
            out: bytes = _native.encode(self)
            return out
        return self.to_bytes_py(fmt)

    def to_bytes_py(self, fmt: int = FORMAT) -> bytes:
        """The Python encoder: the reference the C encoder is checked against."""
        s, a = self.state, self.alert
        last = s.ts[T["last"]]
        flags = (_IN_HOT if a.in_hot else 0) | (_CLOSED if not math.isnan(s.closed_at) else 0)
        hist = a.history
        head = _HEAD.pack(
            fmt, flags, -1 if self.score is None else self.score,
            _NAN if self.probability is None else self.probability, _TIER_CODE[self.tier],
            _NAN if self.scored_at is None else self.scored_at, last,
            _NAN if a.last_spike_at is None else a.last_spike_at,
            -1 if a.spike_score is None else a.spike_score,
            _NAN if a.last_decline_at is None else a.last_decline_at,
            -1 if a.decline_score is None else a.decline_score, len(hist))
        parts = [head]
        if fmt >= 3:
            parts.append(_PUB.pack(
                -1 if self.published_score is None else self.published_score,
                _NAN if self.published_probability is None else self.published_probability))
        if hist:
            parts.append(struct.pack(f"<{len(hist)}d{len(hist)}h", *(t for t, _ in hist),
                                     *(v for _, v in hist)))
        parts.append(_state_bytes(s))
        if fmt < FORMAT:
            return b"".join(parts)
        # The trailer's counts come last, so the table scan reads the observations from the
        # end of a record without decoding its model state (peek_observed).
        days, obs = self.history, self.observed
        parts.extend(_DAYSCORE.pack(*h) for h in days)
        parts.extend(_OBSERVED.pack(*o) for o in obs)
        parts.append(_TAIL.pack(_NAN if self.contacted_at is None else self.contacted_at,
                                len(days), len(obs)))
        return b"".join(parts)

    @staticmethod
    def peek(raw: bytes) -> dict[str, Any]:
        """The header alone (score "s", tier "t", scored_at "at", last event "le", "closed"):
        what the idle scan needs, without decoding the model state."""
        if raw[0] == 0:
            (n,) = _LEN.unpack_from(raw)
            return dict(orjson.loads(raw[4:4 + n]))
        head = _unpack_head(raw)
        return {"s": head[0], "p": head[1], "t": head[2], "at": head[3], "le": head[4],
                "closed": head[5], "a": head[6].to_dict()}

    @classmethod
    def from_bytes(cls, raw: bytes) -> LeadRecord:
        if raw[0] == 0:
            return _from_format_1(raw)
        if _native is not None:
            rec: LeadRecord = _native.decode(raw)
            return rec
        return cls.from_bytes_py(raw)

    @classmethod
    def from_bytes_py(cls, raw: bytes) -> LeadRecord:
        """Formats 2-4 in Python: the reference the C decoder is checked against."""
        if raw[0] not in (2, 3, FORMAT):
            raise ValueError(f"unknown lead record format {raw[0]}")
        score, prob, tier, scored_at, _, _, alert, end = _unpack_head(raw)
        state, end = _state_from(raw, end)
        rec = cls(state, score, prob, tier, scored_at, alert)
        if raw[0] >= 3:
            pub_score, pub_prob = _PUB.unpack_from(raw, _HEAD.size)
            if pub_score >= 0:
                rec.published_score, rec.published_probability = pub_score, pub_prob
        if raw[0] == FORMAT:
            tail = len(raw) - _TAIL.size
            c, nh, no = _TAIL.unpack_from(raw, tail)
            rec.contacted_at = None if c != c else c
            start = tail - no * _OBSERVED.size - nh * _DAYSCORE.size
            if start != end:
                raise ValueError(f"lead record trailer at {start}, its state ends at {end}")
            if nh:
                rec.history = list(_DAYSCORE.iter_unpack(raw[start:start + nh * _DAYSCORE.size]))
            if no:
                rec.observed = list(_OBSERVED.iter_unpack(raw[tail - no * _OBSERVED.size:tail]))
        return rec

    @staticmethod
    def peek_observed(raw: bytes) -> list[tuple[int, int, float, bytes, int]]:
        """The outcome observations alone, read from the end of the record (format 4)."""
        if raw[0] != FORMAT:
            return []
        tail = len(raw) - _TAIL.size
        no = raw[-1]
        return list(_OBSERVED.iter_unpack(raw[tail - no * _OBSERVED.size:tail])) if no else []


def _unpack_head(raw: bytes) -> tuple[Any, ...]:
    (fmt, flags, score, prob, tier, scored_at, last, spike_at, spike_score, decline_at,
     decline_score, nh) = _HEAD.unpack_from(raw)
    end = _HEAD.size + (_PUB.size if fmt >= 3 else 0)
    history: tuple[tuple[float, int], ...] = ()
    if nh:
        vals = struct.unpack_from(f"<{nh}d{nh}h", raw, end)
        history = tuple(zip(vals[:nh], vals[nh:], strict=True))
        end += nh * 10
    alert = make_state(
        bool(flags & _IN_HOT), history, None if spike_at != spike_at else spike_at,
        None if spike_score < 0 else spike_score,
        None if decline_at != decline_at else decline_at,
        None if decline_score < 0 else decline_score)
    return (None if score < 0 else score, None if prob != prob else prob, _TIERS[tier],
            None if scored_at != scored_at else scored_at, None if last != last else last,
            bool(flags & _CLOSED), alert, end)


_STRUCTS: dict[tuple[Any, ...], struct.Struct] = {}


def _fixed(nhl: int, nd: int, nm: int, nt: int, k: int, w: int) -> struct.Struct:
    """The fixed-length part of a state: half-lives, decayed sums, misc, timestamps, totals."""
    key = (nhl, nd, nm, nt, k, w)
    found = _STRUCTS.get(key)
    if found is None:
        found = _STRUCTS[key] = struct.Struct(f"<{nhl + nd + nm + nt}d{k}{_WIDTHS[w]}")
    return found


def _array(code: str, n: int) -> struct.Struct:
    key = (code, n)
    found = _STRUCTS.get(key)
    if found is None:
        found = _STRUCTS[key] = struct.Struct(f"<{n}{code}")
    return found


def _state_bytes(s: LeadState) -> bytes:
    days = sorted(s.buckets)
    recent = s.recent
    profile = orjson.dumps(s.profile) if s.profile else b""
    nhl, nb, nr = len(s.half_lives), len(days), len(recent)
    k, nm, nt, nd = len(s.totals), len(s.misc), len(s.ts), len(s.decay)
    top = max(s.totals, default=0)  # a daily count never exceeds its channel's total
    w = 0 if top < 1 << 8 else 1 if top < 1 << 16 else 2 if top < 1 << 32 else 3
    parts = [_SIZES.pack(nhl, nd, k, nm, nt, nb, nr, len(s.features), len(s.integrations),
                         len(s.merged), w, s.decay_ref, s.deal_value, s.origin, len(profile)),
             _fixed(nhl, nd, nm, nt, k, w).pack(*s.half_lives, *s.decay, *s.misc, *s.ts,
                                                 *s.totals)]
    if nb:
        parts.append(_array("i", nb).pack(*days))
        parts.append(_array(_WIDTHS[w], nb * k).pack(*(c for d in days for c in s.buckets[d])))
    if nr:
        parts.append(_array("q", nr).pack(*recent.keys()))
        parts.append(_array("d", nr).pack(*recent.values()))
    for code, values in (("I", s.features), ("I", s.integrations), ("q", s.merged)):
        if values:
            parts.append(_array(code, len(values)).pack(*sorted(values)))
    parts.append(profile)
    return b"".join(parts)


def _state_from(raw: bytes, at: int) -> tuple[LeadState, int]:
    """The model state at ``at``, and where it ends."""
    (nhl, nd, k, nm, nt, nb, nr, nf, ni, nmg, w, decay_ref, deal_value, origin,
     nprof) = _SIZES.unpack_from(raw, at)
    if (nd, k, nm, nt) != (len(DECAY_GROUPS) * nhl, len(CHANNELS), len(MISC), len(TS)):
        raise ValueError(
            f"lead record has {nd} decayed sums, {k} channels, {nm} totals and {nt} timestamps; "
            f"this model state has {len(DECAY_GROUPS) * nhl}, {len(CHANNELS)}, {len(MISC)} "
            f"and {len(TS)}")
    at += _SIZES.size
    fixed = _fixed(nhl, nd, nm, nt, k, w)
    v = fixed.unpack_from(raw, at)
    at += fixed.size
    s = LeadState.__new__(LeadState)
    s.half_lives = v[:nhl]
    i = nhl + nd
    s.decay = list(v[nhl:i])
    s.misc = list(v[i:i + nm])
    i += nm
    s.ts = list(v[i:i + nt])
    s.totals = list(v[i + nt:])
    s.decay_ref, s.deal_value, s.origin = decay_ref, deal_value, origin
    if nb:
        days = _array("i", nb).unpack_from(raw, at)
        at += 4 * nb
        counts = _array(_WIDTHS[w], nb * k)
        c = counts.unpack_from(raw, at)
        at += counts.size
        s.buckets = {d: list(c[j * k:(j + 1) * k]) for j, d in enumerate(days)}
    else:
        s.buckets = {}
    if nr:
        s.recent = dict(zip(_array("q", nr).unpack_from(raw, at),
                            _array("d", nr).unpack_from(raw, at + 8 * nr), strict=True))
        at += 16 * nr
    else:
        s.recent = {}
    if nf:
        s.features = set(_array("I", nf).unpack_from(raw, at))
        at += 4 * nf
    else:
        s.features = set()
    if ni:
        s.integrations = set(_array("I", ni).unpack_from(raw, at))
        at += 4 * ni
    else:
        s.integrations = set()
    if nmg:
        s.merged = set(_array("q", nmg).unpack_from(raw, at))
        at += 8 * nmg
    else:
        s.merged = set()
    # field -> [value, ts, hash]: orjson gives the lists as the state keeps them.
    s.profile = orjson.loads(raw[at:at + nprof]) if nprof else {}
    return s, at + nprof


def _from_format_1(raw: bytes) -> LeadRecord:
    (n,) = _LEN.unpack_from(raw)
    header = orjson.loads(raw[4:4 + n])
    return LeadRecord(state=state_from_bytes(raw[4 + n:]), score=header["s"],
                      probability=header["p"], tier=header["t"], scored_at=header["at"],
                      alert=AlertState.from_dict(header["a"]))


native: Any
try:  # the codec in C (streams/core/_record.c), built by setuptools where it can be
    from streams.core import _record as native
except ImportError:  # no C compiler at install: the Python code above does the same
    native = None
else:
    native.configure(LeadRecord, LeadState, AlertState, orjson.loads, orjson.dumps,
                     struct.error, _TIERS, _TIER_CODE, len(DECAY_GROUPS), len(CHANNELS),
                     len(MISC), len(TS), T["last"], T["converted"], T["disqualified"])
# What from_bytes/to_bytes use: the C module, or None for the Python code (tests switch it
# with use_native()).
_native: Any = native
NATIVE = native is not None


def use_native(on: bool) -> None:
    """Switch the codec between C (when built) and Python; tests run both ways."""
    global _native, NATIVE
    if on and native is None:
        raise RuntimeError("streams.core._record is not built (no C compiler at install?)")
    _native = native if on else None
    NATIVE = on


def untrack(obj: Any) -> bool:
    """Take a record kept for long (or a tuple holding one) out of the cyclic garbage
    collector's sight; True when all of it is. Without the C module: nothing (False).

    Why: a worker keeps thousands of records between batches and replaces them as leads
    come and go; CPython then lets its youngest generation grow far past its threshold (a
    record that replaces another is not counted) and each collection took up to 150 ms of
    the event loop at 2,000 events/s. A record's tree holds no cycles, so the collector
    has nothing to find in it. The record cache untracks what it keeps at every put, and
    this walks into already untracked parts too: a batch may have put new objects (an alert
    state, history entries) into a cached record since."""
    return bool(native.untrack(obj)) if native is not None else False


def format_1_bytes(rec: LeadRecord) -> bytes:
    """A record in the previous format (tests check that it is still read; nothing writes
    it any more)."""
    last = rec.state.ts[T["last"]]
    header = orjson.dumps({"s": rec.score, "p": rec.probability, "t": rec.tier,
                           "at": rec.scored_at, "a": rec.alert.to_dict(),
                           "le": None if math.isnan(last) else last,
                           "closed": not math.isnan(rec.state.closed_at)})
    return _LEN.pack(len(header)) + header + state_to_bytes(rec.state)


def format_2_bytes(rec: LeadRecord) -> bytes:
    """A record in format 2 (tests check that it is still read; nothing writes it any more)."""
    return rec.to_bytes(fmt=2)
