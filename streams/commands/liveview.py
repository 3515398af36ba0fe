"""What ``leadscore demo`` shows, as pure functions of what it observed: no Kafka, no clock.

The demo's orchestration (:mod:`streams.commands.demo`) feeds a :class:`Board` with the score
changes and alerts it reads back, each with the latency the demo itself measured (receive time minus
the time it sent the causing event); the board keeps the hottest leads, the latest alerts and
the latency samples, and the ``render_*`` functions turn a snapshot of it into text. Keeping
this free of I/O is what lets the view, the status line and the final summary be tested
without a broker.
"""

from __future__ import annotations

import heapq
import math
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from schemas import Alert, ScoreChange
from streams.core import latency

TOP_LEADS = 10
RECENT_ALERTS = 8
REPS = 10  # the team the demo's alert rate is quoted for (as in `leadscore evaluate`)
WINDOW_S = 10.0  # the "now" figures (rates, latency) are over this sliding window


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0-100), nearest rank as the bench computes it
    (:func:`streams.core.latency.percentile`), or None without samples: a latency figure
    is never invented."""
    return latency.percentile(values, q) if values else None


def fmt_ms(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    ms = seconds * 1000.0
    return f"{ms:,.0f} ms" if ms < 10_000 else f"{seconds:,.1f} s"


def fmt_elapsed(seconds: float) -> str:
    s = int(seconds)
    if s >= 3600:
        return f"{s // 3600}h{s // 60 % 60:02d}m{s % 60:02d}s"
    return f"{s // 60}m{s % 60:02d}s"


@dataclass(frozen=True)
class LeadRow:
    lead_id: str
    score: int
    tier: str
    trend: str
    why: str  # the strongest positive factor's sentence (or the strongest factor's)


@dataclass(frozen=True)
class AlertRow:
    at: float  # epoch seconds the demo received it
    kind: str
    lead_id: str
    from_to: str
    reason: str


@dataclass(frozen=True)
class View:
    """One frame: everything the screen, the status line and the summary need."""

    elapsed: float
    leads: list[LeadRow]
    alerts: list[AlertRow]
    sent_total: int
    sent_rate: float  # events/s over the window
    changes_total: int
    changes_rate: float
    alerts_total: int
    dead_letters: int
    p50: float | None  # latency over the window, seconds
    p99: float | None
    samples: int  # latency samples in the window


def _why(change: ScoreChange) -> str:
    positive = [f for f in change.top_factors if f.points > 0]
    best = max(positive or change.top_factors, key=lambda f: abs(f.points), default=None)
    return best.sentence if best else ""


@dataclass
class Board:
    """Accumulates what the demo read back; ``view(now, ...)`` snapshots it."""

    window_s: float = WINDOW_S
    latest: dict[str, LeadRow] = field(default_factory=dict)
    alerts: deque[AlertRow] = field(default_factory=lambda: deque(maxlen=RECENT_ALERTS))
    latencies: list[float] = field(default_factory=list)  # whole run
    recent: deque[tuple[float, float]] = field(default_factory=deque)  # (received, latency)
    change_times: deque[float] = field(default_factory=deque)
    changes_total: int = 0
    alerts_total: int = 0
    dead_letters: int = 0
    alerts_by_kind: Counter[str] = field(default_factory=Counter)
    hot_leads: set[str] = field(default_factory=set)  # leads that entered Hot (alerts)

    def on_change(self, change: ScoreChange, received: float, latency: float | None) -> None:
        self.latest[change.lead_id] = LeadRow(change.lead_id, change.score, change.tier,
                                              change.trend, _why(change))
        self.changes_total += 1
        self.change_times.append(received)
        if latency is not None:
            self.latencies.append(latency)
            self.recent.append((received, latency))

    def on_alert(self, alert: Alert, received: float) -> None:
        if alert.from_score is not None:
            from_to = (f"{alert.from_tier or '-'} {alert.from_score} -> "
                       f"{alert.to_tier} {alert.to_score}")
        else:
            from_to = f"new -> {alert.to_tier} {alert.to_score}"
        self.alerts.append(AlertRow(received, alert.kind, alert.lead_id, from_to, alert.reason))
        self.alerts_total += 1
        self.alerts_by_kind[alert.kind] += 1
        if alert.to_tier == "hot":
            self.hot_leads.add(alert.lead_id)

    def tiers(self) -> dict[str, int]:
        """Leads per tier, as each lead's latest score change left it."""
        c = Counter(r.tier for r in self.latest.values())
        return {t: c.get(t, 0) for t in ("hot", "warm", "cold")}

    def on_dead_letter(self) -> None:
        self.dead_letters += 1

    def _trim(self, now: float) -> None:
        start = now - self.window_s
        while self.recent and self.recent[0][0] < start:
            self.recent.popleft()
        while self.change_times and self.change_times[0] < start:
            self.change_times.popleft()

    def view(self, now: float, elapsed: float, sent_total: int, sent_rate: float) -> View:
        self._trim(now)
        lats = [lat for _, lat in self.recent]
        top = heapq.nlargest(TOP_LEADS, self.latest.values(), key=lambda r: (r.score, r.lead_id))
        span = min(self.window_s, elapsed) or 1.0
        return View(elapsed=elapsed, leads=top, alerts=list(reversed(self.alerts)),
                    sent_total=sent_total, sent_rate=sent_rate,
                    changes_total=self.changes_total,
                    changes_rate=len(self.change_times) / span,
                    alerts_total=self.alerts_total, dead_letters=self.dead_letters,
                    p50=percentile(lats, 50), p99=percentile(lats, 99), samples=len(lats))


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


