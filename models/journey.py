"""A second synthetic population: B2B buying journeys with known true probabilities.

WHY a second generator: a model judged only on the simulator it was developed against can
look right for the wrong reasons (the simulator and the features were written by the same
hands). This one is written separately and shares nothing with `models.simulate` but the
event contract. Its truth is a hidden continuous-time Markov chain over buying stages:

    aware -> researching -> evaluating -> deciding -> converted
        (any open stage may stall into `dormant`, wake up again, or end `lost`)

Each lead has its own transition rates, set by a hidden fit (partly visible in its profile:
size, industry, role, recent funding; partly not) and a hidden budget that decides deals.
Behaviour is emitted by the stage, not by any feature: web sessions whose page mix shifts
toward pricing and comparisons, content, searches, product use after a trial, a buying
committee (invites, integrations) while deciding, replies to sales, weekly newsletters.
Stage changes are often, not always, marked by a hand-raise (a trial, a demo request).

Because the chain is Markov, P(converted within L days | stage k at time S) is exactly
[expm(Q L)]_{k, converted} for the lead's rate matrix Q, whatever S. The generator writes
that step function per lead into a truth file (JSON lines, one header line), so
`leadscore evaluate --truth` can compare every snapshot's score with its true probability.

Realism extras: anonymous visits before an `identify`, weekday and business-hour rhythm,
duplicated lines, a few malformed lines (never outcome or profile lines: CRM data is the
label, and a dropped label would make the truth file lie), neighbours swapped in time.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import IO, Any

import numpy as np
import orjson

from models.cli import module_main
from models.errors import UsageError
from models.progress import Progress
from schemas import CURRENT_SCHEMA_VERSION

DAY = 86400.0
STAGES = ("aware", "researching", "evaluating", "deciding", "dormant", "converted", "lost")
AW, RE, EV, DE, DO, CV, LO = range(len(STAGES))
OPEN = (AW, RE, EV, DE, DO)
TRUTH_FORMAT = 1

# Base transition rates per day (before the lead's fit and budget), from -> {to: rate}.
BASE_RATES: dict[int, dict[int, float]] = {
    AW: {RE: 0.020, DO: 0.004, LO: 0.018},
    RE: {EV: 0.012, DO: 0.004, LO: 0.018},
    EV: {DE: 0.020, CV: 0.002, DO: 0.003, LO: 0.011},
    DE: {CV: 0.110, LO: 0.005, EV: 0.004},
    DO: {RE: 0.003, LO: 0.008},
}
PROGRESS = {(AW, RE), (RE, EV), (EV, DE), (EV, CV), (DO, RE)}
SETBACK = {(AW, DO), (RE, DO), (EV, DO), (AW, LO), (RE, LO), (EV, LO), (DO, LO), (DE, EV)}

# Emission rates per day of an average-activity lead, by stage (AW, RE, EV, DE, DO, LO).
SESSIONS = (0.05, 0.4, 1.0, 1.2, 0.01, 0.004)
PAGES_PER_SESSION = (0.6, 1.2, 1.6, 1.8, 0.5, 0.3)  # extra pages beyond the landing page
DOWNLOADS = (0.008, 0.06, 0.03, 0.02, 0.001, 0.0)
SEARCHES = (0.004, 0.04, 0.08, 0.06, 0.0, 0.0)
LOGINS = (0.0, 0.05, 1.5, 2.5, 0.02, 0.005)  # only once the lead has product access
INVITES = (0.0, 0.0, 0.015, 0.12, 0.0, 0.0)
INTEGRATIONS = (0.0, 0.0, 0.02, 0.07, 0.0, 0.0)
TICKETS = (0.0, 0.002, 0.015, 0.03, 0.001, 0.0)
REPLIES = (0.0, 0.002, 0.015, 0.16, 0.0, 0.0)
SALES_EMAILS = (0.0, 0.0, 0.05, 0.3, 0.0, 0.0)
OPEN_P = (0.18, 0.27, 0.33, 0.42, 0.07, 0.04)
CLICK_P = (0.08, 0.16, 0.22, 0.28, 0.04, 0.02)
PAGE_MIX = {  # stage -> (category, weight); the page a visitor lands on is drawn the same way
    AW: (("blog", 45), ("home", 25), ("product", 15), ("careers", 4), ("other", 11)),
    RE: (("blog", 28), ("product", 22), ("case_study", 13), ("docs", 10), ("pricing", 7),
         ("home", 12), ("other", 8)),
    EV: (("pricing", 20), ("docs", 20), ("product", 18), ("competitor_comparison", 10),
         ("case_study", 10), ("blog", 10), ("home", 12)),
    DE: (("pricing", 28), ("docs", 16), ("case_study", 14), ("competitor_comparison", 10),
         ("product", 16), ("home", 10), ("other", 6)),
    DO: (("blog", 50), ("home", 30), ("other", 20)),
    LO: (("careers", 30), ("blog", 40), ("home", 30)),
}
INDUSTRY = (("saas", 0.22, 0.5), ("financial_services", 0.12, 0.3), ("ecommerce", 0.12, 0.1),
            ("healthcare", 0.10, -0.1), ("manufacturing", 0.12, -0.2), ("education", 0.08, -0.5),
            ("agency", 0.10, 0.0), ("public_sector", 0.06, -0.6), ("nonprofit", 0.08, -0.7))
ROLES = (("Chief Executive Officer", 0.05, 0.3), ("CTO", 0.04, 0.4),
         ("VP Engineering", 0.05, 0.6), ("VP of Marketing", 0.04, 0.5),
         ("Head of Data", 0.06, 0.5), ("Director of IT", 0.07, 0.4),
         ("Marketing Director", 0.06, 0.3), ("Engineering Manager", 0.10, 0.2),
         ("Product Manager", 0.09, 0.1), ("Operations Manager", 0.07, 0.0),
         ("Data Analyst", 0.12, -0.2), ("Software Engineer", 0.12, -0.1),
         ("Student", 0.05, -1.5), ("Recruiter", 0.03, -1.0), ("Consultant", 0.05, -0.3))
COUNTRIES = (("US", 0.45, -5), ("GB", 0.12, 0), ("DE", 0.10, 1), ("FR", 0.06, 1),
             ("CA", 0.07, -5), ("AU", 0.05, 10), ("IN", 0.08, 5), ("BR", 0.04, -3),
             ("NL", 0.03, 1))
SOURCES = {"web": "segment", "email": "marketo", "product": "product-db",
           "profile": "zoominfo", "outcome": "hubspot-crm"}
FEATURE_NAMES = ("pipelines", "notebooks", "sharing", "alerts", "sql_editor", "catalog",
                 "lineage", "permissions", "schedules", "api_keys", "dashboards")
APPS = ("snowflake", "databricks", "postgres", "bigquery", "s3", "slack", "okta", "dbt")
SEARCH = ("pricing", "sso", "soc2", "api", "connectors", "limits", "on-prem", "trial")


def _rate_matrix(fit: float, budget: float) -> np.ndarray:
    """The lead's generator Q (per day): rows sum to zero, absorbing rows are zero."""
    q = np.zeros((len(STAGES), len(STAGES)))
    for a, outs in BASE_RATES.items():
        for b, r in outs.items():
            if (a, b) in PROGRESS:
                r *= math.exp(0.45 * fit)
            elif (a, b) in SETBACK:
                r *= math.exp(-0.3 * fit)
            if (a, b) == (DE, CV):
                r *= math.exp(0.35 * budget)
            if (a, b) == (DE, LO):
                r *= math.exp(-0.6 * budget)
            q[a, b] = r
        q[a, a] = -q[a].sum()
    return q


