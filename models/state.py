"""Per-lead state: what the scorer remembers about a lead, folded one event at a time.

WHY this shape: the streaming worker keeps one state per lead in RocksDB and the trainer
replays history through the very same `fold`, so there is no training/serving skew. Every
field is a commutative summary (sums, min/max timestamps, per-day buckets keyed by absolute
UTC day, exponentially decayed sums rebased to a common reference time, last-write-wins
profile fields keyed by (occurred_at, event_id)). That makes the state independent of arrival
order, and bounded in size whatever the lead's history length:

- counts per channel live in at most `RING_DAYS` daily buckets (older days are dropped;
  they are outside every window anyway) plus all-time totals;
- duplicates are detected with a bounded table of recent event-id hashes. An activity event
  older than `lateness` behind the newest event seen is dropped ("too late"), because its
  id may already have been evicted from the table: that is what makes folding the same
  event_id twice a no-op, exactly, rather than most of the time;
- distinct-value sets (features used, integrations, merged anonymous ids) are capped.

Profile and outcome events are exempt from the lateness rule: they are idempotent by
construction (last-write-wins / earliest-wins), so a late CRM sync still lands.
"""

from __future__ import annotations

import base64
import hashlib
import math
from array import array
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, NamedTuple

import orjson

DAY = 86400.0
RING_DAYS = 35  # >= 30-day window + 28-day velocity span + lateness slack
MAX_RECENT_IDS = 256
MAX_DISTINCT = 64
MAX_MERGED = 32
STATE_FORMAT = 1

# Count channels: the event categories whose windowed counts are features.
CHANNELS: tuple[str, ...] = (
    "page_view",
    "pricing_view",
    "case_study",
    "competitor_view",
    "docs_view",
    "content_download",
    "whitepaper_download",
    "form_submit",
    "demo_request",
    "session",
    "site_search",
    "email_open",
    "email_click",
    "email_reply",
    "login",
    "feature_used",
    "product_other",
)
CH = {name: i for i, name in enumerate(CHANNELS)}
K = len(CHANNELS)

# Decay groups: which channels feed each exponentially decayed engagement sum.
DECAY_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("web", ("page_view", "content_download", "form_submit", "site_search")),
    ("intent", ("pricing_view", "competitor_view", "demo_request")),
    ("email", ("email_open", "email_click", "email_reply")),
    ("product", ("login", "feature_used", "product_other")),
)
_GROUPS_OF_CHANNEL: list[tuple[int, ...]] = [
    tuple(g for g, (_, chs) in enumerate(DECAY_GROUPS) if name in chs) for name in CHANNELS
]

PROFILE_FIELDS = (
    "employee_count",
    "revenue_band",
    "industry",
    "country",
    "funding_round",
    "funding_date",
    "seniority",
    "department",
)

# Totals that are not channels (indices into LeadState.misc).
MISC = ("delivered", "bounce_hard", "bounce_soft", "unsubscribed", "teammates", "tickets",
        "urgent_tickets", "session_seconds", "sessions_ended", "events", "duplicates", "late")
M = {name: i for i, name in enumerate(MISC)}

# Timestamps kept (indices into LeadState.ts); NaN = never happened.
TS = ("first", "last", "first_pricing", "last_pricing", "first_case", "first_demo", "last_demo",
      "last_email_click", "last_login", "signup", "first_integration", "converted",
      "disqualified", "lost", "trial_started", "first_web")
T = {name: i for i, name in enumerate(TS)}
_MIN_TS = {"first", "first_pricing", "first_case", "first_demo", "signup", "first_integration",
           "converted", "disqualified", "lost", "trial_started", "first_web"}


@dataclass(frozen=True)
class StateConfig:
    """Knobs that change what the state records (so they travel with the model artifact)."""

    half_lives_days: tuple[float, ...] = (7.0, 30.0)
    lateness_seconds: float = 2 * DAY


DEFAULT_STATE_CONFIG = StateConfig()


class Obs(NamedTuple):
    """The few fields of an event that `fold` needs, extracted once.

    WHY: training replays ~10^6 events; keeping whole pydantic events in memory is too heavy,
    so both the trainer and the worker reduce an Event to an Obs with `observe` and fold that.
    """

    event_id: str
    ts: float
    type: str
    sub: str | None = None
    num: float = 0.0
    profile: dict[str, Any] | None = None


