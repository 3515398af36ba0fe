"""A week of scores as the worker would produce them, for judging the alerts a rep gets.

The worker re-scores a lead right after each significant event (the event folded in), and
the idle timer re-scores a lead that has had no event for `idle_hours`, at most once per
`idle_hours`, so decay shows. This module replays an event file through the same `fold` and
`features` and returns each lead's scores in event-time order, from a warm-up period before
the week (so the alert rules start the week with the memory they would have: the previous
score, the 7-day decline window) to the end of the week. Applying the alert rules is the
stream worker's business (`streams`), which keeps the dependency direction.

Which week: by default the last whole Monday-to-Sunday week (UTC) that still leaves one label
window of data after it, so the share of paged leads that went on to convert is known.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from models.scoring import Scorer
from models.snapshots import EventLog, SnapshotConfig, _replay_items
from models.state import DAY, LeadState, Obs, fold_into, merge

IDLE = "idle"  # cause of a score computed by the idle timer


@dataclass(frozen=True)
class ScorePoint:
    at: float  # event time (epoch seconds)
    score: int
    cause: str  # the event id, or IDLE


@dataclass
class WeekScores:
    start: float
    end: float
    warmup_start: float
    leads: dict[str, list[ScorePoint]] = field(default_factory=dict)
    converted_at: dict[str, float] = field(default_factory=dict)  # first conversion


def last_full_week(log: EventLog, label_days: float) -> tuple[float, float]:
    """[Monday 00:00, next Monday) UTC of the last week followed by a whole label window."""
    latest_end = log.last_ts - label_days * DAY
    day = math.floor(latest_end / DAY)
    monday = day - ((day + 3) % 7)  # 1970-01-01 was a Thursday
    start = (monday - 7) * DAY
    if start < log.first_ts:
        start = max(math.floor(log.first_ts / DAY) * DAY, latest_end - 7 * DAY)
    return start, start + 7 * DAY


def _points(items: list[tuple[float, int, object]], types: frozenset[str],
            pages: frozenset[str], lo: float, hi: float, idle_s: float
            ) -> Iterator[tuple[float, str, int]]:
    """(time, cause, how many items are folded by then) for one lead's time-sorted items:
    after each significant event in [lo, hi), and every `idle_s` of silence."""
    n = bisect_left([t for t, _, _ in items], hi)
    last: float | None = None
    for k in range(n):
        t, _, it = items[k]
        if last is not None:
            s = last + idle_s
            while s < t:
                if s >= lo:
                    yield s, IDLE, k
                s += idle_s
        last = t
        if (t >= lo and isinstance(it, Obs)
                and (it.type in types or (it.type == "page_view" and it.sub in pages))):
            yield t, it.event_id, k + 1
    if last is not None:
        s = last + idle_s
        while s < hi:
            if s >= lo:
                yield s, IDLE, n
            s += idle_s


def score_week(log: EventLog, scorer: Scorer, start: float, end: float,
               warmup_days: float = 8.0, idle_hours: float = 24.0,
               quiet_days: float = 35.0) -> WeekScores:
    """Every open lead's scores from `start - warmup_days` to `end`. Leads with no event in
    the `quiet_days` before the warm-up are left out: their windows are empty and their
    score no longer moves."""
    scfg = SnapshotConfig.from_dict(scorer.meta.get("snapshot", {}))
    types, pages = scfg.matcher()
    lo = start - warmup_days * DAY
    idle_s = idle_hours * 3600.0
    out = WeekScores(start, end, lo)
    by_lead: dict[str, list[str]] = defaultdict(list)
    for anon_id, (_, lead) in log.identify.items():
        by_lead[lead].append(anon_id)
    cfg = scorer.config.state_config
    rows: list[np.ndarray] = []
    owners: list[tuple[str, float, str]] = []
    for lead_id in sorted(log.leads):
        obs = log.leads[lead_id]
        closed = min((o.ts for o in obs if o.type in ("converted", "disqualified")),
                     default=math.inf)
        conv = min((o.ts for o in obs if o.type == "converted"), default=math.inf)
        if conv < math.inf:
            out.converted_at[lead_id] = conv
        if closed < lo or not any(lo - quiet_days * DAY <= o.ts < end for o in obs):
            continue
        items = _replay_items(log, lead_id, obs, by_lead)
        items.sort(key=lambda x: (x[0], x[1]))
        state = LeadState.new(cfg, key=lead_id)
        done = 0
        for t, cause, upto in _points(items, types, pages, lo, min(end, closed), idle_s):
            while done < upto:
                it = items[done][2]
                if isinstance(it, LeadState):
                    state = merge(state, it)
                else:
                    fold_into(state, it, cfg)
                done += 1
            rows.append(scorer.features(state, t))
            owners.append((lead_id, t, cause))
    if rows:
        scores = scorer.score_batch(np.vstack(rows)).score
        for (lead_id, t, cause), s in zip(owners, scores.tolist(), strict=True):
            out.leads.setdefault(lead_id, []).append(ScorePoint(t, int(s), cause))
    return out