def expm(a: np.ndarray) -> np.ndarray:
    """Matrix exponential by scaling and squaring with a Taylor series (small dense matrices;
    accurate to ~1e-13 here, and keeps the generator free of a scipy dependency)."""
    norm = float(np.abs(a).sum(axis=1).max())
    s = max(0, math.ceil(math.log2(norm / 0.25))) if norm > 0.25 else 0
    b = a / (2.0 ** s)
    out = np.eye(len(a))
    term = np.eye(len(a))
    for k in range(1, 18):
        term = term @ b / k
        out = out + term
    for _ in range(s):
        out = out @ out
    return out


def true_probabilities(q: np.ndarray, label_days: float) -> np.ndarray:
    """P(converted within `label_days` | stage), for every stage of generator `q`."""
    return expm(q * label_days)[:, CV]


@dataclass
class Lead:
    """What one lead's history is built from (all hidden except what its events show)."""

    idx: int
    lead_id: str
    created: float  # days since the start of the history
    fit: float
    budget: float
    activity: float
    employees: int
    industry: str
    title: str
    country: str
    tz_hours: int
    funding: tuple[str, float] | None  # (round, days before creation)
    plg: bool  # arrived through a product signup rather than a form


def _pick(rng: np.random.Generator, table: Sequence[tuple[Any, ...]]) -> tuple[Any, ...]:
    w = np.array([t[1] for t in table], dtype=np.float64)
    return table[int(rng.choice(len(table), p=w / w.sum()))]


