"""Lead state: deterministic, idempotent per event_id, order tolerant, bounded, mergeable."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace as NS

import numpy as np

from models.features import DEFAULT_FEATURE_CONFIG, features, manifest
from models.state import (
    LeadState,
    StateConfig,
    fold,
    merge,
    state_from_bytes,
    state_to_bytes,
)

T0 = datetime(2025, 3, 1, tzinfo=UTC)


def ev(eid: str, typ: str, days: float, lead: str | None = "L1", anon: str | None = None,
       **props: object) -> NS:
    return NS(event_id=eid, type=typ, occurred_at=T0 + timedelta(days=days), lead_id=lead,
              anonymous_id=anon, properties=NS(**props))


def history(n: int = 60, seed: int = 1, span_days: float = 20.0) -> list[NS]:
    rng = random.Random(seed)
    kinds = [
        ("page_view", {"page_category": "pricing"}),
        ("page_view", {"page_category": "case_study"}),
        ("page_view", {"page_category": "blog"}),
        ("email_delivered", {"campaign_id": "c", "message_id": "m"}),
        ("email_open", {"campaign_id": "c", "message_id": "m"}),
        ("email_click", {"campaign_id": "c", "message_id": "m", "url": "u", "topic": "pricing"}),
        ("login", {}),
        ("feature_used", {"feature": "reports"}),
        ("integration_connected", {"integration": "slack"}),
        ("content_download", {"content_type": "whitepaper", "title": "t"}),
        ("demo_request", {}),
        ("signup", {}),
    ]
    out = [ev("p0", "profile_update", 0.0, employee_count=250, industry="software",
              seniority="vp", department="it", funding_round="seed",
              funding_date=date(2024, 12, 1), revenue_band=None, country="DE")]
    for i in range(n):
        typ, props = rng.choice(kinds)
        out.append(ev(f"e{i}", typ, rng.uniform(0, span_days), **props))
    return sorted(out, key=lambda e: e.occurred_at)


def fold_all(events: list[NS], state: LeadState | None = None,
             config: StateConfig | None = None) -> LeadState:
    s = state or LeadState.new(key="L1")
    for e in events:
        s = fold(s, e, config or StateConfig())
    return s


AT = (T0 + timedelta(days=25)).timestamp()


def test_fold_is_deterministic_and_pure() -> None:
    evs = history()
    a, b = fold_all(evs), fold_all(evs)
    assert state_to_bytes(a) == state_to_bytes(b)
    before = state_to_bytes(a)
    fold(a, ev("new", "login", 21))
    assert state_to_bytes(a) == before  # fold did not mutate its input


def test_fold_is_idempotent_per_event_id() -> None:
    evs = history()
    s = fold_all(evs)
    again = fold_all(evs, s)  # every event a second time
    assert np.array_equal(features(s, AT), features(again, AT), equal_nan=True)
    once = fold(s, evs[-1])
    assert np.array_equal(features(s, AT), features(once, AT), equal_nan=True)


def test_order_tolerant_within_lateness() -> None:
    evs = history(span_days=1.5)  # everything within the default 2-day lateness
    shuffled = evs[:]
    random.Random(3).shuffle(shuffled)
    a, b = features(fold_all(evs), AT), features(fold_all(shuffled), AT)
    assert np.allclose(a, b, equal_nan=True, rtol=1e-9, atol=1e-12)


def test_events_later_than_lateness_are_dropped_not_double_counted() -> None:
    s = fold_all([ev("a", "login", 10.0)])
    s2 = fold(s, ev("old", "login", 1.0))  # 9 days late
    assert s2.totals == s.totals


def test_state_size_is_bounded() -> None:
    s = LeadState.new(key="L1")
    for i in range(10_000):
        s = fold(s, ev(f"x{i}", "page_view", i * 0.01, page_category="pricing"))
    raw = state_to_bytes(s)
    assert len(raw) < 16_000
    assert len(s.buckets) <= 36
    assert s.totals[1] == 10_000
    assert state_from_bytes(raw) == s


def test_bytes_round_trip() -> None:
    s = fold_all(history())
    s2 = state_from_bytes(state_to_bytes(s))
    assert s2 == s
    assert np.array_equal(features(s, AT), features(s2, AT), equal_nan=True)


def test_merge_is_idempotent_and_adds_anonymous_activity() -> None:
    lead = fold_all(history())
    anon = LeadState.new(key="anon-1")
    for i in range(3):
        anon = fold(anon, ev(f"a{i}", "page_view", 2.0 + i, lead=None, anon="anon-1",
                             page_category="pricing"))
    m1 = merge(lead, anon)
    m2 = merge(m1, anon)
    assert m1 == m2
    assert m1.totals[1] == lead.totals[1] + 3
    assert state_to_bytes(lead) == state_to_bytes(fold_all(history()))  # inputs untouched


def test_features_match_manifest_and_every_feature_has_a_reason() -> None:
    cfg = DEFAULT_FEATURE_CONFIG
    x = features(fold_all(history()), AT)
    man = manifest(cfg)
    assert len(x) == len(man["features"]) == len(cfg.names)
    assert len(set(cfg.names)) == len(cfg.names)
    reason = {f["name"]: f["reason"] for f in man["features"]}
    assert reason["pricing_view_7d"] == reason["decayed_intent_h7d"] == "intent"
    assert reason["days_since_last_login"] == "product"
