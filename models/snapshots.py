"""Read any schema-valid event file and turn it into labelled training snapshots.

WHY snapshots: the live scorer asks "given everything folded so far, will this lead convert
within the label window?" at arbitrary times. A training row reproduces exactly that: the
lead's state with events strictly before snapshot time S (replayed through the same `fold`
and `merge` the worker uses), `features(state, S)`, and label = converted in [S, S + window).
Leads already converted or disqualified at S are excluded; snapshots whose label window runs
past the end of the data are censored (unknown label) and dropped. Rep feedback
(``rep_feedback``, schemas/feedback.py) labels too: "converted_outside_crm" is a conversion
(with no deal value), "not_a_fit" closes the lead like a disqualification; the other verdicts
label nothing.

Two populations of snapshot times, because calibration depends on WHEN a lead is scored:

- uniform: every `every_days` from the lead's first event (a random phase per lead), the
  lead as a rep or the CRM sees it on an ordinary day;
- events: right after a significant event (the worker's default list, `SIGNIFICANT_EVENTS`),
  with the event itself folded in, which is exactly when the worker re-scores and alerts.
  A lead that is busy all day would otherwise dominate, so each lead contributes at most
  one per UTC day (one of that day's significant events, picked by a hash so the choice is
  deterministic) and at most its first `max_event_per_lead` such days. Which rows are kept
  must never depend on the future: spreading the kept days over a lead's life (which ends at
  its conversion) once biased the labels upward for busy leads.

Each lead's events are replayed once, in time order, emitting vectors as the replay crosses
snapshot times, so building the data set costs one fold per event plus one `features` call
per snapshot.

Anonymous events: web events that carry only an `anonymous_id` are attributed to a lead only
once an `identify` event links them, and only from the identify time on (before it, the
live system could not have known). Events before the identify are folded into the anonymous
state and merged at identify time, as the worker does.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from models.errors import UsageError
from models.features import FeatureConfig, features
from models.progress import Progress
from models.state import DAY, LeadState, Obs, fold_into, id_hash, merge, observe

FAR_FUTURE = datetime(9999, 1, 1, tzinfo=UTC)


# The worker's default significant events (streams' LEADSCORE_SIGNIFICANT_EVENTS): a type, or
# page_view:<page_category>. Kept here so training can snapshot the population the worker
# scores; the worker's default is this same tuple.
SIGNIFICANT_EVENTS: tuple[str, ...] = (
    "page_view:pricing", "page_view:competitor_comparison", "page_view:case_study",
    "demo_request", "form_submit", "content_download", "trial_started", "signup",
    "email_click", "email_reply", "email_unsubscribe", "integration_connected",
    "teammate_invited", "support_ticket", "profile_update", "identify", "lost",
)
UNIFORM, EVENT, DENSE = 0, 1, 2  # Snapshots.kind; DENSE: extra uniform-time rows, trees only


@dataclass(frozen=True)
class SnapshotConfig:
    label_days: float = 30.0  # label = converted within this many days after the snapshot
    every_days: float = 7.0  # one snapshot per lead per this many days (random phase per lead)
    max_idle_days: float = 120.0  # skip snapshots of leads silent for longer than this
    max_per_lead: int = 40
    # Uniform-time rows per `every_days`: the first of each period is the population row
    # (kind UNIFORM, the same rows whatever this is); the others (kind DENSE, evenly between
    # it and the next) only give the trees more of each lead's history (models.train).
    uniform_per_period: int = 1
    at_events: bool = True  # also snapshot right after significant events (see module doc)
    max_event_per_lead: int = 40
    significant: tuple[str, ...] = SIGNIFICANT_EVENTS

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SnapshotConfig:
        """From an artifact manifest (JSON lists back to tuples; absent fields default)."""
        kw: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}
        return cls(**kw)

    def matcher(self) -> tuple[frozenset[str], frozenset[str]]:
        """(event types, page categories) that count as significant."""
        types, pages = set(), set()
        for sel in self.significant:
            name, _, cat = sel.partition(":")
            (pages.add(cat) if cat else types.add(name))
        return frozenset(types), frozenset(pages)


@dataclass
class EventLog:
    """Valid events reduced to Obs, grouped for per-lead replay, plus reading statistics."""

    leads: dict[str, list[Obs]] = field(default_factory=lambda: defaultdict(list))
    anon: dict[str, list[Obs]] = field(default_factory=lambda: defaultdict(list))
    identify: dict[str, tuple[float, str]] = field(default_factory=dict)
    lines: int = 0
    valid: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    types: Counter[str] = field(default_factory=Counter)
    industries: Counter[str] = field(default_factory=Counter)
    countries: Counter[str] = field(default_factory=Counter)
    first_ts: float = math.inf
    last_ts: float = -math.inf

    def summary(self) -> dict[str, Any]:
        return {
            "lines": self.lines,
            "valid_events": self.valid,
            "rejected": dict(self.rejected.most_common()),
            "event_types": dict(self.types.most_common()),
            "leads": len(self.leads),
            "anonymous_ids": len(self.anon),
            "identified_anonymous_ids": len(self.identify),
            "first_event": _iso(self.first_ts),
            "last_event": _iso(self.last_ts),
        }


def _iso(ts: float) -> str | None:
    return datetime.fromtimestamp(ts, UTC).isoformat() if math.isfinite(ts) else None


def read_events(path: str, progress: bool = False) -> EventLog:
    """Parse every line with `schemas.parse_event` (the same validation the worker applies)."""
    import schemas  # late: keeps `models.state`/`models.features` importable on their own

    log = EventLog()
    bar = Progress()
    try:
        fh = open(path, "rb")  # noqa: SIM115 - closed below
    except OSError as e:
        raise UsageError(f"cannot read {path}: {e.strerror}") from e
    with fh:
        for line in fh:
            log.lines += 1
            if progress and log.lines % 200_000 == 0:
                bar(f"read {log.lines} lines")
            if not line.strip():
                log.lines -= 1
                continue
            ev = schemas.parse_event(line.rstrip(b"\r\n"), now=FAR_FUTURE, max_age=None)
            if isinstance(ev, schemas.DeadLetterRecord):
                log.rejected[str(getattr(ev.reason_code, "value", ev.reason_code))] += 1
                continue
            _add(log, ev)
    if progress:
        bar.done(f"read {log.lines} lines, {log.valid} valid")
    return log


def _add(log: EventLog, ev: Any) -> None:
    o = observe(ev)
    log.valid += 1
    log.types[o.type] += 1
    if o.ts < log.first_ts:
        log.first_ts = o.ts
    if o.ts > log.last_ts:
        log.last_ts = o.ts
    if o.profile:
        if "industry" in o.profile:
            log.industries[str(o.profile["industry"])] += 1
        if "country" in o.profile:
            log.countries[str(o.profile["country"])] += 1
    lead, anon = ev.lead_id, ev.anonymous_id
    if o.type == "identify" and lead and anon:
        cur = log.identify.get(anon)
        if cur is None or o.ts < cur[0]:
            log.identify[anon] = (o.ts, lead)
    if lead:
        log.leads[lead].append(o)
    elif anon:
        log.anon[anon].append(o)


def vocabularies(log: EventLog, max_industries: int = 40, max_countries: int = 30,
                 min_count: int = 20) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Most frequent industries/countries (sorted for a deterministic manifest)."""
    ind = sorted(k for k, n in log.industries.most_common(max_industries) if n >= min_count)
    cty = sorted(k for k, n in log.countries.most_common(max_countries) if n >= min_count)
    return tuple(ind), tuple(cty)


