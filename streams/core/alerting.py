"""When a score change should page someone: entered Hot, spike, decline.

Pure functions over a small per-lead :class:`AlertState`, so the rules are tested without a
broker and a replay of the same events from the same state yields the same alerts with the
same idempotency keys (that is what makes at-least-once delivery safe for the pager: a
re-sent alert is an exact duplicate a consumer can drop).

Hysteresis: a lead "enters Hot" when its score reaches ``hot``; it only counts as having left
Hot once the score falls below ``hot - hysteresis``. A lead hovering at 79-81 therefore pages
once. Spikes and declines compare against the lowest (highest) score since the last alert of
that kind within the window, so one rise pages once, not on every event of the rise.

What is worth a page: entering Hot is the main event. A spike pages only when it ends at
``page_from`` or above (default Warm): a Cold lead going from 2 to 22 is still a lead no rep
should call, and on a realistic week such spikes outnumbered every other alert many times
over. Likewise a decline pages only when the lead was at ``page_from`` or above within the
window (or is leaving Hot). A suppressed spike or decline leaves no trace in the state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from schemas import alert_idempotency_key

AlertKind = Literal["entered_tier", "spike", "decline"]
Tier = Literal["hot", "warm", "cold"]
TIER_RANK = {"cold": 0, "warm": 1, "hot": 2}

DAY = 86_400.0
# Score points remembered per lead (only changes are kept), so state stays bounded.
MAX_HISTORY = 128


@dataclass(frozen=True)
class AlertPolicy:
    """Thresholds; defaults are the product's (Hot 80+, Warm 50-79, Cold < 50)."""

    hot: int = 80
    warm: int = 50
    hysteresis: int = 5
    spike_points: int = 20
    spike_window_s: float = 1 * DAY
    decline_points: int = 20
    decline_window_s: float = 7 * DAY
    page_from: Tier = "warm"  # spikes must reach, declines must fall from, at least this tier

    def tier(self, score: int) -> Tier:
        if score >= self.hot:
            return "hot"
        return "warm" if score >= self.warm else "cold"

    def pages(self, score: int) -> bool:
        """Is a spike to (or a decline from) this score worth a page?"""
        return TIER_RANK[self.tier(score)] >= TIER_RANK[self.page_from]


@dataclass(frozen=True)
class AlertState:
    """What the rules remember per lead. Bounded: history only spans the longest window."""

    in_hot: bool = False
    # (event time in epoch seconds, score) at each change, oldest first, pruned to the
    # longest window and to MAX_HISTORY entries.
    history: tuple[tuple[float, int], ...] = ()
    # The last spike/decline: when, and the score it reached. Later spikes are measured from
    # that score, not from the low before it (equal event times must not re-trigger).
    last_spike_at: float | None = None
    spike_score: int | None = None
    last_decline_at: float | None = None
    decline_score: int | None = None

    def to_dict(self) -> dict:
        return {"h": self.in_hot, "hist": [list(p) for p in self.history],
                "ls": [self.last_spike_at, self.spike_score],
                "ld": [self.last_decline_at, self.decline_score]}

    @classmethod
    def from_dict(cls, d: dict) -> AlertState:
        ls, ld = d.get("ls") or [None, None], d.get("ld") or [None, None]
        return cls(in_hot=bool(d.get("h", False)),
                   history=tuple((float(t), int(s)) for t, s in d.get("hist", [])),
                   last_spike_at=ls[0], spike_score=ls[1],
                   last_decline_at=ld[0], decline_score=ld[1])


def make_state(in_hot: bool, history: tuple[tuple[float, int], ...],
               last_spike_at: float | None, spike_score: int | None,
               last_decline_at: float | None, decline_score: int | None) -> AlertState:
    """``AlertState(...)`` without the frozen dataclass's per-field ``object.__setattr__``:
    the scorer builds one per lead it reads or scores (a third of the cost of reading a
    lead record)."""
    st = object.__new__(AlertState)
    st.__dict__.update(in_hot=in_hot, history=history, last_spike_at=last_spike_at,
                       spike_score=spike_score, last_decline_at=last_decline_at,
                       decline_score=decline_score)
    return st


def _baseline(history: tuple[tuple[float, int], ...], since: float,
              last_at: float | None, last_score: int | None) -> list[int]:
    """Scores in the window that a new spike/decline is measured against."""
    if last_at is None or last_score is None or last_at < since:
        return [s for t, s in history if t >= since]
    return [last_score] + [s for t, s in history if t > last_at]


@dataclass(frozen=True)
class AlertDecision:
    """An alert to publish; the agent turns it into the contract's Alert message."""

    kind: AlertKind
    lead_id: str
    from_tier: Tier | None  # None: the lead's first score
    to_tier: Tier
    from_score: int | None
    to_score: int
    reason: str
    idempotency_key: str
    cause_event_id: str
    at: float
    extra: dict = field(default_factory=dict)


def evaluate(
    state: AlertState,
    *,
    lead_id: str,
    prev_score: int | None,
    score: int,
    at: float,
    cause_event_id: str,
    policy: AlertPolicy = AlertPolicy(),
) -> tuple[AlertState, list[AlertDecision]]:
    """Apply the rules to one new score; return the new state and the alerts to send."""
    alerts: list[AlertDecision] = []
    from_tier = policy.tier(prev_score) if prev_score is not None else None
    to_tier = policy.tier(score)

    def make(kind: AlertKind, reason: str) -> AlertDecision:
        return AlertDecision(kind, lead_id, from_tier, to_tier, prev_score, score, reason,
                             alert_idempotency_key(lead_id, kind, to_tier, cause_event_id),
                             cause_event_id, at)

    horizon = at - max(policy.spike_window_s, policy.decline_window_s)
    history = tuple(p for p in state.history if p[0] >= horizon)
    in_hot = state.in_hot
    last_spike, spike_score = state.last_spike_at, state.spike_score
    last_decline, decline_score = state.last_decline_at, state.decline_score

    if not in_hot and score >= policy.hot:
        in_hot = True
        alerts.append(make("entered_tier", f"Score reached {score}, entering Hot "
                           f"(threshold {policy.hot})"))
    elif in_hot and score < policy.hot - policy.hysteresis:
        in_hot = False
        last_decline, decline_score = at, score
        alerts.append(make("decline", f"Score fell to {score}, leaving Hot "
                           f"(below {policy.hot - policy.hysteresis})"))

    spike_base = _baseline(history, at - policy.spike_window_s, last_spike, spike_score)
    if (spike_base and score - min(spike_base) >= policy.spike_points
            and policy.pages(score)):
        last_spike, spike_score = at, score
        # Entering Hot already pages for this rise: one crossing, one alert.
        if not alerts:
            alerts.append(make("spike", f"Score rose {score - min(spike_base)} points to "
                               f"{score} within {policy.spike_window_s / 3600:.0f} h"))

    decline_base = _baseline(history, at - policy.decline_window_s, last_decline, decline_score)
    already_declined = any(a.kind == "decline" for a in alerts)
    if (not already_declined and decline_base
            and max(decline_base) - score >= policy.decline_points
            and policy.pages(max(decline_base))):
        last_decline, decline_score = at, score
        alerts.append(make("decline", f"Score fell {max(decline_base) - score} points to {score} "
                           f"within {policy.decline_window_s / DAY:.0f} days"))

    if not history or history[-1][1] != score:
        history = (*history, (at, score))[-MAX_HISTORY:]
    new_state = make_state(in_hot, history, last_spike, spike_score, last_decline,
                           decline_score)
    return new_state, alerts