def _val(v: Any) -> Any:
    return v.value if hasattr(v, "value") else v


def observe(ev: Any) -> Obs:
    """Reduce a `schemas.Event` (attribute access) to an `Obs`."""
    t = str(_val(ev.type))
    p = ev.properties
    sub: str | None = None
    num = 0.0
    prof: dict[str, Any] | None = None
    if t == "page_view":
        sub = _val(p.page_category)
    elif t == "content_download":
        sub = _val(p.content_type)
    elif t == "email_click":
        sub = _val(p.topic)
    elif t == "email_bounce":
        sub = _val(p.bounce_type)
    elif t in ("feature_used",):
        sub = str(p.feature)
    elif t == "integration_connected":
        sub = str(p.integration)
    elif t == "teammate_invited":
        num = float(getattr(p, "invitee_count", 1) or 1)
    elif t == "session_end":
        num = float(p.duration_seconds)
    elif t == "support_ticket":
        sub = _val(p.severity)
    elif t == "converted":
        num = float(p.deal_value)
        sub = _val(p.currency)
    elif t == "rep_feedback":
        sub = _val(p.verdict)
    elif t == "profile_update":
        prof = {}
        for k in PROFILE_FIELDS:
            v = getattr(p, k, None)
            if v is None:
                continue
            v = _val(v)
            if isinstance(v, datetime):
                v = v.date()
            if isinstance(v, date):
                v = v.toordinal()
            prof[k] = v
    return Obs(str(ev.event_id), ev.occurred_at.timestamp(), t, sub, num, prof)


def id_hash(s: str) -> int:
    """Stable 63-bit hash (Python's hash() is salted per process, so unusable in RocksDB)."""
    if _native is not None:
        return _native.id_hash(s)
    return id_hash_py(s)


def id_hash_py(s: str) -> int:
    """:func:`id_hash` in Python (the reference; models/_state.c computes the same)."""
    return int.from_bytes(hashlib.blake2b(s.encode(), digest_size=8).digest(), "little") >> 1


class LeadState:
    """Mutable container; the public API (`fold`, `merge`) never mutates its inputs."""

    __slots__ = ("half_lives", "buckets", "totals", "misc", "ts", "decay", "decay_ref",
                 "recent", "features", "integrations", "profile", "deal_value", "origin",
                 "merged")

    def __init__(self, half_lives: tuple[float, ...] = DEFAULT_STATE_CONFIG.half_lives_days):
        self.half_lives = tuple(float(h) for h in half_lives)
        self.buckets: dict[int, list[int]] = {}
        self.totals = [0] * K
        self.misc = [0.0] * len(MISC)
        self.ts = [math.nan] * len(TS)
        self.decay = [0.0] * (len(DECAY_GROUPS) * len(self.half_lives))
        self.decay_ref = math.nan
        self.recent: dict[int, float] = {}
        self.features: set[int] = set()
        self.integrations: set[int] = set()
        # field -> [value, ts, event-id hash]; last write (by ts, then hash) wins.
        self.profile: dict[str, list[Any]] = {}
        self.deal_value = math.nan
        self.origin = 0
        self.merged: set[int] = set()

    @classmethod
    def new(cls, config: StateConfig = DEFAULT_STATE_CONFIG, key: str | None = None) -> LeadState:
        """Empty state; `key` (lead_id or anonymous_id) makes `merge` idempotent."""
        s = cls(config.half_lives_days)
        if key:
            s.origin = id_hash(key)
        return s

    def copy(self) -> LeadState:
        s = LeadState.__new__(LeadState)
        s.half_lives = self.half_lives
        s.buckets = {d: b[:] for d, b in self.buckets.items()}
        s.totals = self.totals[:]
        s.misc = self.misc[:]
        s.ts = self.ts[:]
        s.decay = self.decay[:]
        s.decay_ref = self.decay_ref
        s.recent = dict(self.recent)
        s.features = set(self.features)
        s.integrations = set(self.integrations)
        s.profile = {k: v[:] for k, v in self.profile.items()}
        s.deal_value = self.deal_value
        s.origin = self.origin
        s.merged = set(self.merged)
        return s

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LeadState) and state_to_bytes(self) == state_to_bytes(other)

    __hash__ = None  # type: ignore[assignment]

    @property
    def closed_at(self) -> float:
        """Earliest conversion or disqualification (NaN if the lead is still open)."""
        c, d = self.ts[T["converted"]], self.ts[T["disqualified"]]
        return min(c, d) if not (math.isnan(c) or math.isnan(d)) else (d if math.isnan(c) else c)