@dataclass
class Snapshots:
    X: np.ndarray  # float32 (n, n_features)
    y: np.ndarray  # int8: converted within the label window
    value: np.ndarray  # deal value of that conversion (NaN if none)
    currency: list[str | None]
    at: np.ndarray  # snapshot time (epoch seconds)
    lead: np.ndarray  # index into `lead_ids`
    lead_ids: list[str]
    kind: np.ndarray  # int8: UNIFORM, EVENT or DENSE
    converted_at: np.ndarray  # time of that conversion (epoch seconds; NaN if none)

    def take(self, mask: np.ndarray) -> Snapshots:
        """The rows where `mask` is true (lead ids shared)."""
        return Snapshots(self.X[mask], self.y[mask], self.value[mask],
                         [c for c, m in zip(self.currency, mask, strict=True) if m],
                         self.at[mask], self.lead[mask], self.lead_ids, self.kind[mask],
                         self.converted_at[mask])


def _phase(lead_id: str, every: float) -> float:
    return (id_hash(lead_id) % 1_000_003) / 1_000_003 * every


def _replay_items(log: EventLog, lead_id: str, obs: list[Obs], by_lead: dict[str, list[str]]
                  ) -> list[tuple[float, int, Any]]:
    """(time, order, item) for one lead: item is an Obs to fold or a LeadState to merge."""
    items: list[tuple[float, int, Any]] = [(o.ts, 1, o) for o in obs]
    for anon_id in by_lead.get(lead_id, ()):
        t_id, _ = log.identify[anon_id]
        before = sorted((o for o in log.anon.get(anon_id, ()) if o.ts < t_id),
                        key=lambda o: o.ts)
        if before:
            st = LeadState.new(key=anon_id)
            for o in before:
                fold_into(st, o)
            items.append((t_id, 0, st))
        items.extend((o.ts, 1, o) for o in log.anon.get(anon_id, ()) if o.ts >= t_id)
    return items


