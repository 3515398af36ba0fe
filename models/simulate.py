"""Synthetic event history driven by a hidden intent process (`leadscore simulate`).

WHY a hidden process rather than hand-placed signals: conversions depend only on latent
variables (fit and a daily intent level); every observable event is a noisy emission of
them. So some signals genuinely predict (pricing visits soon after signup, recent funding,
rising week-on-week activity all come from an in-market episode), some barely matter
(whitepaper downloads are emitted independently of intent, though sales believes in them),
and the model has to recover the process rather than memorise a rule.

Conversion has two routes: self-serve (a daily hazard rising steeply with intent) and
sales-led (a demo request opens a deal, won with a probability set by intent and fit; a deal
that will be won shows the buying team in the product - invites, integrations, logins - in
the days before it closes, which is what makes a few leads recognisably Hot).

Realism extras: anonymous visits before identification (linked later by `identify`),
bot-like noise leads, duplicated records, a small share of malformed lines (which
`schemas.parse_event` must reject), and a few late-arriving lines out of order.
The file is grouped by lead (each lead's lines roughly in time order), not globally sorted.

`leadscore simulate --generator journey` writes the second, separately written population
instead (`models.journey`), with each lead's true probabilities.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import IO, Any

import numpy as np
import orjson

from models.cli import module_main
from models.errors import UsageError
from models.progress import Progress
from schemas import CURRENT_SCHEMA_VERSION as SCHEMA_VERSION

DAY = 86400.0
SOURCE_FOR = {"website": "web-tracker", "email": "hubspot", "product": "app",
              "profile": "clearbit", "outcome": "salesforce"}
INDUSTRIES = (("software", 0.25, 0.35), ("fintech", 0.10, 0.30), ("healthcare", 0.10, 0.0),
              ("retail", 0.12, -0.2), ("manufacturing", 0.12, -0.1), ("education", 0.08, -0.3),
              ("media", 0.08, -0.1), ("logistics", 0.08, 0.0), ("government", 0.07, -0.4))
COUNTRIES = ("US", "US", "US", "GB", "DE", "FR", "CA", "AU", "NL", "IN", "BR", "SE")
TITLES = {  # seniority -> titles (all normalise to that seniority in schemas.titles)
    "c_level": ("CEO", "CTO", "CFO", "CMO", "Founder"),
    "vp": ("VP of Engineering", "VP Marketing", "VP Sales", "Vice President, Finance",
           "VP Product"),
    "director": ("Director of Engineering", "Marketing Director", "IT Director",
                 "Director of Operations", "Head of Growth"),
    "manager": ("Engineering Manager", "Marketing Manager", "Sales Manager", "Product Manager",
                "IT Manager", "HR Manager"),
    "ic": ("Software Engineer", "Data Analyst", "Account Executive", "Marketing Specialist",
           "Accountant", "Recruiter", "Systems Administrator", "Operations Analyst"),
}
SENIORITY_P = (("c_level", 0.06), ("vp", 0.09), ("director", 0.15), ("manager", 0.25),
               ("ic", 0.45))
SENIORITY_FIT = {"c_level": 0.3, "vp": 0.45, "director": 0.35, "manager": 0.1, "ic": -0.2}
ROUNDS = ("pre_seed", "seed", "series_a", "series_b", "series_c", "series_d_plus", "ipo")
PAGES = ("home", "blog", "product", "docs", "careers", "other")
PAGE_P = (0.25, 0.3, 0.2, 0.15, 0.04, 0.06)
FEATURES = ("dashboards", "reports", "alerts", "api", "sso", "exports", "workflows", "segments",
            "forecasting", "webhooks", "audit_log", "roles", "scheduling", "templates", "sandbox")
INTEGRATIONS = ("salesforce", "hubspot", "slack", "snowflake", "bigquery", "zapier", "jira")
CONTENT = ("whitepaper", "whitepaper", "ebook", "report", "datasheet", "webinar")
EMAIL_TOPICS = ("product", "newsletter", "webinar", "event", "case_study", "pricing", "other")


def _sigmoid(x: Any) -> Any:
    return 1.0 / (1.0 + np.exp(-x))


@dataclass
class Writer:
    """Collects one lead's events; `flush` adds duplicates/malformed lines and writes."""

    out: IO[bytes]
    rng: np.random.Generator
    t0: float
    dup_rate: float = 0.015
    bad_rate: float = 0.003
    n_events: int = 0
    n_lines: int = 0
    n_bad: int = 0

    def __post_init__(self) -> None:
        self.buf: list[tuple[float, dict[str, Any]]] = []
        self.seq = 0

    def add(self, typ: str, cat: str, day: float, lead: str | None, anon: str | None,
            props: dict[str, Any], prefix: str) -> None:
        self.seq += 1
        ts = self.t0 + day * DAY
        self.buf.append((ts, {
            "event_id": f"{prefix}-{self.seq}",
            "type": typ,
            "occurred_at": datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds"),
            "lead_id": lead,
            "anonymous_id": anon,
            "source": SOURCE_FOR[cat],
            "schema_version": SCHEMA_VERSION,
            "properties": props,
        }))

    def flush(self) -> None:
        self.buf.sort(key=lambda x: x[0])
        lines = [orjson.dumps(d) for _, d in self.buf]
        self.n_events += len(lines)
        rng = self.rng
        n = len(lines)
        if n > 2:  # a few late arrivals: swap neighbours
            for j in np.flatnonzero(rng.random(n - 1) < 0.02).tolist():
                lines[j], lines[j + 1] = lines[j + 1], lines[j]
        out: list[bytes] = []
        for i, line in enumerate(lines):
            r = rng.random()
            if r < self.bad_rate:
                out.append(_malform(line, self.buf[i][1], rng))
                self.n_bad += 1
                continue
            out.append(line)
            if r > 1.0 - self.dup_rate:
                out.append(line)
        self.out.write(b"\n".join(out) + b"\n" if out else b"")
        self.n_lines += len(out)
        self.buf.clear()


