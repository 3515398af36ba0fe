"""Reasons a rep can read: the model's features grouped by what they say about a lead, one
sentence per group, written from the lead's own facts.

WHY groups: many features say the same thing. Pricing views in 1, 7 and 30 days and in all,
two decayed sums, the days since the last one and the week's pace are all "this lead looks
at pricing"; TreeSHAP spreads that one idea's credit over all of them, and the top three
features were often three views of one idea, in model terms ("Recent intent engagement of
5.7 (half-life 7 days)"). A reason is a group of features; its points are the sum of its
features' TreeSHAP points (additive, so the sum is exact and the reasons' points still add up
to the score minus the base score), and the top reasons are chosen by those sums.

WHY sentences from facts, not from one feature's value: the sentence says which actions, how
many and how recent ("Requested a demo, viewed pricing 4 times and a competitor comparison
once in the last 30 days, the latest today"), read from the lead's feature row (the windowed
counts, the days since, the profile codes) and, for "the latest", from the days since each
channel's latest action (:func:`latest_days`, from the state's daily buckets: bounded, 35
days). Never a model quantity (a decayed sum, a half-life, a ratio of paces).

Every feature belongs to exactly one reason (:func:`models.features.reason_of`, beside the
feature list; a new feature without one is an error at start-up, and
tests/unit/test_models_reasons.py renders every reason's sentence at typical, zero and
missing values). ``python -m models.reasons`` prints that table.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from itertools import chain
from typing import Any

import numpy as np

from models.features import (
    DEPARTMENTS,
    FUNDING_ROUNDS,
    REVENUE_BANDS,
    SENIORITY,
    FeatureConfig,
    reason_of,
)
from models.state import CH, CHANNELS, DAY, DEFAULT_STATE_CONFIG, LeadState, StateConfig

_native: Any
try:  # models/_columns.c, optional (setup.py)
    from models import _columns as _native
except ImportError:
    _native = None

# ---------------------------------------------------------------- the lead's facts


def latest_days(states: Sequence[LeadState], ats: Sequence[float]) -> np.ndarray:
    """(leads, channels): whole days from the day of each lead's ``at`` back to the latest
    day it had that channel (0 = that day); NaN when none is in its daily buckets (35 days).
    In C where it was built (models/_columns.c: each lead's buckets read in place; numpy's
    dozen calls a batch were ~4% of the scorer at small batches), else numpy."""
    n, k = len(states), len(CHANNELS)
    if _native is not None and n:
        got = np.empty((n, k), dtype=np.float64)
        _native.latest(states, np.ascontiguousarray(ats, dtype=np.float64), got, k)
        return got
    out = np.full((n, k), np.nan)
    sizes = [len(s.buckets) for s in states]
    total = sum(sizes)
    if total == 0:
        return out
    days = np.fromiter(chain.from_iterable(s.buckets for s in states), np.int64, total)
    counts = np.fromiter(chain.from_iterable(chain.from_iterable(
        s.buckets.values() for s in states)), np.int64, total * k).reshape(total, k)
    owner = np.repeat(np.arange(n), sizes)
    ages = (np.asarray(ats, dtype=np.float64) // DAY).astype(np.int64)[owner] - days
    big = np.iinfo(np.int64).max
    masked = np.where(counts > 0, np.maximum(ages, 0)[:, None], big)
    have = [i for i, size in enumerate(sizes) if size]
    starts = np.cumsum([0] + sizes)[have]
    least = np.minimum.reduceat(masked, starts, axis=0)
    out[have] = np.where(least == big, np.nan, least)
    return out


class Facts:
    """One lead's feature row by name, and the days since each channel's latest action."""

    __slots__ = ("row", "latest", "ix", "window", "config", "_count", "_total")

    def __init__(self, rs: Reasons, row: Sequence[float],
                 latest: Sequence[float] | None) -> None:
        self.config, self.ix, self.window = rs.config, rs.ix, rs.window
        self._count, self._total = rs.count_ix, rs.total_ix
        self.row, self.latest = row, latest

    def __getitem__(self, name: str) -> float:
        return float(self.row[self.ix[name]])

    def count(self, channel: str) -> int:
        """How many in the widest window (NaN counts as none)."""
        return _int(self.row[self._count[channel]])

    def total(self, channel: str) -> int:
        return _int(self.row[self._total[channel]])

    def ago(self, *channels: str) -> float:
        """Days since the latest of these channels' actions (NaN: unknown or none)."""
        if self.latest is None:
            return math.nan
        vals = [float(self.latest[CH[c]]) for c in channels]
        vals = [v for v in vals if v == v]
        return min(vals) if vals else math.nan

    @property
    def span(self) -> str:
        return "in the last day" if self.window == 1 else f"in the last {self.window} days"

    def recent(self, *channels: str) -> str:
        """' in the last 30 days, the latest today' (without 'the latest' when unknown)."""
        d = self.ago(*channels)
        return f" {self.span}" + ("" if d != d else f", the latest {when(d)}")