# ---------------------------------------------------------------- folding


def _tmin(ts: list[float], i: int, t: float) -> None:
    cur = ts[i]
    if cur != cur or t < cur:  # cur != cur: NaN, never set
        ts[i] = t


def _tmax(ts: list[float], i: int, t: float) -> None:
    cur = ts[i]
    if cur != cur or t > cur:
        ts[i] = t


def _channels(o: Obs) -> tuple[int, ...]:
    t = o.type
    if t == "page_view":
        c = o.sub
        if c == "pricing":
            return (CH["page_view"], CH["pricing_view"])
        if c == "case_study":
            return (CH["page_view"], CH["case_study"])
        if c == "competitor_comparison":
            return (CH["page_view"], CH["competitor_view"])
        if c == "docs":
            return (CH["page_view"], CH["docs_view"])
        return (CH["page_view"],)
    if t == "content_download":
        if o.sub == "case_study":
            return (CH["content_download"], CH["case_study"])
        if o.sub == "whitepaper":
            return (CH["content_download"], CH["whitepaper_download"])
        return (CH["content_download"],)
    if t == "email_click":
        if o.sub == "pricing":
            return (CH["email_click"], CH["pricing_view"])
        if o.sub == "case_study":
            return (CH["email_click"], CH["case_study"])
        return (CH["email_click"],)
    return _SIMPLE.get(t, ())


_SIMPLE: dict[str, tuple[int, ...]] = {
    "form_submit": (CH["form_submit"],),
    "demo_request": (CH["demo_request"],),
    "session_start": (CH["session"],),
    "site_search": (CH["site_search"],),
    "email_open": (CH["email_open"],),
    "email_reply": (CH["email_reply"],),
    "login": (CH["login"],),
    "feature_used": (CH["feature_used"],),
    "integration_connected": (CH["product_other"],),
    "teammate_invited": (CH["product_other"],),
    "support_ticket": (CH["product_other"],),
}
_WEB_TYPES = {"page_view", "session_start", "session_end", "content_download", "form_submit",
              "demo_request", "site_search", "identify"}


def _decay_to(s: LeadState, t: float) -> None:
    """Rebase decayed sums to reference time t (only moves forward)."""
    if math.isnan(s.decay_ref):
        s.decay_ref = t
        return
    if t <= s.decay_ref:
        return
    dt = (t - s.decay_ref) / DAY
    nh = len(s.half_lives)
    for j, h in enumerate(s.half_lives):
        f = 2.0 ** (-dt / h)
        for g in range(len(DECAY_GROUPS)):
            s.decay[g * nh + j] *= f
    s.decay_ref = t


def _profile_set(s: LeadState, field: str, value: Any, ts: float, h: int) -> None:
    cur = s.profile.get(field)
    if cur is None or (ts, h) > (cur[1], cur[2]):
        s.profile[field] = [value, ts, h]


def fold_into(s: LeadState, o: Obs, config: StateConfig = DEFAULT_STATE_CONFIG) -> bool:
    """Fold `o` into `s` IN PLACE; returns False if it was a duplicate or too late.

    The trainer uses this directly on states it owns; everyone else uses `fold`. Activity
    events are folded by models/_state.c when it is built (the same state, byte for byte);
    what it leaves (profile, outcome and verdict events, a prune of the recent ids) is
    folded by :func:`fold_into_py`, the reference.
    """
    if _native is not None:
        done = _native.fold(s, o, config.lateness_seconds)
        if done is not None:
            return bool(done)
    return fold_into_py(s, o, config)


