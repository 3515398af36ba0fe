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

@dataclass(frozen=True)
class FeatureSpec:
    """One model input. What a rep reads is not per feature: models/reasons.py groups the
    features into reasons and writes their sentences from the lead's facts."""

    name: str
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


def _build_specs(cfg: FeatureConfig) -> list[FeatureSpec]:
    sp = [FeatureSpec(f"{c}_{w}d") for w in cfg.windows_days for c in CHANNELS]
    sp += [FeatureSpec(f"{c}_total") for c in CHANNELS]
    sp += [FeatureSpec(f"decayed_{g}_h{h:g}d") for g, _ in DECAY_GROUPS
           for h in cfg.half_lives_days]
    sp += [FeatureSpec(n) for n in (
        "days_since_last_pricing", "days_since_last_email_click", "days_since_last_login",
        "days_since_last_demo_request", "days_since_last_activity", "days_since_first_touch",
        "activity_this_week", "activity_prior_3_weeks", "velocity", "intent_velocity",
        "sequence_stage", "days_first_touch_to_demo", "days_signup_to_first_integration",
        "days_signup_to_first_pricing", "days_since_signup", "days_since_trial_started",
        "emails_delivered", "email_open_rate", "email_click_rate", "email_click_to_open",
        "email_hard_bounces", "email_unsubscribed", "distinct_features",
        "distinct_integrations", "teammates_invited", "support_tickets",
        "avg_session_minutes", "days_since_lost", "pricing_share", "pages_per_session",
        "engaged_per_week", "employee_count")]
    sp += [
        FeatureSpec("revenue_band", ("?",) + REVENUE_BANDS),
        FeatureSpec("seniority", ("?",) + SENIORITY),
        FeatureSpec("department", DEPARTMENTS),
        FeatureSpec("industry", cfg.industries + ("other",)),
        FeatureSpec("country", cfg.countries + ("other",)),
        FeatureSpec("funding_round", ("?",) + FUNDING_ROUNDS + ("other",)),
        FeatureSpec("days_since_funding"),
    ]
    return sp


# Which reason (models/reasons.py: what a rep reads) each feature belongs to: the features
# that say the same thing about a lead share one, whatever their window or form.

CHANNEL_REASON = {
    "pricing_view": "intent", "competitor_view": "intent", "demo_request": "intent",
    "page_view": "website", "session": "website", "site_search": "website",
    "form_submit": "website",
    "case_study": "content", "docs_view": "content", "content_download": "content",
    "whitepaper_download": "content",
    "email_open": "email", "email_click": "email", "email_reply": "email",
    "login": "product", "feature_used": "product", "product_other": "product",
}
DECAY_REASON = {"web": "website", "intent": "intent", "email": "email", "product": "product"}
OTHER_REASON = {
    "days_since_last_pricing": "intent", "days_since_last_demo_request": "intent",
    "intent_velocity": "intent", "sequence_stage": "intent",
    "days_first_touch_to_demo": "intent", "days_signup_to_first_pricing": "intent",
    "pricing_share": "intent",
    "avg_session_minutes": "website", "pages_per_session": "website",
    "days_since_last_email_click": "email", "emails_delivered": "email",
    "email_open_rate": "email", "email_click_rate": "email", "email_click_to_open": "email",
    "email_hard_bounces": "email", "email_unsubscribed": "email",
    "days_since_last_login": "product", "distinct_features": "product",
    "distinct_integrations": "product", "teammates_invited": "product",
    "support_tickets": "product", "days_signup_to_first_integration": "product",
    "days_since_signup": "trial", "days_since_trial_started": "trial",
    "days_since_last_activity": "activity", "activity_this_week": "activity",
    "activity_prior_3_weeks": "activity", "velocity": "activity",
    "engaged_per_week": "activity",
    "days_since_first_touch": "lead_age",
    "days_since_lost": "lost_deal",
    "employee_count": "company_size", "revenue_band": "company_size",
    "seniority": "role", "department": "role",
    "industry": "industry", "country": "country",
    "funding_round": "funding", "days_since_funding": "funding",
}


def reason_of(feature: str) -> str:
    """The reason a feature belongs to (KeyError for a feature no reason claims)."""
    if feature in OTHER_REASON:
        return OTHER_REASON[feature]
    if feature.startswith("decayed_"):
        return DECAY_REASON[feature.split("_")[1]]
    channel = feature.rsplit("_", 1)[0]
    if channel in CHANNEL_REASON:
        return CHANNEL_REASON[channel]
    raise KeyError(f"feature {feature!r} belongs to no reason (models/reasons.py)")


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


def manifest(config: FeatureConfig) -> dict[str, Any]:
    """JSON-able manifest: feature names in order, the reason each belongs to (what a rep
    reads, models/reasons.py), category labels, categorical columns."""
    return {
        "config": config.to_dict(),
        "features": [
            {"name": s.name, "reason": reason_of(s.name), "categories": list(s.categories)}
            for s in config.specs
        ],
        "categorical": [n for n in CATEGORICAL if n in config.names],
    }