def draw_lead(rng: np.random.Generator, idx: int, days: float, seed: int) -> Lead:
    emp = max(1, int(round(math.exp(rng.normal(4.6, 1.5)))))
    industry, _, ind_fit = _pick(rng, INDUSTRY)
    title, _, role_fit = _pick(rng, ROLES)
    country, _, tz = _pick(rng, COUNTRIES)
    funding = None
    recent = 0.0
    if rng.random() < 0.35:
        rnd = ("seed", "series_a", "series_b", "series_c", "series_d_plus")[int(rng.integers(5))]
        ago = float(rng.uniform(10, 900))
        funding = (rnd, ago)
        recent = 0.6 if ago < 240 else 0.0
    size_fit = 0.5 if 100 <= emp <= 5000 else (-0.6 if emp < 15 else 0.1)
    hidden = rng.normal(0.0, 0.1)  # what no profile field says about the account's fit
    fit = 0.6 * (size_fit + ind_fit + role_fit + recent) + hidden
    # Engaged accounts are somewhat better fits: activity carries a little of the hidden fit.
    activity = math.exp(rng.normal(0, 0.2) + 0.5 * hidden)
    return Lead(idx, f"jl-{seed}-{idx:06d}", float(rng.uniform(0, days)), float(fit),
                float(rng.normal(0, 1)), float(activity), emp, industry,
                title, country, int(tz), funding, bool(rng.random() < 0.45))


def walk(rng: np.random.Generator, q: np.ndarray, start: int, t0: float, t_end: float
         ) -> list[tuple[float, int]]:
    """The hidden path: (entry time in days, stage), until absorbed or the history ends."""
    path = [(t0, start)]
    t, s = t0, start
    while s in OPEN:
        out = -q[s, s]
        t += float(rng.exponential(1.0 / out))
        if t >= t_end:
            break
        p = np.clip(q[s], 0, None)
        s = int(rng.choice(len(p), p=p / p.sum()))
        path.append((t, s))
    return path


class Emitter:
    """Builds one lead's events (times in days since the start), then writes them as lines."""

    def __init__(self, rng: np.random.Generator, lead: Lead, t0: float) -> None:
        self.rng, self.lead, self.t0 = rng, lead, t0
        self.events: list[tuple[float, dict[str, Any]]] = []
        self.n = 0

    def add(self, day: float, typ: str, cat: str, props: dict[str, Any],
            anon: str | None = None, lead: bool = True) -> None:
        self.n += 1
        ts = self.t0 + day * DAY
        self.events.append((ts, {
            "event_id": f"j{self.lead.idx:x}.{self.n:x}",
            "type": typ,
            "occurred_at": datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds"),
            "lead_id": self.lead.lead_id if lead else None,
            "anonymous_id": anon,
            "source": SOURCES[cat],
            "schema_version": CURRENT_SCHEMA_VERSION,
            "properties": props,
        }))

    # ---- rhythm: weekdays and business hours in the lead's time zone
    def accept(self, day: np.ndarray) -> np.ndarray:
        local = day + self.lead.tz_hours / 24.0 + self.t0 / DAY
        dow = np.floor(local + 3).astype(np.int64) % 7  # 1970-01-01 was a Thursday: 0 = Mon
        hour = (local % 1.0) * 24.0
        w = np.where(dow >= 5, 0.25, 1.0) * np.where((hour >= 8) & (hour < 19), 1.0, 0.15)
        return np.asarray(self.rng.random(len(day)) < w)

    def times(self, rate: float, a: float, b: float) -> np.ndarray:
        """Event times of a Poisson process of mean `rate`/day in [a, b), shaped by rhythm."""
        if rate <= 0 or b <= a:
            return np.zeros(0)
        n = int(self.rng.poisson(rate * (b - a) / 0.43))  # 0.43: mean acceptance of `accept`
        t = np.sort(self.rng.uniform(a, b, n))
        return t[self.accept(t)]