def _event_times(lead_id: str, items: list[tuple[float, int, Any]], types: frozenset[str],
                 pages: frozenset[str], start: float, stop: float, cap: int) -> list[float]:
    """One significant event time per UTC day (hash-picked), at most `cap` days."""
    by_day: dict[int, list[float]] = defaultdict(list)
    for t, _, it in items:
        if (isinstance(it, Obs) and start <= t < stop
                and (it.type in types or (it.type == "page_view" and it.sub in pages))):
            by_day[int(t // DAY)].append(t)
    # The first `cap` days, never a spread over the lead's whole life: how a life is spread
    # depends on when it ends (a conversion), and always keeping the last active day before
    # a conversion made busy leads' labels look better than their state warranted.
    days = sorted(by_day)[:cap]
    out = []
    for d in days:
        ts = by_day[d]
        out.append(ts[id_hash(f"{lead_id}:{d}") % len(ts)])
    return out


def build(log: EventLog, fcfg: FeatureConfig, scfg: SnapshotConfig,
          end: float | None = None, progress: bool = False) -> Snapshots:
    """Replay each lead once and emit labelled feature vectors at its snapshot times."""
    end = log.last_ts if end is None else end
    label_s = scfg.label_days * DAY
    every_s = scfg.every_days * DAY
    idle_s = scfg.max_idle_days * DAY
    state_cfg = fcfg.state_config
    types, pages = scfg.matcher()
    by_lead: dict[str, list[str]] = defaultdict(list)
    for anon_id, (_, lead) in log.identify.items():
        by_lead[lead].append(anon_id)
    rows: list[np.ndarray] = []
    ys: list[int] = []
    vals: list[float] = []
    curs: list[str | None] = []
    ats: list[float] = []
    leads: list[int] = []
    kinds: list[int] = []
    convs: list[float] = []
    lead_ids = sorted(log.leads)
    bar = Progress()
    for li, lead_id in enumerate(lead_ids):
        if progress and li and li % 5000 == 0:
            bar(f"snapshots {li}/{len(lead_ids)} leads, {len(rows)} rows")
        items = _replay_items(log, lead_id, log.leads[lead_id], by_lead)
        items.sort(key=lambda x: (x[0], x[1]))
        conv_t, conv_v, conv_c, closed = math.inf, math.nan, None, math.inf
        for o in log.leads[lead_id]:
            if o.type == "converted" and o.ts < conv_t:
                conv_t, conv_v, conv_c = o.ts, o.num, o.sub
            elif o.type == "rep_feedback" and o.sub == "converted_outside_crm" and o.ts < conv_t:
                # label rule: a rep's "converted outside the CRM" is a conversion (no deal
                # value, so no row for the value model)
                conv_t, conv_v, conv_c = o.ts, math.nan, None
            if o.type in ("converted", "disqualified") or (
                    o.type == "rep_feedback" and o.sub in ("not_a_fit", "converted_outside_crm")):
                # label rule: "not a fit" closes the lead as a disqualification does
                closed = min(closed, o.ts)
        first = items[0][0] if items else math.inf
        stop = min(closed, end - label_s)
        targets: list[tuple[float, int]] = []
        s_t = first + _phase(lead_id, every_s)
        n_pop = 0
        while s_t < stop and n_pop < scfg.max_per_lead:
            targets.append((s_t, UNIFORM))
            n_pop += 1
            for j in range(1, scfg.uniform_per_period):
                d_t = s_t + j * every_s / scfg.uniform_per_period
                if d_t < stop:
                    targets.append((d_t, DENSE))
            s_t += every_s
        if scfg.at_events and first < stop:
            targets += [(t, EVENT) for t in _event_times(lead_id, items, types, pages, first,
                                                         stop, scfg.max_event_per_lead)]
            targets.sort()
        state = LeadState.new(state_cfg, key=lead_id)
        k = 0
        for s_t, kind in targets:
            # uniform: events strictly before S; at an event: that event included, as the
            # worker folds an event before it scores it.
            while k < len(items) and (items[k][0] < s_t or (kind == EVENT
                                                             and items[k][0] <= s_t)):
                it = items[k][2]
                if isinstance(it, LeadState):
                    state = merge(state, it)
                else:
                    fold_into(state, it, state_cfg)
                k += 1
            last = state.ts[1]
            if last == last and s_t - last <= idle_s:
                rows.append(features(state, s_t, fcfg))
                y = 1 if conv_t < s_t + label_s else 0
                ys.append(y)
                vals.append(conv_v if y else math.nan)
                curs.append(conv_c if y else None)
                convs.append(conv_t if y else math.nan)
                ats.append(s_t)
                leads.append(li)
                kinds.append(kind)
    if progress:
        bar.done(f"snapshots {len(lead_ids)} leads, {len(rows)} rows")
    n_feat = len(fcfg.specs)
    X = np.array(rows, dtype=np.float32) if rows else np.zeros((0, n_feat), np.float32)
    return Snapshots(X, np.array(ys, dtype=np.int8), np.array(vals, dtype=np.float64), curs,
                     np.array(ats, dtype=np.float64), np.array(leads, dtype=np.int64), lead_ids,
                     np.array(kinds, dtype=np.int8), np.array(convs, dtype=np.float64))


def iter_lead_states(log: EventLog, fcfg: FeatureConfig, at: float
                     ) -> Iterator[tuple[str, LeadState]]:
    """Every lead's state with events strictly before `at` (for scoring a whole file)."""
    by_lead: dict[str, list[str]] = defaultdict(list)
    for anon_id, (_, lead) in log.identify.items():
        by_lead[lead].append(anon_id)
    for lead_id in sorted(log.leads):
        items = _replay_items(log, lead_id, log.leads[lead_id], by_lead)
        items.sort(key=lambda x: (x[0], x[1]))
        state = LeadState.new(fcfg.state_config, key=lead_id)
        for t, _, it in items:
            if t >= at:
                break
            if isinstance(it, LeadState):
                state = merge(state, it)
            else:
                fold_into(state, it, fcfg.state_config)
        yield lead_id, state
