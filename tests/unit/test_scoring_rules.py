"""Significance selectors and the percentile method."""

from __future__ import annotations

import pytest

from schemas import parse_event
from streams.core.percentile import ScoreHistogram
from streams.core.significance import DEFAULT_RULE, parse_rule


def _event(etype: str, **props):
    import orjson

    raw = orjson.dumps({
        "event_id": f"e-{etype}", "type": etype, "occurred_at": "2026-11-20T10:00:00Z",
        "lead_id": "lead-1", "source": "test", "schema_version": 2, "properties": props,
    })
    ev = parse_event(raw, max_age=None)
    assert not hasattr(ev, "reason_code"), ev
    return ev


@pytest.mark.parametrize("etype, props, significant", [
    ("page_view", {"url": "https://x.io/pricing", "path": "/pricing", "page_category": "pricing"},
     True),
    ("page_view", {"url": "https://x.io/jobs", "path": "/jobs", "page_category": "careers"},
     False),
    ("demo_request", {}, True),
    ("email_open", {"campaign_id": "c", "message_id": "m"}, False),
    ("email_click", {"campaign_id": "c", "message_id": "m", "url": "https://x.io",
                     "topic": "pricing"}, True),
    ("login", {}, False),
    ("integration_connected", {"integration": "slack"}, True),
])
def test_default_rule(etype, props, significant):
    assert DEFAULT_RULE(_event(etype, **props)) is significant


def test_rule_is_configurable_and_rejects_unknown_types():
    rule = parse_rule(["login", "page_view:careers"])
    assert rule(_event("login"))
    assert rule(_event("page_view", url="https://x.io/j", path="/j", page_category="careers"))
    assert not rule(_event("demo_request"))
    with pytest.raises(ValueError, match="unknown event type 'pricing_visit'"):
        parse_rule(["pricing_visit"])
    with pytest.raises(ValueError, match="only page_view"):
        parse_rule(["login:pricing"])


def test_percentile_is_mid_rank_and_follows_moves():
    h = ScoreHistogram()
    for s in (10, 20, 30, 40):
        h.move(None, s)
    assert h.percentile(10) == 12.5  # (0 + 0.5) / 4
    assert h.percentile(40) == 87.5
    h.move(10, 50)  # the lowest lead heats up
    assert h.percentile(50) == 87.5
    assert h.percentile(20) == 12.5
    assert ScoreHistogram().percentile(70) == 50.0


def test_percentile_stays_in_range_when_leads_arrive_with_scores_never_counted():
    """After a restart, recovered leads carry an old score this worker never counted."""
    h = ScoreHistogram()
    h.move(40, 42)  # a recovered lead: 40 was never counted here
    h.move(90, 10)
    assert all(c >= 0 for c in h.counts)
    assert 0.0 <= h.percentile(10) <= 100.0 and 0.0 <= h.percentile(42) <= 100.0