def render_screen(v: View, header: str, width: int = 100) -> str:
    """The full-screen frame (the caller clears the terminal and writes it)."""
    out = [header, ""]
    out.append(f"HOTTEST LEADS ({len(v.leads)})")
    out.append(f"  {'lead':<18} {'score':>5}  {'tier':<5} {'trend':<8} top factor")
    for r in v.leads:
        out.append(f"  {r.lead_id:<18} {r.score:>5}  {r.tier:<5} {r.trend:<8} {r.why}")
    if not v.leads:
        out.append("  (no score changes yet)")
    out += ["", f"RECENT ALERTS ({v.alerts_total} in all)"]
    for a in v.alerts:
        out.append(f"  {a.kind:<12} {a.lead_id:<18} {a.from_to:<22} {a.reason}")
    if not v.alerts:
        out.append("  (none yet)")
    out += ["", f"THROUGHPUT (last {WINDOW_S:.0f} s)",
            f"  events sent    {v.sent_rate:7.0f}/s   total {v.sent_total:,}",
            f"  score changes  {v.changes_rate:7.0f}/s   total {v.changes_total:,}",
            f"  dead letters   {v.dead_letters:,}",
            f"  event-to-score latency  p50 {fmt_ms(v.p50)}  p99 {fmt_ms(v.p99)}  "
            f"({v.samples:,} score changes)",
            "", "Ctrl-C stops the demo and everything it started."]
    return "\n".join(_clip(line, width) for line in out)


def render_status(v: View) -> str:
    """One line, for a log or a pipe (stdout not a terminal)."""
    hot = v.leads[0] if v.leads else None
    top = f"; hottest {hot.lead_id} {hot.score} ({hot.tier})" if hot else ""
    return (f"[{fmt_elapsed(v.elapsed)}] sent {v.sent_total:,} ({v.sent_rate:.0f}/s), "
            f"score changes {v.changes_total:,} ({v.changes_rate:.0f}/s), "
            f"alerts {v.alerts_total:,}, dead letters {v.dead_letters:,}, "
            f"latency p50 {fmt_ms(v.p50)} p99 {fmt_ms(v.p99)}{top}")


@dataclass(frozen=True)
class Summary:
    sent: int
    send_seconds: float
    changes: int
    alerts: int
    dead_letters: int
    latencies: Sequence[float]
    send_failures: int = 0
    pages: int | None = None  # delivered to the demo's webhook receiver by leadscore pager
    sample_page: str | None = None
    crm_leads: int | None = None  # rows in the CRM table crm-sync keeps
    crm_table: str = ""
    # The worker's leadscore_event_to_score_seconds over the run (cumulative buckets), what
    # the Grafana dashboard draws; empty when /metrics could not be read.
    worker_buckets: Sequence[tuple[float, float]] = ()
    alerts_by_kind: dict[str, int] = field(default_factory=dict)
    simulated_days: float = 0.0  # event time the sent traffic covered
    hot_leads: int = 0
    tiers: dict[str, int] = field(default_factory=dict)  # leads per tier at the end
    invalid_sent: int | None = None  # the simulator's deliberately invalid lines among `sent`


