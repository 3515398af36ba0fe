"""A realistic week of alerts for a team of reps: is the pager something a rep can work?

Takes a week of scores as the worker produces them (`models.week`: after each significant
event, and daily for idle leads) and runs them through the worker's own alert rules
(:func:`streams.core.alerting.evaluate`) lead by lead, carrying each lead's alert memory from
a warm-up period into the week. Leads are spread over the reps by a hash of their id, as a
round-robin assignment would. Reported: alerts per rep per day (mean, median, 90th
percentile, worst rep-day) by kind, against a budget of 15, and for every kind the share of
paged leads that converted within the label window after their first page, next to the
share of all leads scored that week, so the page is seen to mean something.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import asdict, replace
from datetime import UTC, datetime
from typing import Any

import numpy as np

from models.state import DAY, id_hash
from models.week import WeekScores
from streams.core.alerting import AlertPolicy, AlertState, evaluate

BUDGET_PER_REP_DAY = 15
KINDS = ("entered_tier", "spike", "decline")


def rep_of(lead_id: str, reps: int) -> int:
    return id_hash(lead_id) % reps


def _run(week: WeekScores, policy: AlertPolicy) -> list[tuple[str, float, str]]:
    """(lead, time, kind) of every alert raised inside the week."""
    out: list[tuple[str, float, str]] = []
    for lead, points in week.leads.items():
        state, prev = AlertState(), None
        for pt in points:
            state, alerts = evaluate(state, lead_id=lead, prev_score=prev, score=pt.score,
                                     at=pt.at, cause_event_id=pt.cause, policy=policy)
            prev = pt.score
            if week.start <= pt.at < week.end:
                out.extend((lead, pt.at, a.kind) for a in alerts)
    return out


def _per_rep_day(alerts: list[tuple[str, float, str]], week: WeekScores, reps: int
                 ) -> np.ndarray:
    days = int(round((week.end - week.start) / DAY))
    grid = np.zeros((reps, days), dtype=np.int64)
    for lead, at, _ in alerts:
        grid[rep_of(lead, reps), min(days - 1, int((at - week.start) // DAY))] += 1
    return grid


def _stats(grid: np.ndarray) -> dict[str, float]:
    flat = grid.ravel().astype(np.float64)
    return {"mean": float(flat.mean()), "p50": float(np.percentile(flat, 50)),
            "p90": float(np.percentile(flat, 90)), "max": float(flat.max())}


def simulate_week(week: WeekScores, policy: AlertPolicy, reps: int = 10,
                  label_days: float = 30.0) -> dict[str, Any]:
    """The week's alert figures (JSON-able) under `policy`, plus what paging every spike and
    decline (page_from = cold) would have meant, for comparison."""
    alerts = _run(week, policy)
    grid = _per_rep_day(alerts, week, reps)
    label_s = label_days * DAY
    first: dict[str, dict[str, float]] = defaultdict(dict)
    for lead, at, kind in alerts:
        for k in (kind, "any"):
            first[k].setdefault(lead, at)

    def converted(lead: str, at: float) -> bool:
        c = week.converted_at.get(lead, math.inf)
        return at <= c < at + label_s

    paged = {}
    for k in (*KINDS, "any"):
        leads = first.get(k, {})
        conv = sum(converted(lead, at) for lead, at in leads.items())
        paged[k] = {"leads": len(leads), "converted": conv,
                    "share": conv / len(leads) if leads else None}
    scored = [lead for lead, pts in week.leads.items()
              if any(week.start <= p.at < week.end for p in pts)]
    base = sum(converted(lead, week.start) for lead in scored)
    everything = _per_rep_day(_run(week, replace(policy, page_from="cold")), week, reps)
    kinds = Counter(k for _, _, k in alerts)
    per_kind = {k: float(_per_rep_day([a for a in alerts if a[2] == k], week, reps).mean())
                for k in KINDS}
    stats = _stats(grid)
    return {
        "week": {"start": _iso(week.start), "end": _iso(week.end)},
        "reps": reps,
        "leads_scored": len(scored),
        "policy": asdict(policy),
        "alerts": {**{k: int(kinds.get(k, 0)) for k in KINDS}, "total": len(alerts)},
        "per_rep_day": {**stats, "budget": BUDGET_PER_REP_DAY,
                        "within_budget": stats["max"] <= BUDGET_PER_REP_DAY},
        "per_rep_day_by_kind": per_kind,
        "paged_leads": paged,
        "scored_leads_converting": base / len(scored) if scored else None,
        "paging_every_spike_and_decline": {"total": int(everything.sum()),
                                           **_stats(everything)},
    }


def summary_lines(a: dict[str, Any]) -> list[str]:
    """The alert section of `leadscore evaluate`'s text output."""
    pr, pk = a["per_rep_day"], a["paged_leads"]
    ev = a["paging_every_spike_and_decline"]

    def share(k: str) -> str:
        d = pk[k]
        return (f"{d['share']:.0%} of {d['leads']:,}" if d["share"] is not None
                else "n/a (none paged)")

    base = a["scored_leads_converting"]
    return [
        f"== alerts: a week ({a['week']['start'][:10]} to {a['week']['end'][:10]}) for "
        f"{a['reps']} reps, {a['leads_scored']:,} leads scored "
        f"(spikes/declines page from {a['policy']['page_from']})",
        f"alerts {a['alerts']['total']:,}: entered Hot {a['alerts']['entered_tier']:,}, "
        f"spike {a['alerts']['spike']:,}, decline {a['alerts']['decline']:,}",
        f"per rep per day: mean {pr['mean']:.1f}, median {pr['p50']:.0f}, p90 {pr['p90']:.0f}, "
        f"worst rep-day {pr['max']:.0f} (budget {pr['budget']}: "
        f"{'met' if pr['within_budget'] else 'MISSED'})",
        f"paged leads converting within the label window: entered Hot {share('entered_tier')}, "
        f"spike {share('spike')}, decline {share('decline')}, any page {share('any')}; "
        f"all scored leads {base:.1%}" if base is not None else "",
        f"paging every spike and decline instead: {ev['total']:,} alerts, "
        f"{ev['mean']:.1f} per rep per day (worst {ev['max']:.0f})",
    ]


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()