def fold_into_py(s: LeadState, o: Obs, config: StateConfig = DEFAULT_STATE_CONFIG) -> bool:
    """:func:`fold_into` in Python: every event type (the reference)."""
    t = o.type
    ts = o.ts
    h = id_hash(o.event_id)
    tsv = s.ts
    if t == "rep_feedback":
        # A rep's verdict is not the lead's behaviour: it moves no activity feature (not even
        # the last-event time). "not_a_fit" closes the lead as a disqualification does,
        # "converted_outside_crm" as a conversion (deal value unknown); the other verdicts
        # only count (streams) and label nothing. Idempotent, exempt from lateness.
        if h in s.recent:
            return False
        if o.sub == "not_a_fit":
            _tmin(tsv, T["disqualified"], ts)
        elif o.sub == "converted_outside_crm":
            _tmin(tsv, T["converted"], ts)
        _remember(s, h, ts, config)
        return True
    if t == "profile_update" or t in ("converted", "disqualified", "lost"):
        # Idempotent by construction; exempt from lateness (a CRM sync may be days late).
        if h in s.recent:
            return False
        if t == "profile_update":
            for k, v in (o.profile or {}).items():
                _profile_set(s, k, v, ts, h)
        elif t == "converted":
            cur = tsv[T["converted"]]
            if math.isnan(cur) or ts < cur:
                tsv[T["converted"]] = ts
                s.deal_value = o.num
        else:
            _tmin(tsv, T[t], ts)
        _tmin(tsv, T["first"], ts)
        _tmax(tsv, T["last"], ts)
        _remember(s, h, ts, config)
        return True

    last = tsv[T["last"]]
    if not math.isnan(last) and ts < last - config.lateness_seconds:
        s.misc[M["late"]] += 1
        return False
    if h in s.recent:
        s.misc[M["duplicates"]] += 1
        return False
    _remember(s, h, ts, config)
    s.misc[M["events"]] += 1

    chans = _channels(o)
    if chans:
        day = int(ts // DAY)
        newest = day if last != last else max(day, int(last // DAY))
        if day > newest - RING_DAYS:
            b = s.buckets.get(day)
            if b is None:
                b = s.buckets[day] = [0] * K
                _prune_buckets(s, newest)
            for c in chans:
                b[c] += 1
        _decay_to(s, ts)
        nh = len(s.half_lives)
        ref = s.decay_ref
        for j, hl in enumerate(s.half_lives):
            w = 1.0 if ts >= ref else 2.0 ** (-(ref - ts) / DAY / hl)
            seen: set[int] = set()
            for c in chans:
                for g in _GROUPS_OF_CHANNEL[c]:
                    if g not in seen:
                        seen.add(g)
                        s.decay[g * nh + j] += w
        for c in chans:
            s.totals[c] += 1

    # Timestamps and misc totals.
    if t == "page_view":
        if o.sub == "pricing":
            _tmin(tsv, T["first_pricing"], ts)
            _tmax(tsv, T["last_pricing"], ts)
        elif o.sub == "case_study":
            _tmin(tsv, T["first_case"], ts)
    elif t == "content_download":
        if o.sub == "case_study":
            _tmin(tsv, T["first_case"], ts)
    elif t == "demo_request":
        _tmin(tsv, T["first_demo"], ts)
        _tmax(tsv, T["last_demo"], ts)
    elif t == "email_click":
        _tmax(tsv, T["last_email_click"], ts)
        if o.sub == "pricing":
            _tmin(tsv, T["first_pricing"], ts)
            _tmax(tsv, T["last_pricing"], ts)
        elif o.sub == "case_study":
            _tmin(tsv, T["first_case"], ts)
    elif t == "email_delivered":
        s.misc[M["delivered"]] += 1
    elif t == "email_bounce":
        s.misc[M["bounce_hard" if o.sub == "hard" else "bounce_soft"]] += 1
    elif t == "email_unsubscribe":
        s.misc[M["unsubscribed"]] += 1
    elif t == "login":
        _tmax(tsv, T["last_login"], ts)
    elif t == "signup":
        _tmin(tsv, T["signup"], ts)
    elif t == "trial_started":
        _tmin(tsv, T["trial_started"], ts)
    elif t == "feature_used":
        _add_capped(s.features, id_hash(o.sub or "") & 0xFFFFFFFF, MAX_DISTINCT)
    elif t == "integration_connected":
        _tmin(tsv, T["first_integration"], ts)
        _add_capped(s.integrations, id_hash(o.sub or "") & 0xFFFFFFFF, MAX_DISTINCT)
    elif t == "teammate_invited":
        s.misc[M["teammates"]] += o.num or 1.0
    elif t == "support_ticket":
        s.misc[M["tickets"]] += 1
        if o.sub in ("high", "urgent"):
            s.misc[M["urgent_tickets"]] += 1
    elif t == "session_end":
        s.misc[M["session_seconds"]] += o.num
        s.misc[M["sessions_ended"]] += 1
    if t in _WEB_TYPES:
        _tmin(tsv, T["first_web"], ts)
    _tmin(tsv, T["first"], ts)
    _tmax(tsv, T["last"], ts)
    return True


def _add_capped(st: set[int], v: int, cap: int) -> None:
    if len(st) < cap:
        st.add(v)


def _prune_buckets(s: LeadState, newest_day: int) -> None:
    cutoff = newest_day - RING_DAYS
    for d in [d for d in s.buckets if d <= cutoff]:
        del s.buckets[d]


def _remember(s: LeadState, h: int, ts: float, config: StateConfig) -> None:
    s.recent[h] = ts
    if len(s.recent) > MAX_RECENT_IDS:
        last = s.ts[T["last"]]
        horizon = (ts if math.isnan(last) else max(ts, last)) - config.lateness_seconds
        keep = {k: v for k, v in s.recent.items() if v >= horizon}
        if len(keep) > MAX_RECENT_IDS * 3 // 4:
            # A burst inside the lateness window: keep the newest 3/4 (amortises the sort).
            # Duplicates of evicted ids would count twice; the cap bounds the state size.
            n = MAX_RECENT_IDS * 3 // 4
            keep = dict(sorted(keep.items(), key=lambda kv: (kv[1], kv[0]))[-n:])
        s.recent = keep


def fold(state: LeadState, event: Any, config: StateConfig = DEFAULT_STATE_CONFIG) -> LeadState:
    """Pure: return `state` with `event` (a schemas.Event or an Obs) folded in."""
    o = event if isinstance(event, Obs) else observe(event)
    s = state.copy()
    if s.origin == 0 and not isinstance(event, Obs):
        key = getattr(event, "lead_id", None) or getattr(event, "anonymous_id", None)
        if key:
            s.origin = id_hash(str(key))
    fold_into(s, o, config)
    return s


def merge(lead_state: LeadState, anon_state: LeadState) -> LeadState:
    """Pure and idempotent: fold an anonymous visitor's state into the identified lead's.

    Idempotent because the lead remembers the origin hash of every state merged into it;
    merging the same anonymous state again returns the lead state unchanged. Events folded
    into both (same event_id) are not double counted in the dedup table, but counts are
    summed: callers must route each event to exactly one of the two states (the worker does).
    """
    a, b = lead_state, anon_state
    out = a.copy()
    if b.origin != 0 and (b.origin in out.merged or b.origin == out.origin):
        return out
    if b.origin != 0 and len(out.merged) < MAX_MERGED:
        out.merged.add(b.origin)
    for m in b.merged:
        if len(out.merged) < MAX_MERGED:
            out.merged.add(m)
    if b.half_lives != a.half_lives:
        raise ValueError("cannot merge states built with different half-lives")
    for d, bb in b.buckets.items():
        cur = out.buckets.get(d)
        out.buckets[d] = bb[:] if cur is None else [x + y for x, y in zip(cur, bb, strict=True)]
    out.totals = [x + y for x, y in zip(out.totals, b.totals, strict=True)]
    out.misc = [x + y for x, y in zip(out.misc, b.misc, strict=True)]
    for i, name in enumerate(TS):
        x, y = out.ts[i], b.ts[i]
        if math.isnan(y):
            continue
        if math.isnan(x):
            out.ts[i] = y
        else:
            out.ts[i] = min(x, y) if name in _MIN_TS else max(x, y)
    if not math.isnan(b.ts[T["converted"]]) and out.ts[T["converted"]] == b.ts[T["converted"]]:
        out.deal_value = b.deal_value
    if not math.isnan(b.decay_ref):
        other = b.copy()
        if not math.isnan(out.decay_ref):
            ref = max(out.decay_ref, other.decay_ref)
            _decay_to(out, ref)
            _decay_to(other, ref)
        else:
            out.decay_ref = other.decay_ref
        out.decay = [x + y for x, y in zip(out.decay, other.decay, strict=True)]
    out.recent.update(b.recent)
    for f in b.features:
        _add_capped(out.features, f, MAX_DISTINCT)
    for f in b.integrations:
        _add_capped(out.integrations, f, MAX_DISTINCT)
    for field_name, pv in b.profile.items():
        _profile_set(out, field_name, pv[0], pv[1], pv[2])
    if not math.isnan(out.ts[T["last"]]):
        _prune_buckets(out, int(out.ts[T["last"]] // DAY))
    if len(out.recent) > MAX_RECENT_IDS:
        out.recent = dict(sorted(out.recent.items(), key=lambda kv: (kv[1], kv[0]))
                          [-MAX_RECENT_IDS:])
    return out


# ---------------------------------------------------------------- bytes


def _nan_to_none(xs: list[float]) -> list[float | None]:
    return [None if math.isnan(x) else x for x in xs]


def _none_to_nan(xs: list[Any]) -> list[float]:
    return [math.nan if x is None else float(x) for x in xs]


def state_to_bytes(s: LeadState) -> bytes:
    """Canonical compact encoding (orjson; dedup table packed as base64 int64 pairs).

    Canonical (sorted keys/sets) so equal states give equal bytes.
    """
    rec = sorted(s.recent.items())
    packed = array("q")
    for k, v in rec:
        packed.append(k)
        packed.append(int(round(v)))
    doc = [
        STATE_FORMAT,
        list(s.half_lives),
        [[d, b] for d, b in sorted(s.buckets.items())],
        s.totals,
        s.misc,
        _nan_to_none(s.ts),
        s.decay,
        None if math.isnan(s.decay_ref) else s.decay_ref,
        base64.b64encode(packed.tobytes()).decode(),
        sorted(s.features),
        sorted(s.integrations),
        {k: s.profile[k] for k in sorted(s.profile)},
        None if math.isnan(s.deal_value) else s.deal_value,
        s.origin,
        sorted(s.merged),
    ]
    return orjson.dumps(doc)


def state_from_bytes(raw: bytes) -> LeadState:
    doc = orjson.loads(raw)
    if doc[0] != STATE_FORMAT:
        raise ValueError(f"unknown state format {doc[0]}")
    s = LeadState(tuple(doc[1]))
    s.buckets = {int(d): list(b) for d, b in doc[2]}
    s.totals = list(doc[3])
    s.misc = [float(x) for x in doc[4]]
    s.ts = _none_to_nan(doc[5])
    s.decay = [float(x) for x in doc[6]]
    s.decay_ref = math.nan if doc[7] is None else float(doc[7])
    packed = array("q")
    packed.frombytes(base64.b64decode(doc[8]))
    s.recent = {packed[i]: float(packed[i + 1]) for i in range(0, len(packed), 2)}
    s.features = set(doc[9])
    s.integrations = set(doc[10])
    s.profile = {k: list(v) for k, v in doc[11].items()}
    s.deal_value = math.nan if doc[12] is None else float(doc[12])
    s.origin = int(doc[13])
    s.merged = set(doc[14])
    return s


# ---------------------------------------------------------------- the fold in C

def _layout() -> dict[str, Any]:
    """What models/_state.c must agree on (its ``layout()`` returns its own copy)."""
    return {"channels": CHANNELS, "ts": TS, "misc": MISC,
            "decay_groups": DECAY_GROUPS, "python_types": _PYTHON_TYPES,
            "ring_days": RING_DAYS, "max_recent_ids": MAX_RECENT_IDS,
            "max_distinct": MAX_DISTINCT}


# Event types the C fold leaves to Python (fold_into_py's first two branches).
_PYTHON_TYPES = ("rep_feedback", "profile_update", "converted", "disqualified", "lost")

native: Any
try:  # the fold in C (models/_state.c), built by setuptools where it can be
    from models import _state as native
except ImportError:  # no compiler at install: the Python fold does the same, more slowly
    native = None
if native is not None and native.layout() != _layout():
    # Built from another version of this file's layout: it would fold into wrong slots.
    native = None
# What fold_into/id_hash use: the C module, or None for Python (tests switch with use_native).
_native: Any = native
NATIVE = native is not None


def use_native(on: bool) -> None:
    """Switch the fold and id_hash between C (when built) and Python; tests run both ways."""
    global _native, NATIVE
    if on and native is None:
        raise RuntimeError("models._state is not built (no C compiler at install?) "
                           "or does not match models/state.py's layout")
    _native = native if on else None
    NATIVE = on