def _int(v: float) -> int:
    return 0 if v != v else int(v + 0.5)  # counts are whole, >= 0: no banker's rounding


def when(days: float) -> str:
    d = int(days)
    return "today" if d <= 0 else "yesterday" if d == 1 else f"{d} days ago"


def when_long(days: float) -> str:
    """Whole days up to 8 weeks, then months, then years."""
    if days < 60:
        return when(days)
    if days < 730:
        return f"{int(days // 30.44)} months ago"
    return f"{int(days // 365.25)} years ago"


def times(n: int) -> str:
    return "once" if n == 1 else "twice" if n == 2 else f"{n} times"


def plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n:,} {one if n == 1 else many or one + 's'}"


def join(parts: Sequence[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def cap(s: str) -> str:
    return s[:1].upper() + s[1:]


# ---------------------------------------------------------------- one sentence per reason


def intent(f: Facts) -> str:
    p, c, d = f.count("pricing_view"), f.count("competitor_view"), f.count("demo_request")
    chans = ("pricing_view", "competitor_view", "demo_request")
    parts = []
    if d:
        parts.append("requested a demo" + ("" if d == 1 else " " + times(d)))
    views = [s for n, s in ((p, f"pricing {times(p)}"),
                            (c, f"a competitor comparison {times(c)}")) if n]
    if views:
        parts.append("viewed " + join(views))
    if parts:
        return cap(", ".join(parts)) + f.recent(*chans)
    if any(f.total(ch) for ch in chans):
        last = [v for v in (f["days_since_last_pricing"], f["days_since_last_demo_request"],
                            f.ago("competitor_view")) if v == v]
        tail = f"; the last {when_long(min(last))}" if last else ""
        return f"No pricing, competitor or demo page visits {f.span}{tail}"
    return "Never viewed pricing or a competitor comparison, no demo request"


def website(f: Facts) -> str:
    pages, visits = f.count("page_view"), f.count("session")
    searches, forms = f.count("site_search"), f.count("form_submit")
    detail = [s for n, s in ((pages, plural(pages, "page")),
                             (searches, plural(searches, "search", "searches")),
                             (forms, plural(forms, "form") + " sent")) if n]
    chans = ("page_view", "session", "site_search", "form_submit")
    if visits:
        return (f"Visited the website {times(visits)}"
                + (f" ({', '.join(detail)})" if detail else "") + f.recent(*chans))
    if detail:
        return cap(join(["viewed " + detail[0]] + detail[1:])) + f.recent(*chans)
    if any(f.total(ch) for ch in chans):
        d = f.ago(*chans)
        return f"No website visits {f.span}" + ("" if d != d else f"; the last {when(d)}")
    return "Has not visited the website"


def content(f: Facts) -> str:
    cases, docs = f.count("case_study"), f.count("docs_view")
    downloads, papers = f.count("content_download"), f.count("whitepaper_download")
    parts = []
    if cases:
        parts.append(f"read case studies {times(cases)}")
    if docs:
        parts.append(f"read the docs {times(docs)}")
    if downloads:
        if papers == downloads:
            parts.append("downloaded " + ("a whitepaper" if papers == 1
                                          else plural(papers, "whitepaper")))
        else:
            parts.append("downloaded " + plural(downloads, "piece", "pieces") + " of content"
                         + (f" ({plural(papers, 'whitepaper')})" if papers else ""))
    chans = ("case_study", "docs_view", "content_download", "whitepaper_download")
    if parts:
        return cap(join(parts)) + f.recent(*chans)
    if any(f.total(ch) for ch in chans):
        return f"No case studies, docs or downloads {f.span}"
    return "Has read no case studies or docs, downloaded nothing"


def email(f: Facts) -> str:
    opens, clicks, replies = f.count("email_open"), f.count("email_click"), f.count("email_reply")
    delivered = _int(f["emails_delivered"])
    parts = []
    if replies:
        parts.append("replied to " + plural(replies, "email"))
    if clicks:
        parts.append("clicked " + plural(clicks, "email link"))
    if opens:
        parts.append(f"opened emails {times(opens)}")
    if parts:
        text = cap(join(parts)) + f.recent("email_open", "email_click", "email_reply")
    elif f.total("email_open") or f.total("email_click"):
        text = f"No email opens or clicks {f.span}" + (
            f" ({plural(delivered, 'email')} delivered in all)" if delivered else "")
    elif delivered:
        text = f"Opened none of the {plural(delivered, 'email')} delivered"
    else:
        text = "Has received no emails from us"
    if _int(f["email_unsubscribed"]):
        return "Unsubscribed from our emails; " + text[:1].lower() + text[1:]
    if _int(f["email_hard_bounces"]):
        return "Emails to this address bounce; " + text[:1].lower() + text[1:]
    return text


def product(f: Facts) -> str:
    logins, uses = f.count("login"), f.count("feature_used")
    distinct = _int(f["distinct_features"])
    parts = []
    if logins:
        parts.append(f"logged in {times(logins)}")
    if uses:
        parts.append(f"used product features {times(uses)}"
                     + (f" ({plural(distinct, 'feature')} in all)" if distinct > 1 else ""))
    team, apps = _int(f["teammates_invited"]), _int(f["distinct_integrations"])
    extra = [s for n, s in ((team, "invited " + plural(team, "teammate")),
                            (apps, "connected " + plural(apps, "integration"))) if n]
    tail = ("; " + join(extra)) if extra else ""
    if parts:
        return cap(join(parts)) + f.recent("login", "feature_used", "product_other") + tail
    if f.count("product_other"):
        return ("Used the product (invites, integrations or support)"
                + f.recent("product_other") + tail)
    last_login = f["days_since_last_login"]
    if last_login == last_login and last_login >= f.window:
        return f"Has not logged in for {int(last_login)} days" + tail
    if extra:
        return cap(join(extra))
    return "Has not used the product"


def trial(f: Facts) -> str:
    started, signed = f["days_since_trial_started"], f["days_since_signup"]
    if started == started:
        return f"Started a trial {when_long(started)}"
    if signed == signed:
        return f"Signed up {when_long(signed)}, no trial yet"
    return "Has not signed up for the product"


def activity(f: Facts) -> str:
    last = f["days_since_last_activity"]
    if last != last:
        return "No activity yet"
    if last >= 7:
        return f"No activity for {int(last)} days"
    now = _int(f["activity_this_week"])
    prior = f["activity_prior_3_weeks"]
    pace = 0.0 if prior != prior else prior / 3.0
    head = (plural(now, "action") if now else "No actions") + " in the last 7 days"
    if pace < 0.5:
        return head + (", none in the 3 weeks before" if now else "")
    p = max(1, round(pace))
    if now >= 1.5 * pace + 1:
        return f"{head}, up from about {p} a week before"
    if now <= pace / 1.5 - 1:
        return f"{head}, down from about {p} a week before"
    return f"{head}, about as many as in each of the 3 weeks before"


def lead_age(f: Facts) -> str:
    first = f["days_since_first_touch"]
    return "No first contact on record" if first != first else f"First seen {when_long(first)}"


def lost_deal(f: Facts) -> str:
    lost = f["days_since_lost"]
    return "No lost deal on record" if lost != lost else f"Lost a deal {when_long(lost)}"


def _label(code: float, labels: Sequence[str]) -> str | None:
    """The label of a category code (None for NaN or out of range)."""
    if code != code:
        return None
    i = int(code)
    return labels[i] if 0 <= i < len(labels) else None


def company_size(f: Facts) -> str:
    emp = f["employee_count"]
    band = _label(f["revenue_band"], ("",) + REVENUE_BANDS)
    parts = []
    if emp == emp and emp >= 1:
        parts.append(plural(int(emp), "employee"))
    if band:
        parts.append(f"revenue {band}")
    return "A company of " + ", ".join(parts) if parts else "Company size unknown"


SENIORITY_WORDS = {"ic": "An individual contributor", "manager": "A manager",
                   "director": "A director", "vp": "A VP", "c_level": "A C-level executive"}
DEPARTMENT_WORDS = {"it": "IT", "hr": "HR"}


def role(f: Facts) -> str:
    sen = _label(f["seniority"], ("",) + SENIORITY)
    dept = _label(f["department"], DEPARTMENTS)
    where = None if dept in (None, "other") else DEPARTMENT_WORDS.get(dept, dept)
    if sen:
        return SENIORITY_WORDS[sen] + (f" in {where}" if where else "")
    if where:
        return f"Works in {where}"
    return "Role unknown"


def industry(f: Facts) -> str:
    vocab = f.config.industries
    code = f["industry"]
    if code != code:
        return "Industry unknown"
    label = _label(code, vocab)
    if label is None:
        return "In an industry with few past leads"
    return "A company in " + label.replace("_", " ")


def country(f: Facts) -> str:
    code = f["country"]
    if code != code:
        return "Country unknown"
    label = _label(code, f.config.countries)
    if label is None:
        return "Based in a country with few past leads"
    return "Based in " + COUNTRY_NAMES.get(label, label)


ROUND_WORDS = {"pre_seed": "a pre-seed round", "seed": "a seed round",
               "series_a": "a Series A", "series_b": "a Series B", "series_c": "a Series C",
               "series_d_plus": "a Series D or later"}


def funding(f: Facts) -> str:
    rnd = _label(f["funding_round"], ("",) + FUNDING_ROUNDS)
    days = f["days_since_funding"]
    ago = "" if days != days else " " + when_long(days)
    if rnd == "ipo":
        return "Went public" + ago
    if rnd:
        return f"Raised {ROUND_WORDS[rnd]}{ago}"
    if ago or f["funding_round"] == f["funding_round"]:
        return "Raised funding" + ago
    return "No funding on record"


COUNTRY_NAMES = {
    "US": "the United States", "GB": "the United Kingdom", "DE": "Germany", "FR": "France",
    "CA": "Canada", "AU": "Australia", "NL": "the Netherlands", "IN": "India", "BR": "Brazil",
    "SE": "Sweden", "ES": "Spain", "IT": "Italy", "IE": "Ireland", "CH": "Switzerland",
    "AT": "Austria", "BE": "Belgium", "DK": "Denmark", "NO": "Norway", "FI": "Finland",
    "PL": "Poland", "PT": "Portugal", "CZ": "Czechia", "IL": "Israel", "JP": "Japan",
    "KR": "South Korea", "CN": "China", "SG": "Singapore", "HK": "Hong Kong",
    "NZ": "New Zealand", "MX": "Mexico", "AR": "Argentina", "CL": "Chile", "CO": "Colombia",
    "ZA": "South Africa", "AE": "the United Arab Emirates", "SA": "Saudi Arabia",
    "TR": "Turkey", "RO": "Romania", "UA": "Ukraine", "EE": "Estonia", "LT": "Lithuania",
    "TW": "Taiwan", "ID": "Indonesia", "PH": "the Philippines", "MY": "Malaysia",
    "TH": "Thailand", "VN": "Vietnam", "NG": "Nigeria", "KE": "Kenya", "EG": "Egypt",
}


@dataclass(frozen=True)
class Reason:
    name: str  # the Factor.feature value on the wire
    title: str  # what it is about, for documentation
    sentence: Callable[[Facts], str]


REASONS: tuple[Reason, ...] = (
    Reason("intent", "pricing, competitor comparison and demo requests", intent),
    Reason("activity", "how active the lead is this week, against the weeks before", activity),
    Reason("product", "product use: logins, features, teammates, integrations", product),
    Reason("trial", "signup and trial", trial),
    Reason("website", "website visits, pages, searches, forms", website),
    Reason("content", "case studies, docs and downloads", content),
    Reason("email", "email opens, clicks, replies, unsubscribes", email),
    Reason("lead_age", "how long we have known the lead", lead_age),
    Reason("lost_deal", "a lost deal", lost_deal),
    Reason("company_size", "employees and revenue", company_size),
    Reason("role", "the person's seniority and department", role),
    Reason("industry", "the company's industry", industry),
    Reason("country", "the company's country", country),
    Reason("funding", "the latest funding round", funding),
)


# ---------------------------------------------------------------- features -> reasons


class Reasons:
    """The grouping for one feature configuration (which features each reason sums) and
    the sentences."""

    def __init__(self, config: FeatureConfig) -> None:
        self.config = config
        names = config.names
        self.ix = {n: i for i, n in enumerate(names)}
        self.names = [r.name for r in REASONS]
        pos = {r.name: i for i, r in enumerate(REASONS)}
        members: list[list[int]] = [[] for _ in REASONS]
        for j, n in enumerate(names):
            members[pos[reason_of(n)]].append(j)
        self.members = [np.array(m, dtype=np.intp) for m in members]
        # Columns in reason order, and where each reason's run starts (reasons with no
        # feature in this configuration are summed as 0 separately).
        self._order = np.array([j for m in members for j in m], dtype=np.intp)
        self._starts = np.cumsum([0] + [len(m) for m in members])[:-1]
        self._some = np.array([bool(m) for m in members])
        self.window = max(config.windows_days)
        self.count_ix = {c: self.ix[f"{c}_{self.window}d"] for c in CHANNELS}
        self.total_ix = {c: self.ix[f"{c}_total"] for c in CHANNELS}

    def points(self, feature_points: np.ndarray) -> np.ndarray:
        """(rows, reasons): each reason's points, the sum of its features' points. Summed
        along each row in order (not a matrix product, whose blocking can depend on the
        number of rows), so a row's figures do not depend on the batch it is in."""
        p = np.asarray(feature_points, dtype=np.float64)
        out = np.zeros((len(p), len(REASONS)))
        if len(p) and len(self._order):
            sums = np.add.reduceat(p[:, self._order], self._starts[self._some], axis=1)
            out[:, self._some] = sums
        return out

    def sentence(self, reason: int, row: Sequence[float],
                 latest: Sequence[float] | None = None) -> str:
        return REASONS[reason].sentence(Facts(self, row, latest))

    def sentences(self, reasons: Sequence[int], row: Sequence[float],
                  latest: Sequence[float] | None = None) -> list[str]:
        f = Facts(self, row, latest)
        return [REASONS[r].sentence(f) for r in reasons]


@cache
def reasons_for(config: FeatureConfig) -> Reasons:
    return Reasons(config)


# ---------------------------------------------------------------- the documentation table


def example_lead(config: StateConfig = DEFAULT_STATE_CONFIG) -> tuple[LeadState, float]:
    """A typical engaged lead, three weeks in (the README's table and the tests use it)."""
    from models.state import Obs, fold_into

    at = 1_767_225_600.0 + 15 * 3600  # 2026-01-01 15:00 UTC
    s = LeadState.new(config, key="lead-example")
    evs: list[Obs] = []

    def add(days_ago: float, type_: str, sub: str | None = None, num: float = 0.0,
            profile: dict[str, object] | None = None) -> None:
        evs.append(Obs(f"e{len(evs)}", at - days_ago * DAY, type_, sub, num, profile))

    add(21, "profile_update", profile={"employee_count": 1200, "revenue_band": "50M-250M",
                                       "industry": "software", "country": "FR",
                                       "seniority": "vp", "department": "marketing",
                                       "funding_round": "series_b", "funding_date": 739_100})
    for d in (21, 14, 9, 5, 2, 0.2):
        add(d, "session_start")
        add(d, "page_view", "blog")
        add(d, "session_end", num=300)
    for d in (9, 2, 1, 0.3):
        add(d, "page_view", "pricing")
    add(2, "page_view", "competitor_comparison")
    add(0.1, "demo_request")
    add(14, "page_view", "case_study")
    add(5, "content_download", "whitepaper")
    add(4, "page_view", "docs")
    for d in (20, 13, 6, 3):
        add(d, "email_delivered")
    for d in (13, 6, 3):
        add(d, "email_open")
    add(3, "email_click", "product")
    add(8, "signup")
    add(8, "trial_started")
    for d in (7, 4, 1):
        add(d, "login")
        add(d, "feature_used", f"f{d}")
    add(4, "teammate_invited", num=2)
    for o in sorted(evs, key=lambda o: o.ts):
        fold_into(s, o, config)
    return s, at


def table(config: FeatureConfig | None = None) -> str:
    """Markdown: every reason's sentence for the example lead, with every feature zero, and
    with every feature missing (a lead we know nothing about)."""
    from models.features import features

    cfg = config or FeatureConfig(industries=("software", "retail"),
                                  countries=("US", "GB", "DE", "FR"))
    rs = reasons_for(cfg)
    state, at = example_lead(cfg.state_config)
    typical = features(state, at, cfg).tolist()
    latest = latest_days([state], [at])[0].tolist()
    n = len(cfg.names)
    lines = ["| reason | example lead | every feature 0 | every feature missing |",
             "| --- | --- | --- | --- |"]
    for i, r in enumerate(REASONS):
        cells = [rs.sentence(i, typical, latest), rs.sentence(i, [0.0] * n),
                 rs.sentence(i, [math.nan] * n)]
        lines.append(f"| `{r.name}`: {r.title} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(table())
    sys.exit(0)

