"""Feature vector of a lead state at a point in time, plus the manifest that names it.

WHY pure and `at`-parameterised: the same function serves training snapshots (at = snapshot
time, state = events strictly before it) and live scoring (at = now). Features only read the
state, so they cannot see events the state has not folded: no look-ahead by construction.
Missing facts are NaN (LightGBM routes them natively) rather than sentinels that would be
tuned to one data source.

Windows are calendar days (UTC) counted back from `at`'s day, inclusive: "7 days" = the
day of `at` and the six days before it (daily buckets cannot do sliding 24h windows).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from functools import cache
from itertools import chain
from typing import Any

import numpy as np

from models.state import (
    CH,
    CHANNELS,
    DAY,
    DECAY_GROUPS,
    DEFAULT_STATE_CONFIG,
    MISC,
    TS,
    LeadState,
    StateConfig,
)

M = {name: i for i, name in enumerate(MISC)}
T = {name: i for i, name in enumerate(TS)}

SENIORITY = ("ic", "manager", "director", "vp", "c_level")  # ordinal 1..5; unknown -> NaN
DEPARTMENTS = ("engineering", "it", "marketing", "sales", "finance", "operations", "product",
               "hr", "other")
REVENUE_BANDS = ("<1M", "1M-10M", "10M-50M", "50M-250M", "250M-1B", ">1B")
FUNDING_ROUNDS = ("pre_seed", "seed", "series_a", "series_b", "series_c", "series_d_plus", "ipo")

# Channels whose sum is "engaged activity" for velocity.
ENGAGED = tuple(CH[c] for c in ("page_view", "content_download", "form_submit", "demo_request",
                                "site_search", "email_click", "email_reply", "login",
                                "feature_used", "product_other"))
INTENT = tuple(CH[c] for c in ("pricing_view", "competitor_view", "demo_request"))

CHANNEL_PHRASE = {
    "page_view": "Viewed {value:.0f} web pages",
    "pricing_view": "Visited the pricing page {value:.0f} times",
    "case_study": "Engaged with case studies {value:.0f} times",
    "competitor_view": "Viewed competitor comparisons {value:.0f} times",
    "docs_view": "Read the docs {value:.0f} times",
    "content_download": "Downloaded {value:.0f} pieces of content",
    "whitepaper_download": "Downloaded {value:.0f} whitepapers",
    "form_submit": "Submitted {value:.0f} forms",
    "demo_request": "Requested a demo {value:.0f} times",
    "session": "Had {value:.0f} website sessions",
    "site_search": "Searched the site {value:.0f} times",
    "email_open": "Opened {value:.0f} emails",
    "email_click": "Clicked {value:.0f} email links",
    "email_reply": "Replied to {value:.0f} emails",
    "login": "Logged in {value:.0f} times",
    "feature_used": "Used product features {value:.0f} times",
    "product_other": "Made {value:.0f} integration, invite or support actions",
}


@dataclass(frozen=True)
class FeatureSpec:
    name: str
    template: str  # str.format with `value` (number) and `label` (categorical label)
    missing: str = ""  # sentence when the value is NaN
    categories: tuple[str, ...] = ()  # non-empty: categorical/ordinal code -> label


@dataclass(frozen=True)
class FeatureConfig:
    """Everything `features` depends on besides the state; stored in the model artifact.

    `industries`/`countries` are vocabularies learned from training data (most frequent
    values), so a foreign data source's own labels work; unseen values map to "other".
    """

    windows_days: tuple[int, ...] = (1, 7, 30)
    half_lives_days: tuple[float, ...] = DEFAULT_STATE_CONFIG.half_lives_days
    lateness_seconds: float = DEFAULT_STATE_CONFIG.lateness_seconds
    industries: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    specs: tuple[FeatureSpec, ...] = field(default=(), compare=False, repr=False)

    def __post_init__(self) -> None:
        if any(w < 1 or w > 30 for w in self.windows_days):
            raise ValueError("windows must be between 1 and 30 days (the state keeps 35)")
        object.__setattr__(self, "specs", tuple(_build_specs(self)))

    @property
    def state_config(self) -> StateConfig:
        return StateConfig(self.half_lives_days, self.lateness_seconds)

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.specs]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("specs")
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FeatureConfig:
        return cls(
            windows_days=tuple(int(w) for w in d["windows_days"]),
            half_lives_days=tuple(float(h) for h in d["half_lives_days"]),
            lateness_seconds=float(d["lateness_seconds"]),
            industries=tuple(d.get("industries", ())),
            countries=tuple(d.get("countries", ())),
        )


def _win(w: int) -> str:
    return " in the last day" if w == 1 else f" in {w} days"


def _build_specs(cfg: FeatureConfig) -> list[FeatureSpec]:
    sp: list[FeatureSpec] = []
    for w in cfg.windows_days:
        for c in CHANNELS:
            sp.append(FeatureSpec(f"{c}_{w}d", CHANNEL_PHRASE[c] + _win(w)))
    for c in CHANNELS:
        sp.append(FeatureSpec(f"{c}_total", CHANNEL_PHRASE[c] + " in total"))
    for g, _ in DECAY_GROUPS:
        for h in cfg.half_lives_days:
            sp.append(FeatureSpec(f"decayed_{g}_h{h:g}d",
                                  f"Recent {g} engagement of {{value:.1f}} (half-life {h:g} days)"))
    sp += [
        FeatureSpec("days_since_last_pricing", "Last visited pricing {value:.0f} days ago",
                    "Never visited the pricing page"),
        FeatureSpec("days_since_last_email_click", "Last clicked an email {value:.0f} days ago",
                    "Never clicked an email"),
        FeatureSpec("days_since_last_login", "Last logged in {value:.0f} days ago",
                    "Never logged in"),
        FeatureSpec("days_since_last_demo_request", "Requested a demo {value:.0f} days ago",
                    "Never requested a demo"),
        FeatureSpec("days_since_last_activity", "Last active {value:.0f} days ago"),
        FeatureSpec("days_since_first_touch", "First seen {value:.0f} days ago"),
        FeatureSpec("activity_this_week", "{value:.0f} engaged actions in the last 7 days"),
        FeatureSpec("activity_prior_3_weeks", "{value:.0f} engaged actions in the 3 weeks before"),
        FeatureSpec("velocity", "Activity this week at {value:.1f}x the prior 3 weeks' pace"),
        FeatureSpec("intent_velocity",
                    "Pricing/competitor/demo activity at {value:.1f}x the prior 3 weeks' pace"),
        FeatureSpec("sequence_stage",
                    "Reached step {value:.0f} of 3 on case study -> pricing -> demo request"),
        FeatureSpec("days_first_touch_to_demo",
                    "Requested a demo {value:.0f} days after first touch",
                    "Has not requested a demo"),
        FeatureSpec("days_signup_to_first_integration",
                    "Connected an integration {value:.0f} days after signup",
                    "No integration connected after signup"),
        FeatureSpec("days_signup_to_first_pricing",
                    "First pricing visit {value:.0f} days after signup",
                    "No signup and pricing visit to compare"),
        FeatureSpec("days_since_signup", "Signed up {value:.0f} days ago", "Has not signed up"),
        FeatureSpec("days_since_trial_started", "Started a trial {value:.0f} days ago",
                    "Has not started a trial"),
        FeatureSpec("emails_delivered", "Received {value:.0f} emails"),
        FeatureSpec("email_open_rate", "Opened {value:.0%} of delivered emails",
                    "No emails delivered yet"),
        FeatureSpec("email_click_rate", "Clicked in {value:.0%} of delivered emails",
                    "No emails delivered yet"),
        FeatureSpec("email_click_to_open", "Clicked in {value:.0%} of opened emails",
                    "No emails opened yet"),
        FeatureSpec("email_hard_bounces", "{value:.0f} hard email bounces"),
        FeatureSpec("email_unsubscribed", "Unsubscribed from email {value:.0f} times"),
        FeatureSpec("distinct_features", "Used {value:.0f} distinct product features"),
        FeatureSpec("distinct_integrations", "Connected {value:.0f} distinct integrations"),
        FeatureSpec("teammates_invited", "Invited {value:.0f} teammates"),
        FeatureSpec("support_tickets", "Opened {value:.0f} support tickets"),
        FeatureSpec("avg_session_minutes", "Average website session of {value:.1f} minutes",
                    "No completed website sessions"),
        FeatureSpec("days_since_lost", "A deal was lost {value:.0f} days ago", "No lost deal"),
        FeatureSpec("pricing_share", "Pricing was {value:.0%} of page views",
                    "No page views yet"),
        FeatureSpec("pages_per_session", "Viewed {value:.1f} pages per website session",
                    "No website sessions yet"),
        FeatureSpec("engaged_per_week", "{value:.1f} engaged actions per week since first seen"),
        FeatureSpec("employee_count", "Company has {value:,.0f} employees",
                    "Company size unknown"),
        FeatureSpec("revenue_band", "Company revenue {label}", "Company revenue unknown",
                    ("?",) + REVENUE_BANDS),
        FeatureSpec("seniority", "Seniority: {label}", "Seniority unknown", ("?",) + SENIORITY),
        FeatureSpec("department", "Department: {label}", "Department unknown", DEPARTMENTS),
        FeatureSpec("industry", "Industry: {label}", "Industry unknown",
                    cfg.industries + ("other",)),
        FeatureSpec("country", "Country: {label}", "Country unknown", cfg.countries + ("other",)),
        FeatureSpec("funding_round", "Latest funding round: {label}", "No funding on record",
                    ("?",) + FUNDING_ROUNDS + ("other",)),
        FeatureSpec("days_since_funding", "Raised funding {value:.0f} days ago",
                    "No funding date on record"),
    ]
    return sp


CATEGORICAL = ("department", "industry", "country")  # unordered codes -> LightGBM categorical


def _days(at: float, t: float) -> float:
    return math.nan if t != t else max(0.0, (at - t) / DAY)


def _gap(a: float, b: float) -> float:
    return math.nan if a != a or b != b else (b - a) / DAY


def _rate(n: float, d: float) -> float:
    return n / d if d > 0 else math.nan


def _per_week(n: float, at: float, first: float) -> float:
    """Rate since first touch; the first week counts as a whole week (no 1-day spikes)."""
    if first != first:
        return 0.0
    return float(n) / max(1.0, (at - first) / (7 * DAY))


def _code(v: Any, vocab: Sequence[str], offset: int = 0, other: bool = True) -> float:
    if v is None:
        return math.nan
    try:
        return float(vocab.index(v) + offset)
    except ValueError:
        return float(len(vocab) + offset) if other else math.nan


@cache
def _window_bounds(windows: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Age bounds [lo, hi) per output row: each window, then this week, then the 3 before."""
    lo = np.array([0] * len(windows) + [0, 7], dtype=np.int64)[:, None]
    hi = np.array(list(windows) + [7, 28], dtype=np.int64)[:, None]
    return lo, hi


