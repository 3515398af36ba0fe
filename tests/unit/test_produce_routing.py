"""Routing of an event file: category -> topic, lead id (or anonymous id) -> key."""

from __future__ import annotations

from pathlib import Path

import orjson

from schemas import EVENT_TYPES
from streams.commands.produce import TimeOrder, route_lines
from streams.settings import Settings

EXAMPLES = Path(__file__).resolve().parents[2] / "schemas" / "examples"


def _line(name: str, **override) -> bytes:
    doc = orjson.loads((EXAMPLES / f"{name}.json").read_bytes())
    doc.update(override)
    return orjson.dumps(doc) + b"\n"


def test_every_example_event_goes_to_its_category_topic_keyed_by_lead():
    s = Settings()
    topics = {"website": s.topic_website, "email": s.topic_email, "product": s.topic_product,
              "profile": s.topic_profile, "outcome": s.topic_outcomes}
    for etype, category in EVENT_TYPES.items():
        [r] = list(route_lines(iter([_line(etype)]), s, "bad"))
        assert r.valid and r.topic == topics[category], etype
        doc = orjson.loads(r.value)
        if etype == "identify":
            expected = doc["anonymous_id"]
        else:
            expected = doc.get("lead_id") or doc["anonymous_id"]
        assert r.key == expected.encode(), etype


def test_anonymous_web_event_is_keyed_by_anonymous_id():
    [r] = list(route_lines(iter([_line("page_view", lead_id=None, anonymous_id="anon-7")]),
                           Settings(), "bad"))
    assert r.valid and r.key == b"anon-7"


def test_invalid_lines_are_kept_byte_for_byte_and_blank_lines_skipped():
    lines = [b"not json\n", b"\n", b'{"type": "page_view"}\r\n']
    routed = list(route_lines(iter(lines), Settings(), "malformed.topic"))
    assert [(r.topic, r.key, r.value, r.valid) for r in routed] == [
        ("malformed.topic", None, b"not json", False),
        ("malformed.topic", None, b'{"type": "page_view"}', False),
    ]


def test_routed_events_carry_their_time_and_a_topic_going_back_48_h_is_counted():
    [r] = list(route_lines(iter([_line("page_view", occurred_at="2026-03-01T00:00:00Z")]),
                           Settings(), "bad"))
    assert r.at == 1772323200.0
    order = TimeOrder()
    hour = 3600.0
    for topic, at in [("web", 100 * hour), ("mail", 0.0), ("web", 60 * hour),  # 40 h back: ok
                      ("web", 51 * hour), ("mail", 10 * hour), ("web", 200 * hour),
                      ("web", 100 * hour), ("mail", None)]:
        order.see(topic, at)
    assert order.behind == 2  # web at 51 h (49 h behind 100 h) and at 100 h (behind 200 h)
    assert order.warning() is not None and "2 events" in order.warning()
    assert TimeOrder().warning() is None