def emit_lead(em: Emitter, path: list[tuple[float, int]], t_end: float) -> None:
    """All of one lead's events along its hidden path."""
    rng, lead = em.rng, em.lead
    act = lead.activity
    c = lead.created
    anon = f"ja-{lead.idx:06d}"
    if rng.random() < 0.4:  # anonymous browsing before the lead identifies itself
        for t in np.sort(c - rng.uniform(0.05, 10, 1 + int(rng.poisson(0.8)))):
            if t > 0:
                _session(em, float(t), path[0][1], anon, c, lead_known=False)
        em.add(c, "identify", "web", {"email": f"user{lead.idx}@acct{lead.idx}.example.org"},
               anon=anon)
    if lead.plg:
        em.add(c, "signup", "product", {"plan": "free", "method": ("email", "google")[
            int(rng.integers(2))]})
    else:
        form = ("contact", "newsletter", "gated_content")[int(rng.integers(3))]
        em.add(c, "form_submit", "web", {"form_id": form, "form_name": form.replace("_", " ")})
    if rng.random() < 0.95:  # enrichment lands shortly after the lead exists
        em.add(c + float(rng.uniform(0.001, 0.3)), "profile_update", "profile", _profile(em))
    product = lead.plg
    demoed = False
    for k, (start, stage) in enumerate(path):
        end = path[k + 1][0] if k + 1 < len(path) else t_end
        if k > 0:
            product, demoed = _enter(em, start, stage, product, demoed)
        if stage == CV:
            break
        si = stage if stage in OPEN else 5  # emission tables: index 5 = lost
        # Budget behind a project shows as a bigger team in the trial and more replies.
        bud = math.exp(0.5 * lead.budget) if stage in (EV, DE) else 1.0
        for t in em.times(SESSIONS[si] * act, start, end):
            _session(em, float(t), stage, None, end)
        for t in em.times(DOWNLOADS[si] * act, start, end):
            kind = ("whitepaper", "ebook", "report", "case_study", "webinar")[
                int(rng.integers(5))]
            em.add(float(t), "content_download", "web", {"content_type": kind,
                                                          "title": f"{kind} #{rng.integers(40)}"})
        for t in em.times(SEARCHES[si] * act, start, end):
            em.add(float(t), "site_search", "web", {"query": SEARCH[int(rng.integers(8))]})
        for t in em.times(REPLIES[si] * bud, start, end):
            em.add(float(t), "email_reply", "email", _msg(em, t, "sales"))
        for t in em.times(SALES_EMAILS[si], start, end):
            em.add(float(t), "email_delivered", "email", _msg(em, t, "sales"))
        if product:
            for t in em.times(LOGINS[si] * act, start, end):
                em.add(float(t), "login", "product", {})
                for j in range(int(rng.poisson(0.8 if stage == EV else 1.2))):
                    em.add(float(t) + 0.002 * (j + 1), "feature_used", "product",
                           {"feature": FEATURE_NAMES[int(rng.integers(len(FEATURE_NAMES)))]})
            for t in em.times(INVITES[si] * bud, start, end):
                em.add(float(t), "teammate_invited", "product",
                       {"invitee_count": 1 + int(rng.poisson(1.5))})
            for t in em.times(INTEGRATIONS[si] * bud, start, end):
                em.add(float(t), "integration_connected", "product",
                       {"integration": APPS[int(rng.integers(len(APPS)))]})
            for t in em.times(TICKETS[si], start, end):
                em.add(float(t), "support_ticket", "product",
                       {"topic": "onboarding", "severity": ("low", "normal", "high")[
                           int(rng.integers(3))]})
    _newsletters(em, path, t_end)