def features(state: LeadState, at: float, config: FeatureConfig | None = None) -> np.ndarray:
    """Feature vector (float64, manifest order) of `state` as seen at epoch time `at`."""
    cfg = config or DEFAULT_FEATURE_CONFIG
    out: list[float] = []
    day_at = int(at // DAY)
    nk = len(CHANNELS)
    lo, hi = _window_bounds(cfg.windows_days)
    nb = len(state.buckets)
    if nb:
        days = np.fromiter(state.buckets.keys(), dtype=np.int64, count=nb)
        mat = np.fromiter(chain.from_iterable(state.buckets.values()), dtype=np.float64,
                          count=nb * nk).reshape(nb, nk)
        ages = day_at - days
        sums = ((ages >= lo) & (ages < hi)).astype(np.float64) @ mat
        out.extend(sums[:-2].ravel().tolist())
        this_w, prior = sums[-2].tolist(), sums[-1].tolist()
    else:
        out.extend([0.0] * (nk * len(cfg.windows_days)))
        this_w = prior = [0.0] * nk
    out.extend(float(x) for x in state.totals)

    # Decayed sums, brought forward from the state's reference time to `at`.
    nh = len(state.half_lives)
    if state.half_lives != cfg.half_lives_days:
        raise ValueError("state half-lives differ from the feature config's")
    ref = state.decay_ref
    for g in range(len(DECAY_GROUPS)):
        for j, h in enumerate(state.half_lives):
            v = state.decay[g * nh + j]
            if ref == ref and at > ref:
                v *= 2.0 ** (-(at - ref) / DAY / h)
            out.append(v)

    ts, misc = state.ts, state.misc
    eng_now = float(sum(this_w[i] for i in ENGAGED))
    eng_prior = float(sum(prior[i] for i in ENGAGED))
    int_now = float(sum(this_w[i] for i in INTENT))
    int_prior = float(sum(prior[i] for i in INTENT))
    first_case, last_pricing = ts[T["first_case"]], ts[T["last_pricing"]]
    first_pricing, last_demo = ts[T["first_pricing"]], ts[T["last_demo"]]
    stage = 0.0
    if first_case == first_case:
        stage = 1.0
        if last_pricing == last_pricing and last_pricing >= first_case:
            stage = 2.0
            if last_demo == last_demo and last_demo >= first_pricing and last_demo >= first_case:
                stage = 3.0
    delivered = misc[M["delivered"]]
    opens = float(state.totals[CH["email_open"]])
    clicks = float(state.totals[CH["email_click"]])
    signup = ts[T["signup"]]
    out += [
        _days(at, last_pricing),
        _days(at, ts[T["last_email_click"]]),
        _days(at, ts[T["last_login"]]),
        _days(at, last_demo),
        _days(at, ts[T["last"]]),
        _days(at, ts[T["first"]]),
        eng_now,
        eng_prior,
        (eng_now + 1.0) / (eng_prior / 3.0 + 1.0),
        (int_now + 1.0) / (int_prior / 3.0 + 1.0),
        stage,
        _gap(ts[T["first"]], ts[T["first_demo"]]),
        _gap(signup, ts[T["first_integration"]]),
        _gap(signup, first_pricing),
        _days(at, signup),
        _days(at, ts[T["trial_started"]]),
        delivered,
        _rate(opens, delivered),
        _rate(clicks, delivered),
        _rate(clicks, opens),
        misc[M["bounce_hard"]],
        misc[M["unsubscribed"]],
        float(len(state.features)),
        float(len(state.integrations)),
        misc[M["teammates"]],
        misc[M["tickets"]],
        _rate(misc[M["session_seconds"]] / 60.0, misc[M["sessions_ended"]]),
        _days(at, ts[T["lost"]]),
        _rate(float(state.totals[CH["pricing_view"]]), float(state.totals[CH["page_view"]])),
        _rate(float(state.totals[CH["page_view"]]), float(state.totals[CH["session"]])),
        _per_week(sum(state.totals[i] for i in ENGAGED), at, ts[T["first"]]),
    ]
    prof = state.profile

    def pv(k: str) -> Any:
        x = prof.get(k)
        return None if x is None else x[0]

    emp = pv("employee_count")
    fdate = pv("funding_date")
    out += [
        math.nan if emp is None else float(emp),
        _code(pv("revenue_band"), REVENUE_BANDS, 1, other=False),
        _code(pv("seniority"), SENIORITY, 1, other=False),
        _code(pv("department"), DEPARTMENTS, 0, other=False),
        _code(pv("industry"), cfg.industries),
        _code(pv("country"), cfg.countries),
        _code(pv("funding_round"), FUNDING_ROUNDS, 1),
        # funding_date is stored as a proleptic ordinal day; 719163 = ordinal of 1970-01-01.
        math.nan if fdate is None else max(0.0, at / DAY - (float(fdate) - 719163)),
    ]
    return np.asarray(out, dtype=np.float64)


DEFAULT_FEATURE_CONFIG = FeatureConfig()


def describe(spec: FeatureSpec, value: float) -> str:
    """The sentence for one feature value ("Visited the pricing page 3 times in 7 days")."""
    if value != value:
        return spec.missing or f"{spec.name} unknown"
    label = ""
    if spec.categories:
        i = int(value)
        label = spec.categories[i] if 0 <= i < len(spec.categories) else "other"
        label = label.replace("_", " ")
    try:
        return spec.template.format(value=value, label=label)
    except (ValueError, KeyError, IndexError):
        return f"{spec.name} = {value:g}"


def manifest(config: FeatureConfig) -> dict[str, Any]:
    """JSON-able manifest: feature names in order, sentence templates, categorical columns."""
    return {
        "config": config.to_dict(),
        "features": [
            {"name": s.name, "template": s.template, "missing": s.missing,
             "categories": list(s.categories)}
            for s in config.specs
        ],
        "categorical": [n for n in CATEGORICAL if n in config.names],
    }