def _quantile(buckets: Sequence[tuple[float, float]], q: float) -> float | None:
    value = latency.histogram_quantile(buckets, q)
    return None if math.isnan(value) else value


_KIND = {"entered_tier": "entered Hot", "spike": "spike", "decline": "decline"}


def _alert_rate(s: Summary) -> list[str]:
    """Alerts per rep per day: the demo compresses days of event time into minutes, so the
    rate a team would live with is alerts / reps / simulated days, not alerts per minute."""
    if s.simulated_days <= 0:
        return []
    per = s.alerts / REPS / s.simulated_days
    return [f"  alerts per rep/day   {per:.1f} for {REPS} reps over {s.simulated_days:.1f} "
            "simulated days (budget 15)"]


def _dead_letter_note(s: Summary) -> str:
    """Say what the dead letters are: a newcomer reading "52 dead letters" suspects a fault."""
    if s.invalid_sent is None:
        return ""
    return (f" (the simulated traffic includes ~{s.invalid_sent:,} deliberately invalid lines: "
            "broken JSON, missing or wrong fields; the worker sets each aside on the "
            "dead-letter topic with its original bytes and a reason, and goes on)")


def render_summary(s: Summary, commands: Sequence[str]) -> str:
    """The final report: what the run sustained, measured by the demo itself."""
    rate = s.sent / s.send_seconds if s.send_seconds > 0 else 0.0
    lines = [
        "demo summary",
        f"  events sent          {s.sent:,} in {s.send_seconds:.1f} s = {rate:,.0f} events/s "
        "sustained" + (f" ({s.send_failures:,} not delivered)" if s.send_failures else ""),
        f"  score changes        {s.changes:,} (a lead's score is published when it moved "
        "enough to matter, LEADSCORE_MIN_SCORE_CHANGE points; most events move it less)",
        f"  alerts               {s.alerts:,}" + (
            " (" + ", ".join(f"{_KIND.get(k, k)} {n:,}" for k, n in sorted(
                s.alerts_by_kind.items())) + ")" if s.alerts_by_kind else "")
        + " (threshold crossings that page a rep)",
        *_alert_rate(s),
        *(["  leads by tier        " + ", ".join(f"{t} {n:,}" for t, n in s.tiers.items())
           + f" ({s.hot_leads:,} entered Hot)"] if s.tiers else []),
        f"  dead letters         {s.dead_letters:,}" + _dead_letter_note(s),
        f"  event-to-score latency p50 {fmt_ms(percentile(s.latencies, 50))}, "
        f"p99 {fmt_ms(percentile(s.latencies, 99))} over {len(s.latencies):,} score changes "
        "(received minus sent, measured by the demo)",
        f"  the worker's histogram p50 {fmt_ms(_quantile(s.worker_buckets, 0.5))}, "
        f"p99 {fmt_ms(_quantile(s.worker_buckets, 0.99))} (event sent -> change in Kafka, "
        "as the Grafana dashboard and the bench compute it)",
        *_downstream_lines(s),
        "  commands used:",
        *(f"    {c}" for c in commands),
    ]
    return "\n".join(lines)


def _downstream_lines(s: Summary) -> list[str]:
    lines = []
    if s.pages is not None:
        lines.append(f"  pages delivered      {s.pages:,} by leadscore pager to the demo's webhook "
                     "receiver (Hot alerts to /reps, the rest to /team; capped per hour, the "
                     "excess sent as one digest)")
        if s.sample_page:
            lines += ["  the latest page:", *(f"    | {ln}" for ln in s.sample_page.splitlines())]
    if s.crm_leads is not None:
        lines.append(f"  CRM table            {s.crm_leads:,} leads with score, tier and reasons "
                     f"in {s.crm_table}, kept by leadscore crm-sync")
    return lines