def _enter(em: Emitter, t: float, stage: int, product: bool, demoed: bool) -> tuple[bool, bool]:
    """The marker (if any) a stage change leaves in the data."""
    rng = em.rng
    u = rng.random()
    if stage == RE and u < 0.7:
        em.add(t, "content_download", "web", {"content_type": "whitepaper",
                                              "title": "Buyer's guide"})
    elif stage == EV:
        if not product:  # evaluating means hands on the product: a trial starts
            product = True
            em.add(t, "signup", "product", {"plan": "trial", "method": "email"})
            em.add(t + 0.001, "trial_started", "product", {"plan": "team", "trial_days": 14})
        else:
            _session(em, t, EV, None, t + 1, pricing_first=True)
    elif stage == DE:
        if not demoed:
            demoed = True
            em.add(t, "demo_request", "web", {"form_id": "demo"})
        elif product and u < 0.9:
            em.add(t, "teammate_invited", "product", {"invitee_count": 2 + int(rng.poisson(2))})
        else:
            em.add(t, "email_reply", "email", _msg(em, t, "sales"))
    elif stage == CV:
        value = math.exp(9.0 + 0.35 * math.log(em.lead.employees) + rng.normal(0, 0.6))
        em.add(t, "converted", "outcome", {"deal_value": round(value, 2),
                                           "currency": "USD" if rng.random() < 0.85 else "EUR"})
    elif stage == LO:
        if u < 0.75:
            em.add(t, "disqualified", "outcome", {"reason": ("no budget", "bad fit", "competitor",
                                                             "unresponsive")[int(rng.integers(4))]})
        elif demoed:  # an open deal is always closed-lost in the CRM
            em.add(t, "lost", "outcome", {"reason": "chose another vendor"})
    return product, demoed


def _session(em: Emitter, t: float, stage: int, anon: str | None, until: float,
             lead_known: bool = True, pricing_first: bool = False) -> None:
    rng = em.rng
    si = stage if stage in OPEN else 5
    cats = PAGE_MIX[stage if stage in PAGE_MIX else LO]
    sid = f"js{em.lead.idx:x}.{em.n:x}"
    em.add(t, "session_start", "web", {"session_id": sid, "device": (
        "desktop", "desktop", "mobile")[int(rng.integers(3))]}, anon=anon, lead=lead_known)
    n = 1 + int(rng.poisson(PAGES_PER_SESSION[si]))
    tt = t
    shown = 0
    for j in range(n):
        tt += float(rng.exponential(45.0)) / DAY
        if tt >= until:
            break
        cat = "pricing" if pricing_first and j == 0 else _pick(rng, cats)[0]
        path = "/" + cat.replace("_", "-")
        em.add(tt, "page_view", "web", {"url": f"https://www.journey.example{path}",
                                        "path": path, "page_category": cat},
               anon=anon, lead=lead_known)
        shown += 1
    end = min(tt + 20.0 / DAY, until - 1e-6) if until > t else t
    em.add(max(t, end), "session_end", "web",
           {"session_id": sid, "duration_seconds": round(max(0.0, (end - t) * DAY), 1),
            "page_count": shown}, anon=anon, lead=lead_known)


def _msg(em: Emitter, t: float, kind: str) -> dict[str, Any]:
    return {"campaign_id": f"{kind}-{int(t) // 7}", "message_id": f"{kind}-{em.lead.idx}-{t:.4f}"}