def _malform(line: bytes, d: dict[str, Any], rng: np.random.Generator) -> bytes:
    """One of the ways real producers break records; every one must be rejected."""
    k = int(rng.integers(6))
    bad = dict(d)
    if k == 0:
        return line[: max(1, len(line) // 2)]  # truncated JSON
    if k == 1:
        bad.pop("occurred_at")
    elif k == 2:
        bad["occurred_at"] = bad["occurred_at"][:19]  # naive timestamp, no timezone
    elif k == 3:
        bad["type"] = "page_veiw"
    elif k == 4:
        bad["lead_id"] = None
        bad["anonymous_id"] = None
    else:
        bad["event_id"] = ""
    return orjson.dumps(bad)




def _choice(rng: np.random.Generator, items: Sequence[Any], p: Sequence[float] | None = None
            ) -> Any:
    return items[int(rng.choice(len(items), p=p))]


def simulate_lead(w: Writer, rng: np.random.Generator, i: int, days: int, seed: int) -> bool:
    """Emit one lead's whole history; returns whether it converted."""
    lead = f"lead-{seed}-{i:07d}"
    c = float(rng.uniform(0, days))  # creation (first identified touch), in days
    # ---- firmographics and fit (hidden)
    emp = int(max(1, round(math.exp(rng.normal(4.3, 1.6)))))
    ind_names = [x[0] for x in INDUSTRIES]
    ind_idx = int(rng.choice(len(INDUSTRIES), p=[x[1] for x in INDUSTRIES]))
    industry, ind_fit = ind_names[ind_idx], INDUSTRIES[ind_idx][2]
    sen = _choice(rng, [s for s, _ in SENIORITY_P], [p for _, p in SENIORITY_P])
    title = _choice(rng, TITLES[sen])
    funded = rng.random() < 0.45
    fund_age = float(rng.uniform(0, 1000)) if funded else math.inf
    round_ = _choice(rng, ROUNDS) if funded else None
    size_fit = 0.5 if 50 <= emp <= 5000 else (-0.3 if emp < 10 else 0.0)
    fit = (SENIORITY_FIT[sen] + size_fit + ind_fit + (0.9 if fund_age < 180 else 0.0)
           + rng.normal(0, 0.4))
    bot = rng.random() < 0.03

    # ---- hidden intent: baseline + AR(1) noise + an in-market episode
    horizon = int(min(days - c, 180)) + 1
    t = np.arange(horizon, dtype=np.float64)
    tau = float(rng.uniform(20, 90))
    act = np.exp(-t / tau)
    noise = rng.normal(0, 0.35, horizon)
    ar = np.empty(horizon)
    acc = 0.0
    for k in range(horizon):  # AR(1), phi = 0.85
        acc = 0.85 * acc + noise[k]
        ar[k] = acc
    z = rng.normal(-0.6, 0.5) + 0.5 * ar
    in_market = rng.random() < _sigmoid(-2.6 + 1.1 * fit)
    if in_market and not bot:
        start = 0.0 if rng.random() < 0.5 else float(rng.uniform(0, 150))
        ramp = float(rng.uniform(5, 25))
        length = float(rng.uniform(25, 70))
        amp = float(rng.uniform(2.0, 3.8))
        up = np.clip((t - start) / ramp, 0, 1) * (t >= start)
        down = np.exp(-np.clip(t - start - length, 0, None) / 10.0)
        ep = amp * up * down
        z = z + ep
        act = np.maximum(act, 0.8 * up * down)
    # ---- outcomes, from intent and fit only. Two routes, as in B2B SaaS: self-serve
    # (a daily hazard) and sales-led (a demo request opens a deal that is won with a
    # probability set by intent and fit at that moment, closing one to four weeks later).
    hazard = _sigmoid(-11.5 + 2.3 * z + 0.35 * fit) * (0.0 if bot else 1.0)
    conv_day = horizon
    hits = np.flatnonzero(rng.random(horizon) < hazard)
    if hits.size:
        conv_day = int(hits[0])
    demos = rng.poisson(0.003 * np.exp(1.5 * z) * (act > 0.05)) * (0 if bot else 1)
    first_demo = np.flatnonzero(demos)
    demo_day = int(first_demo[0]) if first_demo.size else -1
    deal = False  # a deal that will be won: the buying team shows up in the product
    if 0 <= demo_day < conv_day:
        win = float(_sigmoid(-4.5 + 1.7 * z[demo_day] + 0.8 * fit))
        if rng.random() < win:
            deal = True  # procurement takes two to five weeks
            conv_day = min(conv_day, demo_day + 7 + int(rng.gamma(3.0, 4.0)))
    dq_day = horizon
    if fit < 0.0:
        hits = np.flatnonzero(rng.random(horizon) < 0.004)
        if hits.size and hits[0] < conv_day:
            dq_day = int(hits[0])
    end = min(conv_day, dq_day)
    z, act = z[:end + 1], act[:end + 1]
    n = len(z)
    if n == 0:
        return False

    # ---- anonymous pre-identification visits, then identify
    anon = f"anon-{seed}-{i:07d}"
    pre = int(rng.poisson(1.2)) if rng.random() < 0.45 else 0
    for _ in range(pre):
        d = c - float(rng.uniform(0.1, 14))
        if d > 0:
            _session(w, rng, d, None, anon, float(z[0]), bot, lead)
    profile: dict[str, Any] = {"company_name": f"Company {i}", "employee_count": emp,
                               "industry": industry, "country": _choice(rng, COUNTRIES),
                               "job_title": title,
                               "company_domain": f"company{i}.example.com"}
    if round_ is not None:
        profile["funding_round"] = round_
        fdate = (datetime.fromtimestamp(w.t0, UTC) + timedelta(days=c - fund_age)).date()
        profile["funding_date"] = fdate.isoformat()
    if rng.random() < 0.7:
        profile["revenue_band"] = ("<1M", "1M-10M", "10M-50M", "50M-250M", "250M-1B", ">1B")[
            min(5, int(math.log10(emp + 1) * 1.4))]
    plg = rng.random() < 0.5
    if pre:
        w.add("identify", "website", c, lead, anon, {"email": f"p{i}@company{i}.example.com"},
              lead)
    if plg:
        w.add("signup", "product", c, lead, None,
              {"plan": "free", "method": _choice(rng, ("email", "google", "github"))}, lead)
    else:
        w.add("form_submit", "website", c, lead, anon if pre else None,
              {"form_id": "contact", "form_name": "Contact us"}, lead)
    w.add("profile_update", "profile", c + float(rng.uniform(0.001, 0.2)), lead, None,
          profile, lead)
    signed_up = plg
    web_anon_only = rng.random() < 0.1 and pre > 0

    # ---- daily emissions
    ez = np.exp(z)
    sessions = rng.poisson(0.09 * act * ez ** 0.7 * (6.0 if bot else 1.0))
    downloads = rng.poisson(0.025 * act * (1.0 + 0.1 * (z > 1)))
    searches = rng.poisson(0.03 * act * ez ** 0.3)
    unsubscribed = bounced = False
    for d in range(n):
        day = c + d
        zd = float(z[d])
        for _ in range(int(sessions[d])):
            a = anon if web_anon_only else None
            _session(w, rng, day + float(rng.uniform(0, 1)), None if a else lead, a, zd, bot,
                     lead)
        for _ in range(int(downloads[d])):
            ct = _choice(rng, CONTENT)
            w.add("content_download", "website", day + float(rng.uniform(0, 1)), lead, None,
                  {"content_type": ct, "title": f"The {ct} guide"}, lead)
        for _ in range(int(searches[d])):
            w.add("site_search", "website", day + float(rng.uniform(0, 1)), lead, None,
                  {"query": _choice(rng, ("pricing", "sso", "api", "integrations", "docs"))},
                  lead)
        if d == demo_day:
            w.add("demo_request", "website", day + float(rng.uniform(0, 1)), lead, None,
                  {"form_id": "demo"}, lead)
        # weekly campaign on a fixed weekday
        if (int(day) % 14 == 2 and act[d] > 0.2 and not unsubscribed and not bounced):
            _email(w, rng, day, lead, zd, act[d])
            if rng.random() < 0.006:
                unsubscribed = True
                w.add("email_unsubscribe", "email", day + 0.6, lead, None, {}, lead)
            if rng.random() < 0.01:
                bounced = True
                w.add("email_bounce", "email", day + 0.01, lead, None,
                      {"campaign_id": f"cmp-{int(day) // 7}", "message_id": f"m-{i}-{d}",
                       "bounce_type": "hard"}, lead)
        if not signed_up and zd > 1.2 and rng.random() < 0.08:
            signed_up = True
            w.add("signup", "product", day + float(rng.uniform(0, 1)), lead, None,
                  {"method": "email"}, lead)
        if signed_up:
            _product(w, rng, day, lead, zd, float(act[d]), d == 0 and plg)
        if deal and d > demo_day and rng.random() < 0.5:
            if not signed_up:
                signed_up = True
                w.add("signup", "product", day + 0.1, lead, None, {"method": "sso"}, lead)
            kind = _choice(rng, ("teammate_invited", "integration_connected", "login"))
            props: dict[str, Any] = {"invitee_count": 1 + int(rng.poisson(2.0))}
            if kind == "integration_connected":
                props = {"integration": _choice(rng, INTEGRATIONS)}
            elif kind == "login":
                props = {}
            w.add(kind, "product", day + float(rng.uniform(0.2, 1)), lead, None, props, lead)
    # ---- outcome
    converted = conv_day < horizon and conv_day <= dq_day
    if converted:
        value = math.exp(8.0 + 0.35 * math.log(emp) + 0.15 * fit + rng.normal(0, 0.5))
        cur = "USD" if rng.random() < 0.9 else "EUR"
        w.add("converted", "outcome", c + conv_day + float(rng.uniform(0, 1)), lead, None,
              {"deal_value": round(value, 2), "currency": cur}, lead)
    elif dq_day < horizon:
        w.add("disqualified", "outcome", c + dq_day + 0.5, lead, None,
              {"reason": _choice(rng, ("no_budget", "student", "competitor", "spam"))}, lead)
    elif demo_day >= 0 and demo_day + 45 < n and rng.random() < 0.5:
        w.add("lost", "outcome", c + demo_day + 45.0, lead, None, {"reason": "no_decision"},
              lead)
    return converted


def _session(w: Writer, rng: np.random.Generator, day: float, lead: str | None,
             anon: str | None, z: float, bot: bool, prefix: str) -> None:
    sid = f"s-{prefix}-{w.seq}"
    w.add("session_start", "website", day, lead, anon,
          {"session_id": sid, "device": _choice(rng, ("desktop", "mobile", "tablet"),
                                                (0.7, 0.25, 0.05))}, prefix)
    pages = 1 + int(rng.poisson(3.0 if bot else 1.2))
    p_pricing = float(_sigmoid(-2.6 + 0.9 * z))
    p_comp = float(_sigmoid(-4.0 + 0.8 * z))
    p_case = float(_sigmoid(-3.0 + 0.5 * z))
    tt = day
    for _ in range(pages):
        tt += float(rng.exponential(60.0)) / DAY
        r = rng.random()
        if bot:
            cat = _choice(rng, ("pricing",) + PAGES)
        elif r < p_pricing:
            cat = "pricing"
        elif r < p_pricing + p_comp:
            cat = "competitor_comparison"
        elif r < p_pricing + p_comp + p_case:
            cat = "case_study"
        else:
            cat = _choice(rng, PAGES, PAGE_P)
        path = f"/{cat.replace('_', '-')}"
        w.add("page_view", "website", tt, lead, anon,
              {"url": f"https://www.example.com{path}", "path": path, "page_category": cat},
              prefix)
    dur = (tt - day) * DAY + float(rng.exponential(30.0))
    w.add("session_end", "website", tt + 30.0 / DAY, lead, anon,
          {"session_id": sid, "duration_seconds": round(dur, 1), "page_count": pages}, prefix)


def _email(w: Writer, rng: np.random.Generator, day: float, lead: str, z: float, act: float
           ) -> None:
    cmp_ = f"cmp-{int(day) // 7}"
    msg = f"m-{lead}-{int(day)}"
    base = {"campaign_id": cmp_, "message_id": msg}
    w.add("email_delivered", "email", day + 0.4, lead, None, base, lead)
    if rng.random() < float(_sigmoid(-1.2 + 0.35 * z + 1.0 * act)):
        w.add("email_open", "email", day + 0.4 + float(rng.exponential(0.3)), lead, None, base,
              lead)
        if rng.random() < float(_sigmoid(-2.0 + 0.45 * z)):
            topic = _choice(rng, EMAIL_TOPICS)
            w.add("email_click", "email", day + 0.45 + float(rng.exponential(0.3)), lead, None,
                  {**base, "url": f"https://www.example.com/{topic}", "topic": topic}, lead)
        if rng.random() < float(_sigmoid(-5.0 + 0.7 * z)):
            w.add("email_reply", "email", day + 0.5 + float(rng.exponential(0.5)), lead, None,
                  base, lead)


def _product(w: Writer, rng: np.random.Generator, day: float, lead: str, z: float, act: float,
             first: bool) -> None:
    if first:
        w.add("trial_started", "product", day + 0.01, lead, None,
              {"plan": "pro", "trial_days": 14}, lead)
    ez = math.exp(z)
    for _ in range(int(rng.poisson(0.15 * act * ez ** 0.5))):
        tt = day + float(rng.uniform(0, 1))
        w.add("login", "product", tt, lead, None, {}, lead)
        for _ in range(int(rng.poisson(0.6 + 0.2 * z if z > 0 else 0.6))):
            w.add("feature_used", "product", tt + 0.01, lead, None,
                  {"feature": _choice(rng, FEATURES)}, lead)
    if rng.random() < 0.01 * ez ** 0.8 * act:
        w.add("integration_connected", "product", day + float(rng.uniform(0, 1)), lead, None,
              {"integration": _choice(rng, INTEGRATIONS)}, lead)
    if rng.random() < 0.006 * ez ** 0.9:
        w.add("teammate_invited", "product", day + float(rng.uniform(0, 1)), lead, None,
              {"invitee_count": 1 + int(rng.poisson(1.0))}, lead)
    if rng.random() < 0.004 * act:
        w.add("support_ticket", "product", day + float(rng.uniform(0, 1)), lead, None,
              {"topic": "setup", "severity": _choice(rng, ("low", "normal", "high"))}, lead)


def run(leads: int, days: int, seed: int, out: str, progress: bool = True,
        start: date = date(2025, 1, 1)) -> dict[str, int]:
    """Write the simulated history to `out` (JSON lines); returns counts."""
    if leads < 1 or days < 1:
        raise UsageError("--leads and --days must be positive")
    t0 = datetime(start.year, start.month, start.day, tzinfo=UTC).timestamp()
    rng = np.random.default_rng(seed)
    conv = 0
    step = max(1, leads // 100)
    bar = Progress()
    try:
        fh = open(out, "wb")  # noqa: SIM115 - closed in finally
    except OSError as e:
        raise UsageError(f"cannot write {out}: {e.strerror}") from e
    try:
        w = Writer(fh, rng, t0)
        for i in range(leads):
            conv += simulate_lead(w, rng, i, days, seed)
            w.flush()
            if progress and (i + 1) % step == 0:
                bar(_bar(i + 1, leads, w.n_lines))
    finally:
        fh.close()
    if progress:
        bar.done()
    return {"leads": leads, "converted": conv, "events": w.n_events, "lines": w.n_lines,
            "malformed": w.n_bad}


def _bar(done: int, total: int, lines: int) -> str:
    width = 30
    k = done * width // total
    return (f"simulate [{'#' * k}{'.' * (width - k)}] {done * 100 // total:3d}% "
            f"{done}/{total} leads, {lines} lines")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--generator", choices=("intent", "journey"), default="intent",
                   help="intent (default): this module's hidden intent process; journey: the "
                   "buying-stage generator (models.journey), which also writes the true "
                   "probabilities to OUT.truth.jsonl (or --truth)")
    p.add_argument("--leads", type=int, required=True, help="number of leads")
    p.add_argument("--days", type=int, required=True, help="length of history in days")
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.add_argument("--out", required=True, help="output JSON-lines file")
    p.add_argument("--start", type=date.fromisoformat, default=date(2025, 1, 1),
                   help="first day of history (YYYY-MM-DD, UTC)")
    p.add_argument("--truth", default=None,
                   help="journey only: where to write the true probabilities")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def run_from_args(args: argparse.Namespace) -> int:
    if args.generator == "journey":
        from models import journey

        stats: dict[str, Any] = journey.run(args.leads, args.days, args.seed, args.out,
                                            args.truth, progress=not args.no_progress,
                                            start=args.start)
    elif args.truth:
        raise UsageError("--truth needs --generator journey (this generator has no truth)")
    else:
        stats = run(args.leads, args.days, args.seed, args.out, progress=not args.no_progress,
                    start=args.start)
    print(orjson.dumps(stats).decode())
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return module_main("simulate", __doc__, add_arguments, run_from_args, argv)


if __name__ == "__main__":
    sys.exit(main())