def _newsletters(em: Emitter, path: list[tuple[float, int]], t_end: float) -> None:
    """Every other Tuesday 14:00 UTC to every lead still on the list. List hygiene: a lead
    that opened none of its last four sends is sunset (no more newsletters)."""
    rng = em.rng
    unopened = 0
    first = math.ceil(em.lead.created)
    bounced = rng.random() < 0.015
    stage_at = [s for _, s in path]
    starts = np.array([t for t, _ in path])
    epoch_day = int(em.t0 // DAY)
    first += (1 - (epoch_day + first + 3)) % 14  # (epoch day + 3) % 14 == 1: every other Tuesday
    for d in range(first, int(t_end), 14):
        t = d + 14 / 24
        if t >= t_end:
            break
        stage = stage_at[int(np.searchsorted(starts, t, side="right")) - 1]
        if stage == CV:
            break
        if unopened >= 4:
            return
        base = {"campaign_id": f"nl-{d}", "message_id": f"nl-{d}-{em.lead.idx}"}
        if bounced:
            em.add(t, "email_bounce", "email", {**base, "bounce_type": "hard"})
            return
        em.add(t, "email_delivered", "email", base)
        si = stage if stage in OPEN else 5
        unopened += 1
        if rng.random() < OPEN_P[si]:
            unopened = 0
            to = t + float(rng.exponential(0.2))
            em.add(to, "email_open", "email", base)
            if rng.random() < CLICK_P[si] / OPEN_P[si]:
                topic = ("pricing" if stage in (EV, DE) and rng.random() < 0.4 else
                         ("product", "newsletter", "webinar", "case_study")[int(rng.integers(4))])
                em.add(to + 0.003, "email_click", "email",
                       {**base, "url": f"https://www.journey.example/{topic}", "topic": topic})
        if rng.random() < (0.012 if stage in (DO, LO) else 0.003):
            em.add(t + 0.3, "email_unsubscribe", "email", {"campaign_id": base["campaign_id"]})
            return


def _profile(em: Emitter) -> dict[str, Any]:
    lead = em.lead
    p: dict[str, Any] = {"company_name": f"Account {lead.idx}",
                         "company_domain": f"acct{lead.idx}.example.org",
                         "employee_count": lead.employees, "industry": lead.industry,
                         "country": lead.country, "job_title": lead.title}
    if lead.funding is not None:
        rnd, ago = lead.funding
        p["funding_round"] = rnd
        p["funding_date"] = datetime.fromtimestamp(
            em.t0 + (lead.created - ago) * DAY, UTC).date().isoformat()
    if em.rng.random() < 0.6:
        e = lead.employees
        p["revenue_band"] = ("<1M" if e < 10 else "1M-10M" if e < 60 else "10M-50M" if e < 300
                             else "50M-250M" if e < 1500 else "250M-1B" if e < 8000 else ">1B")
    return p


def write_lines(out: IO[bytes], rng: np.random.Generator,
                events: list[tuple[float, dict[str, Any]]]) -> tuple[int, int]:
    """Serialise, with realistic faults: 1% exact duplicates, ~0.2% malformed web/email/
    product lines, 1.5% of neighbours swapped. Returns (lines written, malformed)."""
    events.sort(key=lambda e: e[0])
    lines = [orjson.dumps(d) for _, d in events]
    for j in np.flatnonzero(rng.random(max(0, len(lines) - 1)) < 0.015).tolist():
        lines[j], lines[j + 1] = lines[j + 1], lines[j]
    out_lines: list[bytes] = []
    bad = 0
    for (_, d), line in zip(events, lines, strict=True):
        r = rng.random()
        if r < 0.002 and d["source"] in (SOURCES["web"], SOURCES["email"], SOURCES["product"]):
            bad += 1
            k = int(rng.integers(4))
            if k == 0:
                out_lines.append(line[:-7])
            elif k == 1:
                out_lines.append(orjson.dumps({**d, "occurred_at": "yesterday"}))
            elif k == 2:
                out_lines.append(orjson.dumps({**d, "type": d["type"].upper()}))
            else:
                out_lines.append(orjson.dumps({**d, "properties": "n/a"}))
            continue
        out_lines.append(line)
        if r > 0.99:
            out_lines.append(line)
    if out_lines:
        out.write(b"\n".join(out_lines) + b"\n")
    return len(out_lines), bad


def run(leads: int, days: int, seed: int, out: str, truth: str | None = None,
        label_days: float = 30.0, progress: bool = True,
        start: date = date(2025, 1, 1)) -> dict[str, Any]:
    """Write `leads` buying journeys over `days` days to `out`, and their true probabilities
    to `truth` (default: `out` + ".truth.jsonl"). Returns counts."""
    if leads < 1 or days < 1:
        raise UsageError("--leads and --days must be positive")
    if label_days <= 0:
        raise UsageError("--label-days must be positive")
    truth = truth or f"{out}.truth.jsonl"
    t0 = datetime(start.year, start.month, start.day, tzinfo=UTC).timestamp()
    rng = np.random.default_rng([seed, 0x6A6F75726E6579])  # "journey": not simulate's stream
    try:
        fh, th = open(out, "wb"), open(truth, "wb")  # noqa: SIM115 - closed below
    except OSError as e:
        raise UsageError(f"cannot write {e.filename}: {e.strerror}") from e
    stats: dict[str, Any] = {"leads": leads, "converted": 0, "events": 0, "lines": 0,
                             "malformed": 0, "ever_hot": 0}
    try:
        th.write(orjson.dumps({"truth_format": TRUTH_FORMAT, "generator": "journey",
                               "label_days": label_days, "seed": seed, "leads": leads,
                               "start": start.isoformat(), "days": days,
                               "stages": STAGES}) + b"\n")
        step = max(1, leads // 100)
        bar = Progress()
        for i in range(leads):
            lead = draw_lead(rng, i, days, seed)
            q = _rate_matrix(lead.fit, lead.budget)
            p_stage = true_probabilities(q, label_days)
            first = _pick(rng, ((AW, 0.50), (RE, 0.32), (EV, 0.18)))[0]
            path = walk(rng, q, first, lead.created, float(days))
            em = Emitter(rng, lead, t0)
            emit_lead(em, path, float(days))
            n_lines, n_bad = write_lines(fh, rng, em.events)
            stats["events"] += len(em.events)
            stats["lines"] += n_lines
            stats["malformed"] += n_bad
            stats["converted"] += int(path[-1][1] == CV)
            stats["ever_hot"] += int(any(p_stage[s] >= 0.8 for _, s in path if s in OPEN))
            th.write(orjson.dumps({
                "lead_id": lead.lead_id,
                "t": [math.floor((t0 + t * DAY) * 1000) / 1000 for t, _ in path],
                "p": [float(p_stage[s]) if s in OPEN else (1.0 if s == CV else 0.0)
                      for _, s in path],
                "stage": [STAGES[s] for _, s in path]}) + b"\n")
            if progress and (i + 1) % step == 0:
                bar(f"journey {i + 1}/{leads} leads, {stats['lines']} lines")
    finally:
        fh.close()
        th.close()
    if progress:
        bar.done()
    stats["truth"] = truth
    return stats


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--leads", type=int, required=True, help="number of leads")
    p.add_argument("--days", type=int, required=True, help="length of history in days")
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.add_argument("--out", required=True, help="output JSON-lines file of events")
    p.add_argument("--truth", default=None,
                   help="true probabilities file (default: OUT.truth.jsonl)")
    p.add_argument("--label-days", type=float, default=30.0,
                   help="window of the true probabilities (match `leadscore train`)")
    p.add_argument("--start", type=date.fromisoformat, default=date(2025, 1, 1),
                   help="first day of history (YYYY-MM-DD, UTC)")
    p.add_argument("--no-progress", action="store_true", help="no progress output")


def run_from_args(args: argparse.Namespace) -> int:
    stats = run(args.leads, args.days, args.seed, args.out, args.truth, args.label_days,
                progress=not args.no_progress, start=args.start)
    print(orjson.dumps(stats).decode())
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return module_main("journey", __doc__, add_arguments, run_from_args, argv)


if __name__ == "__main__":
    sys.exit(main())
